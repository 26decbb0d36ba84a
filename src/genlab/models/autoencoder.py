"""The plain autoencoder: x -> code -> reconstruction, trained to reconstruct."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.errors import GenlabError
from genlab.models.base import register_model
from genlab.models.latent import LatentModel, table_layout
from genlab.models.likelihoods import BernoulliLikelihood, SquaredError, TabularLikelihood
from genlab.models.nets import NetworkConfig, decoder_network, encoder_network, trimmed_mean

CODE_STATS_MOMENTUM = 0.01


@dataclass
class AutoencoderConfig(NetworkConfig):
    # bce: Bernoulli cross-entropy, for data in [0, 1]; mse: squared error; auto picks bce for [0, 1] data
    reconstruction_loss: Literal["auto", "bce", "mse"] = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reconstruction_loss == "auto":
            self.reconstruction_loss = "bce" if self.value_range == "unit" else "mse"
        if self.reconstruction_loss == "bce" and self.value_range != "unit":
            raise GenlabError("reconstruction_loss bce needs data in [0, 1]; use mse or data.normalize=unit")


@register_model("ae")
class Autoencoder(LatentModel):
    """Encoder and decoder trained to reconstruct their input.

    Losses are summed over features and averaged over the batch. The autoencoder keeps a
    running mean and variance of its codes, so that sample() can decode draws from a
    Gaussian fitted to where the codes actually lie (an ex-post density, as in RAE).
    """

    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig):
        super().__init__(config)
        self.encoder = encoder_network(config, config.latent_dim)
        self.decoder = decoder_network(config, config.latent_dim)
        if config.table:  # one head per column type; numbers by squared error (sigma fixed at 1)
            self.criterion = TabularLikelihood(table_layout(config), learned=False)
        elif config.reconstruction_loss == "bce":
            self.criterion = BernoulliLikelihood()
        else:
            self.criterion = SquaredError(config.value_range, clip=config.arch == "linear")
        self.code_activation: nn.Module = nn.Identity()
        self.register_buffer("code_mean", torch.zeros(config.latent_dim))
        self.register_buffer("code_var", torch.ones(config.latent_dim))
        self.register_buffer("code_updates", torch.zeros((), dtype=torch.long))

    def encode(self, x, labels=None):
        self.sample_labels(len(x), labels=labels)  # refuses labels: the autoencoders are unconditional
        return self.code_activation(self.encoder(x)).float()

    def decode(self, z, labels=None):
        self.sample_labels(len(z), labels=labels)
        return self.criterion.mean(self.decoder(z))

    def decoder_output(self, z, labels=None):
        return self.decoder(z)

    @property
    def observation(self):
        return self.criterion

    def prior_sample(self, count, generator=None):
        noise = self.standard_normal(count, generator).to(self.code_mean.device)
        return self.code_mean + noise * self.code_var.sqrt()

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's training input (the denoising autoencoder adds noise here)."""
        return x

    def code_penalty(self, code: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra loss terms on the codes (the sparse autoencoder's penalty)."""
        return {}

    def forward(self, x, y=None, *, group="model", step=0):
        code = self.code_activation(self.encoder(self.corrupt(x)))  # (B, latent_dim)
        reconstruction = trimmed_mean(self.criterion.nll(self.decoder(code), x), self.config.trim_fraction)
        if self.training:
            self._track_codes(code.detach().float())
        penalties = self.code_penalty(code.float())
        loss = reconstruction + sum(penalties.values())
        return {"loss": loss, "reconstruction": reconstruction.detach(), **{k: v.detach() for k, v in penalties.items()}}

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        metrics = self(x, y)
        metrics["mse"] = (self.reconstruct(x) - x).square().mean()
        return metrics

    @torch.no_grad()
    def initialise_from_data(self, x: torch.Tensor) -> None:
        """Start a linear, squared-error autoencoder at the principal components of `x` (model inputs).

        PCA is the best linear autoencoder under squared error, and gradient descent reaches
        its smaller components only slowly; training goes on from there. The code variances
        start at the components' variances, so sample() works from the first step.
        """
        if self.config.arch != "linear" or self.config.reconstruction_loss != "mse" or self.config.networks:
            return
        if not isinstance(self.code_activation, nn.Identity):
            return  # a code nonlinearity (the sparse autoencoder's) has no closed-form optimum
        flat = x.flatten(1).double()
        if self.config.latent_dim > min(flat.shape):
            raise GenlabError(f"a linear autoencoder with latent_dim {self.config.latent_dim} needs at least that many "
                              f"features and training samples (got {flat.shape[1]} and {flat.shape[0]})")
        mean = flat.mean(0)
        _, singular, directions = torch.linalg.svd(flat - mean, full_matrices=False)
        components = directions[: self.config.latent_dim]  # (latent_dim, features), orthonormal rows
        encoder, decoder = self.encoder[-1][-1], self.decoder[0][-1]
        encoder.weight.copy_(components)
        encoder.bias.copy_(-components @ mean)
        decoder.weight.copy_(components.T)
        decoder.bias.copy_(mean)
        self.code_mean.zero_()
        self.code_var.copy_(singular[: self.config.latent_dim].square() / max(len(flat) - 1, 1))

    @torch.no_grad()
    def _track_codes(self, code: torch.Tensor) -> None:
        # a plain average over the first batches, then an exponential one that follows the codes as they move
        self.code_updates += 1
        weight = torch.clamp(1.0 / self.code_updates.float(), min=CODE_STATS_MOMENTUM)
        self.code_mean.lerp_(code.mean(0), weight)
        self.code_var.lerp_(code.var(0, unbiased=False), weight)
