"""Models with a code space: encode, decode, reconstruct and sample."""

from __future__ import annotations

import torch

from genlab.data.tables import TableEncoding
from genlab.models.base import GenerativeModel


def table_layout(config) -> dict:
    """The decoder heads of a model trained on a mixed-type table."""
    return TableEncoding.from_dict(config.table).layout()


def to_unit_range(x: torch.Tensor, value_range: str) -> torch.Tensor:
    """Model-space images -> [0, 1] for display."""
    if value_range == "symmetric":
        x = (x + 1) / 2
    return x.clamp(0, 1)


class LatentModel(GenerativeModel):
    """Shared interface of the autoencoder family.

    encode(x) -> codes (B, latent_dim); decode(z) -> data-space means (B, *data_shape).
    Both are differentiable; sample() and reconstruct() are inference conveniences.
    Conditional models (cvae) take class labels (B,) in each; the others refuse them.
    """

    has_codes = True
    generates = True

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def prior_sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes to decode into new samples (B, latent_dim)."""
        raise NotImplementedError

    def decoder_output(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's raw output for codes z, before the observation model's mean."""
        raise NotImplementedError

    @property
    def observation(self):
        """The observation model (genlab.models.likelihoods) that scores the decoder's output."""
        raise NotImplementedError

    @torch.no_grad()
    def reconstruction_terms(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """How badly each part of x is reconstructed from its code, (B, parts), deterministic.

        For a table, each column's negative log-likelihood (nats) under the decoder's output
        for the code of x with its numbers clipped to their training range; otherwise each
        feature's squared error in model units.
        """
        if self.config.table:
            z = self.encode(self.observation.clip(x), labels)
            return self.observation.terms(self.decoder_output(z, labels), x)
        return (self.reconstruct(x, labels).float() - x.float()).square().flatten(1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, labels), labels)

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None, labels=None) -> torch.Tensor:
        """`count` new samples in data space, (count, *data_shape); `labels` picks classes (cvae)."""
        count = self.check_sample_count(count)
        labels = self.sample_labels(count, generator, labels)
        return self.decode(self.prior_sample(count, generator).to(self.device), labels)

    def standard_normal(self, count: int, generator: torch.Generator | None) -> torch.Tensor:
        device = generator.device if generator is not None else self.device
        return torch.randn(count, self.config.latent_dim, generator=generator, device=device)

    @torch.no_grad()
    def preview(self, x, y, count, generator=None):
        if not self.config.is_image or self.config.value_range == "real":
            return {}
        shown = min(len(x), max(count // 2, 1))
        originals = x[:shown]
        labels = y[:shown] if self.conditional else None
        reconstructions = self.reconstruct(originals, labels)
        columns = min(8, shown)
        rows = [t for r in range(0, shown, columns) for t in (originals[r : r + columns], reconstructions[r : r + columns])]
        value_range = self.config.value_range
        sample_labels = torch.arange(count, device=self.device) % self.config.num_classes if self.conditional else None
        return {
            "samples": to_unit_range(self.sample(count, generator, sample_labels).float(), value_range),
            "reconstructions": to_unit_range(torch.cat(rows).float(), value_range),
        }
