"""The sparse autoencoder: reconstruct while keeping most code units inactive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.errors import GenlabError
from genlab.models.autoencoder import Autoencoder, AutoencoderConfig
from genlab.models.base import register_model


@dataclass
class SparseConfig(AutoencoderConfig):
    latent_dim: int = 64
    # l1: ReLU codes with an L1 activity penalty; kl: sigmoid codes whose mean activation
    # per unit is pulled towards target_activation by KL(rho || rho_hat)
    sparsity: Literal["l1", "kl"] = "kl"
    sparsity_weight: float = 1.0
    target_activation: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.target_activation < 1.0:
            raise GenlabError(f"model.target_activation must be in (0, 1) (got {self.target_activation})")
        if self.sparsity_weight < 0:
            raise GenlabError(f"model.sparsity_weight must be >= 0 (got {self.sparsity_weight})")


def kl_sparsity(code: torch.Tensor, rho: float) -> torch.Tensor:
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat_j the batch-mean activation of unit j."""
    rho_hat = code.mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


@register_model("sparse-ae")
class SparseAutoencoder(Autoencoder):
    """Autoencoder whose code units are pushed to be mostly inactive (L1 or KL penalty)."""

    config_class = SparseConfig

    def __init__(self, config: SparseConfig):
        super().__init__(config)
        self.code_activation = nn.Sigmoid() if config.sparsity == "kl" else nn.ReLU()

    def code_penalty(self, code):
        if self.config.sparsity == "kl":
            penalty = kl_sparsity(code, self.config.target_activation)
        else:
            penalty = code.abs().sum(1).mean()
        return {"sparsity": self.config.sparsity_weight * penalty}

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        metrics = super().validation_metrics(x, y)
        code = self.encode(x)
        metrics["mean_activation"] = code.mean()
        metrics["active_fraction"] = (code > 0.1).float().mean()  # share of units clearly on
        return metrics
