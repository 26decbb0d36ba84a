"""The supervised autoencoder: one encoder feeding a decoder and a classifier, trained jointly.

The reconstruction term keeps the code informative about the whole input, the
classification term makes it separate the classes; the pair regularise each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genlab.errors import GenlabError
from genlab.models.autoencoder import Autoencoder, AutoencoderConfig
from genlab.models.base import register_model
from genlab.models.nets import mlp


@dataclass
class SupervisedConfig(AutoencoderConfig):
    classification_weight: float = 100.0  # against a reconstruction loss summed over all features
    classifier_hidden: list[int] | None = None  # hidden widths of the head; none: a linear head

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.classification_weight < 0:
            raise GenlabError(f"model.classification_weight must be >= 0 (got {self.classification_weight})")


@register_model("supervised-ae")
class SupervisedAutoencoder(Autoencoder):
    """Autoencoder with a classification head on its code, trained on reconstruction and labels."""

    predicts = True

    config_class = SupervisedConfig
    requires_labels = True

    def __init__(self, config: SupervisedConfig):
        super().__init__(config)
        self.classifier = mlp([config.latent_dim, *(config.classifier_hidden or []), config.num_classes], config.activation)

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encode(x)).float()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Most likely class per sample, (B,) int64."""
        return self.class_logits(x).argmax(1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return self.class_logits(x).softmax(1)

    def forward(self, x, y=None, *, group="model", step=0):
        if y is None:
            raise GenlabError("supervised-ae needs labels for every training batch")
        code = self.encoder(x)
        reconstruction = self.criterion.nll(self.decoder(code), x).mean()
        classification = F.cross_entropy(self.classifier(code).float(), y)
        if self.training:
            self._track_codes(code.detach().float())
        loss = reconstruction + self.config.classification_weight * classification
        return {"loss": loss, "reconstruction": reconstruction.detach(), "classification": classification.detach()}

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        metrics = super().validation_metrics(x, y)
        metrics["accuracy"] = (self.predict(x) == y).float().mean()
        return metrics



