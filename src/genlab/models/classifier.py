"""The CNN classifier: the first model people train on MNIST, and genlab's feature extractor.

Two networks for images:
- `classic`: the small CNN of the Keras and PyTorch tutorials, conv-pool-conv-pool-conv-dense
  (32, 64, 64 filters of 3x3, a 64-unit dense layer);
- `small` (the default): three blocks of two 3x3 conv + batch-norm + ReLU layers and a
  2x2 max-pool, global average pooling, dropout, a linear layer; with random shifts (and
  optional flips) as augmentation it reaches 99.5% on MNIST and 93% on Fashion-MNIST in a
  few minutes of CPU time.
Vectors get an MLP. `features(x)` is the penultimate layer, used by the sample-quality metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import GenlabError
from genlab.models.augment import random_shift
from genlab.models.base import GenerativeModel, ModelConfig, register_model
from genlab.models.nets import init_for_activation


@dataclass
class ClassifierConfig(ModelConfig):
    arch: Literal["auto", "small", "classic", "mlp"] = "auto"  # auto: small for images, mlp for vectors
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # small: one entry per block
    hidden: list[int] = field(default_factory=lambda: [256])  # mlp widths
    dropout: float = 0.3
    augment: Literal["none", "shift", "shift_flip"] = "shift"  # random translations (and left-right flips)
    max_shift: int | None = None  # pixels; default about 1/12 of the image side (2 for 28x28, none for 8x8)
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch == "auto":
            self.arch = "small" if self.is_image else "mlp"
        if self.max_shift is None:
            self.max_shift = min(self.data_shape[1:]) // 12 if self.is_image else 0
        if self.arch != "mlp" and not self.is_image:
            raise GenlabError(f"arch {self.arch} needs images; this data is vectors: use arch=mlp")
        if self.arch == "classic" and min(self.data_shape[1:]) < 12:
            raise GenlabError(f"arch classic needs images of at least 12x12 (got {self.data_shape[1]}x{self.data_shape[2]})")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.label_smoothing < 1.0:
            raise GenlabError("model.dropout and model.label_smoothing must be in [0, 1)")


def conv_block(n_in: int, n_out: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width_in in (n_in, n_out):
        conv = init_for_activation(nn.Conv2d(width_in, n_out, 3, padding=1, bias=False), "relu")
        layers += [conv, nn.BatchNorm2d(n_out), nn.ReLU()]
    return layers + [nn.MaxPool2d(2)]


def small_cnn(channels_in: int, channels: list[int], dropout: float) -> tuple[nn.Module, int]:
    widths = [channels_in, *channels]
    layers = [layer for n_in, n_out in zip(widths[:-1], widths[1:]) for layer in conv_block(n_in, n_out)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout)), channels[-1]


def classic_cnn(data_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    channels, height, width = data_shape
    h, w = (((height - 2) // 2 - 2) // 2 - 2), (((width - 2) // 2 - 2) // 2 - 2)
    body = nn.Sequential(
        nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(64 * h * w, 64), nn.ReLU(),
    )
    return body, 64


@register_model("classifier")
class Classifier(GenerativeModel):
    """CNN (or MLP) classifier with predict(x), predict_proba(x) and features(x)."""

    predicts = True

    config_class = ClassifierConfig
    requires_labels = True
    prefers_bf16 = True  # convolutions run about 2x faster in bf16 on AMX CPUs; accuracy is unaffected

    def __init__(self, config: ClassifierConfig):
        super().__init__(config)
        if config.arch == "small":
            self.body, width = small_cnn(config.data_shape[0], config.channels, config.dropout)
        elif config.arch == "classic":
            self.body, width = classic_cnn(config.data_shape)
        else:
            widths = [math.prod(config.data_shape), *config.hidden]
            hidden = [layer for n_in, n_out in zip(widths[:-1], widths[1:])
                      for layer in (init_for_activation(nn.Linear(n_in, n_out), "relu"), nn.ReLU())]
            self.body = nn.Sequential(nn.Flatten(), *hidden, nn.Dropout(config.dropout))
            width = widths[-1]
        self.head = nn.Linear(width, config.num_classes)
        if config.is_image:
            self.to(memory_format=torch.channels_last)  # oneDNN's fastest layout for convolutions

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, (B, F) float32."""
        if self.config.is_image:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.body(x).float()

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).float()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Most likely class per sample, (B,) int64."""
        return self.class_logits(x).argmax(1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return self.class_logits(x).softmax(1)

    def forward(self, x, y=None, *, group="model", step=0):
        if y is None:
            raise GenlabError("the classifier needs labels for every training batch")
        if self.training and self.config.is_image and self.config.augment != "none" and self.config.max_shift:
            x = random_shift(x, self.config.max_shift, self.config.augment == "shift_flip")
        loss = F.cross_entropy(self.class_logits(x), y, label_smoothing=self.config.label_smoothing)
        return {"loss": loss}

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        logits = self.class_logits(x)
        return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(1) == y).float().mean()}
