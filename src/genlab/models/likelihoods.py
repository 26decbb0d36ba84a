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


class TabularLikelihood(nn.Module):
    """p(record|z) for a mixed-type table: one head per column type (see genlab.data.tables).

    Numbers: Gaussian with one sigma per column (learned, or fixed at 1: then the term is
    half the squared error plus a constant). Booleans and missing indicators: Bernoulli.
    Categories: categorical (softmax cross-entropy over the column's block). A value
    marked missing by its indicator adds no term of its own. `terms` gives each column's
    share of the negative log-likelihood, so scores can be explained column by column.
    """

    def __init__(self, layout: dict, learned: bool = True, sigma: float = 1.0, min_sigma: float = 1e-3):
        super().__init__()
        long = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
        spans = layout["columns"]
        column_of = torch.empty(sum(width for _, width in spans), dtype=torch.long)
        for index, (start, width) in enumerate(spans):
            column_of[start:start + width] = index
        self.columns = len(spans)
        blocks = layout["categorical"]
        widest = max((width for _, width in blocks), default=1)
        block_slots = [[start + min(i, width - 1) for i in range(widest)] for start, width in blocks]
        block_valid = [[i < width for i in range(widest)] for _, width in blocks]
        for name, values in (("gaussian", layout["gaussian"]), ("gaussian_mask", layout["gaussian_mask"]),
                             ("bernoulli", layout["bernoulli"] + layout["indicators"]),
                             ("bernoulli_mask", layout["bernoulli_mask"] + [-1] * len(layout["indicators"]))):
            self.register_buffer(name, long(values), persistent=False)
        self.register_buffer("block_slots", long(block_slots).reshape(len(blocks), widest), persistent=False)
        self.register_buffer("block_valid", torch.tensor(block_valid, dtype=torch.bool).reshape(len(blocks), widest),
                             persistent=False)
        self.register_buffer("column_of", column_of, persistent=False)
        # the last slot of each block stands for "a category training never had": its logit is offset by the
        # log-odds of meeting one (about 1 in the training rows), so it is unlikely from the first step on
        unseen = [[i == width - 1 for i in range(widest)] for _, width in blocks]
        offset = torch.tensor(unseen, dtype=torch.float32).reshape(len(blocks), widest) * layout.get("unseen_log_odds", 0.0)
        self.register_buffer("unseen_offset", offset, persistent=False)
        as_bounds = lambda values: torch.tensor(values, dtype=torch.float32).clamp(-1e30, 1e30)  # noqa: E731
        self.register_buffer("gaussian_low", as_bounds(layout.get("gaussian_low", [])), persistent=False)
        self.register_buffer("gaussian_high", as_bounds(layout.get("gaussian_high", [])), persistent=False)
        self.min_log_sigma = math.log(min_sigma)
        log_sigma = torch.full((len(layout["gaussian"]),), math.log(sigma))
        if learned:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def terms(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each column's negative log-likelihood, (B, columns), in nats."""
        output, x = output.float(), x.float()
        out = torch.zeros(len(x), self.columns, device=x.device)
        if len(self.gaussian):
            log_sigma = self.log_sigma.clamp(min=self.min_log_sigma)
            z = (x[:, self.gaussian] - output[:, self.gaussian]) * torch.exp(-log_sigma)
            term = (0.5 * z.square() + log_sigma + 0.5 * LOG_2PI) * self._observed(x, self.gaussian_mask)
            out.index_add_(1, self.column_of[self.gaussian], term)
        if len(self.bernoulli):
            term = F.binary_cross_entropy_with_logits(output[:, self.bernoulli], x[:, self.bernoulli], reduction="none")
            out.index_add_(1, self.column_of[self.bernoulli], term * self._observed(x, self.bernoulli_mask))
        if len(self.block_slots):
            logits = self._block_logits(output)  # (B, K, W)
            chosen = (x[:, self.block_slots] * self.block_valid).argmax(-1, keepdim=True)
            term = torch.logsumexp(logits, -1) - logits.gather(-1, chosen).squeeze(-1)
            out.index_add_(1, self.column_of[self.block_slots[:, 0]], term)
        return out

    def nll(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # (B,)
        return self.terms(output, x).sum(1)

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """Numbers clipped to their training range: what the encoder sees when scoring, so that one wild
        field does not derail the code (and the blame for it fall on other columns)."""
        if not len(self.gaussian) or len(self.gaussian_low) != len(self.gaussian):
            return x
        x = x.clone()
        x[:, self.gaussian] = torch.maximum(torch.minimum(x[:, self.gaussian], self.gaussian_high), self.gaussian_low)
        return x

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        """Numbers as they are, probabilities for booleans, indicators and each category."""
        mean = output.float().clone()
        if len(self.bernoulli):
            mean[:, self.bernoulli] = torch.sigmoid(mean[:, self.bernoulli])
        if len(self.block_slots):
            logits = self._block_logits(output.float())
            probabilities = torch.softmax(logits, -1)
            mean[:, self.block_slots[self.block_valid]] = probabilities[:, self.block_valid]
        return mean

    def _block_logits(self, output: torch.Tensor) -> torch.Tensor:
        """Each categorical block's logits, (B, blocks, widest), padding at -inf."""
        logits = output[:, self.block_slots] + self.unseen_offset
        return logits.masked_fill(~self.block_valid, float("-inf"))

    @staticmethod
    def _observed(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """1 where a value was present, 0 where its missing indicator is on (slots without one: always 1)."""
        flags = x[:, mask.clamp(min=0)]
        return torch.where(mask >= 0, 1.0 - flags, torch.ones_like(flags))
