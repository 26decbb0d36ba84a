"""Observation models: how a decoder's output scores a sample.

Each turns the decoder's raw output into a per-sample negative log-likelihood (nats,
summed over features) and into a data-space mean. Scores are computed in float32
even when the networks ran under bf16 autocast: the sums over hundreds of features
are where low precision would show.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)


RANGES = {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0)}


def squash(output: torch.Tensor, value_range: str) -> torch.Tensor:
    """Map an unbounded output to the data's range."""
    if value_range == "unit":
        return torch.sigmoid(output)
    if value_range == "symmetric":
        return torch.tanh(output)
    return output


class BernoulliLikelihood(nn.Module):
    """p(x|z) = prod Bernoulli(x_i; sigmoid(logit_i)), for data in [0, 1]."""

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B,)
        return F.binary_cross_entropy_with_logits(logits.float(), x, reduction="none").flatten(1).sum(1)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float())


class GaussianLikelihood(nn.Module):
    """p(x|z) = prod N(x_i; mean_i, sigma_i^2) with sigma fixed, or learned per feature."""

    def __init__(self, data_shape: tuple[int, ...], value_range: str, learned: bool, sigma: float, min_sigma: float):
        super().__init__()
        self.value_range = value_range
        self.min_log_sigma = math.log(min_sigma)
        log_sigma = torch.full(data_shape, math.log(sigma))
        if learned:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def nll(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B,)
        log_sigma = self.log_sigma.clamp(min=self.min_log_sigma)
        z = (x - self.mean(output)) * torch.exp(-log_sigma)
        return (0.5 * z.square() + log_sigma + 0.5 * LOG_2PI).flatten(1).sum(1)

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        return squash(output.float(), self.value_range)


class SquaredError(nn.Module):
    """Sum of squared errors: the plain autoencoder's "mse" criterion (not a normalised likelihood)."""

    def __init__(self, value_range: str, clip: bool = False):
        super().__init__()
        self.value_range = value_range
        self.clip = clip  # clip to the data's range instead of squashing: keeps a linear decoder linear inside it

    def nll(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B,)
        return (self.mean(output) - x).square().flatten(1).sum(1)

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        if self.clip and self.value_range in RANGES:
            return output.float().clamp(*RANGES[self.value_range])
        return squash(output.float(), self.value_range)
