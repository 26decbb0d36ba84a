"""An ensemble of small autoencoders trained side by side: genlab's default anomaly detector's model.

Each member is an MLP autoencoder d -> hidden -> code -> hidden -> d. The members are one
batched network (weights stacked as (members, in, out), one batched matrix product per layer),
so eight members cost about as much as one wide layer. What makes them a detector rather than
a compressor (chosen on the development half of benchmarks/anomaly_tables.py):

- small and briefly trained: sizes from the data's width (code d/4, at most 32) and a few hundred
  steps, so the members learn the bulk of the data and have no time to learn its rare records;
- each member sees its own random half of every batch (`subsample`), so the members differ;
- robust training: after `trim_start_step`, each member leaves the `trim_fraction` of its rows
  it reconstructs worst out of its loss, so anomalies in the training data are not learnt as normal;
- inputs robustly scaled inside the model: (x - median) / (interquartile range / 1.349) per
  feature from the training data, clipped to +-`clip`, so one extreme value cannot dominate;
  images' pixels share one unit, so they share one centre and scale (their mean and deviation).

Images of at least 16x16 pixels (arch auto, or conv) get convolutional members instead
(genlab.models.ensemble_conv, grouped convolutions): by default three of 32/64 channels, each on
the whole batch and trained for longer (genlab.apps.anomaly_defaults). On square images the
last `members // 2` of them (one of the three) restore turned images (`rotations`): each
training image reaches them turned by a random quarter turn and their target is the upright
image, so they learn which way up the normal images belong; the others see them upright. Chosen on a development
split of the MNIST and Fashion-MNIST training files (benchmarks/anomaly_image_weight.py).

Reconstructions and codes are in those scaled units; `reconstruct(x)` maps the members' mean
back to model inputs. The anomaly score built on top (residuals per feature and distances between
codes) is genlab.apps.anomaly_ensemble's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genlab.errors import GenlabError
from genlab.models.base import GenerativeModel, ModelConfig, register_model
from genlab.models.ensemble_conv import ConvMembers, fits_conv
from genlab.models.nets import MAX_WIDTH

MAX_MEMBERS = 256
MLP_MEMBERS, CONV_MEMBERS = 8, 3  # the default counts: conv members are wider and trained longer (see the docstring)


def data_width(data_shape) -> int:
    return int(math.prod(data_shape))


def code_size(width: int) -> int:
    """The code width sized from the data: a quarter of its features, between 2 and 32 (and below the width)."""
    return max(1, min(32, max(2, width // 4), width - 1)) if width > 1 else 1


def hidden_size(width: int) -> int:
    return min(256, max(8, 2 * width))


@dataclass
class EnsembleConfig(ModelConfig):
    members: int = 0  # 0: 8 MLP members or 2 convolutional ones
    latent_dim: int = 0  # each member's code width; 0: from the data (code_size)
    hidden: int = 0  # each MLP member's hidden width; 0: from the data (hidden_size); conv members: 0
    subsample: float = 0.0  # the share of each batch every member trains on (its own draw); 0: half (mlp), all (conv)
    trim_fraction: float = 0.1  # each member's worst-reconstructed share of its rows left out of the loss
    trim_start_step: int = 0  # the training step from which trimming applies (after a first fit of the bulk)
    clip: float = 10.0  # robustly scaled inputs are clipped to +-clip
    arch: str = "auto"  # mlp or conv members; auto: conv for images of at least 16x16 pixels, mlp otherwise
    channels: tuple[int, int] = (32, 64)  # conv members' channels after their first and second convolution
    rotations: int = 0  # the restoring members learn to undo turns of 360/rotations degrees (1: none); 0: quarter
    # turns (4) for convolutional members on square images, none otherwise

    @property
    def restoring(self) -> int:
        """How many members (the last ones) learn to restore turned images: members // 2 when there are turns."""
        return self.members // 2 if self.rotations > 1 else 0

    def __post_init__(self) -> None:
        super().__post_init__()
        width = data_width(self.data_shape)
        if self.arch == "auto":
            self.arch = "conv" if fits_conv(self.data_shape) else "mlp"
        if self.arch not in ("mlp", "conv"):
            raise GenlabError(f"model.arch must be auto, mlp or conv for an ae-ensemble (got {self.arch!r})")
        conv = self.arch == "conv"
        if conv and not fits_conv(self.data_shape):
            raise GenlabError(f"conv members need images (C, H, W) of at least 16x16 pixels (got data of shape "
                              f"{self.data_shape}); use model.arch mlp")
        if conv and self.hidden:
            raise GenlabError("hidden (model.hidden) sets the width of MLP members, and these images get convolutional "
                              "ones (their widths are model.channels): leave hidden unset, or use arch mlp")
        self.members = self.members or (CONV_MEMBERS if conv else MLP_MEMBERS)
        self.subsample = self.subsample or (1.0 if conv else 0.5)
        self.latent_dim = self.latent_dim or code_size(width)
        self.hidden = self.hidden or (0 if conv else hidden_size(width))
        channels = list(self.channels) if isinstance(self.channels, (list, tuple)) else [self.channels]
        if len(channels) != 2 or not all(isinstance(c, int) and 1 <= c <= 1024 for c in channels):
            raise GenlabError(f"model.channels must be two whole numbers in 1..1024 (got {self.channels!r})")
        self.channels = tuple(channels)
        if self.rotations == 0:
            # spectrograms are not turned: a quarter turn would swap time and frequency
            square = conv and self.data_shape[1] == self.data_shape[2] and not self.audio
            self.rotations = 4 if square and self.members >= 2 else 1
        if self.rotations not in (1, 2, 4):
            raise GenlabError(f"model.rotations must be 1 (no turning), 2 (half turns), 4 (quarter turns) or 0 (auto) "
                              f"(got {self.rotations!r})")
        if self.rotations > 1 and not conv:
            raise GenlabError("model.rotations turns images for convolutional members: use model.arch conv, or "
                              "model.rotations 1")
        if self.rotations > 1 and self.members < 2:
            raise GenlabError("model.rotations needs at least 2 members: one or more learn to restore turned images "
                              "and the rest see them upright")
        if self.rotations == 4 and self.data_shape[1] != self.data_shape[2]:
            raise GenlabError(f"quarter turns (model.rotations 4) need square images (got {self.data_shape[1]}x"
                              f"{self.data_shape[2]}); use model.rotations 2")
        if not 1 <= self.members <= MAX_MEMBERS:
            raise GenlabError(f"model.members must be in 1..{MAX_MEMBERS} (got {self.members})")
        for key in ("latent_dim",) if conv else ("latent_dim", "hidden"):
            if not 1 <= getattr(self, key) <= MAX_WIDTH:
                raise GenlabError(f"model.{key} must be in 1..{MAX_WIDTH:,} or 0 for a width from the data "
                                  f"(got {getattr(self, key)})")
        if not 0.0 < self.subsample <= 1.0:
            raise GenlabError(f"model.subsample must be in (0, 1] (got {self.subsample})")
        if not 0.0 <= self.trim_fraction < 0.5:
            raise GenlabError(f"model.trim_fraction must be in [0, 0.5) (got {self.trim_fraction})")
        if self.trim_start_step < 0 or not self.clip > 0:
            raise GenlabError("model.trim_start_step must be >= 0 and model.clip positive")


@register_model("ae-ensemble")
class AutoencoderEnsemble(GenerativeModel):
    """`members` small autoencoders trained together on robustly scaled inputs; see the module's docstring."""

    config_class = EnsembleConfig

    def __init__(self, config: EnsembleConfig):
        super().__init__(config)
        width, members = data_width(config.data_shape), config.members
        sizes = [width, config.hidden, config.latent_dim, config.hidden, width]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.conv = ConvMembers(members, config.data_shape, config.channels, config.latent_dim) if config.arch == "conv" else None
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]) if self.conv is None else ():
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default range, drawn per member
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound)))
        self.register_buffer("centre", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))

    @property
    def one_unit(self) -> bool:
        """Whether every feature is in one unit, as the pixels of images are: then they are scaled alike, and
        their residuals weighed alike by the score (a background pixel that is 0 in every training image
        would otherwise make any stroke across it extreme)."""
        return len(self.config.data_shape) > 1

    @torch.no_grad()
    def initialise_from_data(self, x: torch.Tensor) -> None:
        """The robust scaling: per-feature median and interquartile range / 1.349 (the standard deviation of
        a normal feature), the standard deviation where the range is 0, and 1 for a constant feature. Images
        (one_unit): the mean and standard deviation over all their pixels, one centre and scale for all."""
        flat = x.flatten(1).float()
        if self.one_unit:
            deviation = float(flat.std(unbiased=False))
            self.centre.fill_(float(flat.mean()))
            self.scale.fill_(deviation if deviation > 1e-8 else 1.0)
            return
        ordered = flat.sort(0).values
        last = len(ordered) - 1
        quartile = [ordered[round(p * last)] for p in (0.25, 0.5, 0.75)]
        spread = (quartile[2] - quartile[0]) / 1.349
        deviation = flat.std(0, unbiased=False) if len(flat) > 1 else torch.ones_like(spread)
        spread = torch.where(spread > 1e-8, spread, torch.where(deviation > 1e-8, deviation, torch.ones_like(spread)))
        self.centre.copy_(quartile[1])
        self.scale.copy_(spread)

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Model inputs (B, ...) -> robustly scaled features (B, D)."""
        return ((x.flatten(1).float() - self.centre) / self.scale).clamp(-self.config.clip, self.config.clip)

    def members_forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled features, (B, D) for all members or (M, B, D) one batch each -> every member's codes
        (M, B, code) and reconstructions (M, B, D)."""
        if self.conv is not None:
            return self.conv(u)
        out = u if u.dim() == 3 else u.unsqueeze(0).expand(self.config.members, -1, -1)
        codes = out
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            out = torch.baddbmm(bias, out, weight)
            if layer == 1:
                codes = out  # the code layer is linear
            elif layer != last:
                out = torch.relu(out)
        return codes, out

    def turned(self, u: torch.Tensor) -> torch.Tensor:
        """Scaled images (B, D), each turned by its own random multiple of 360/rotations degrees."""
        images = u.reshape(len(u), *self.config.data_shape)
        quarters = 4 // self.config.rotations  # quarter turns per step
        views = torch.stack([torch.rot90(images, quarters * k, (2, 3)) for k in range(self.config.rotations)])
        turns = torch.randint(self.config.rotations, (len(u),), device=u.device)
        return views[turns, torch.arange(len(u), device=u.device)].reshape(len(u), -1)

    def training_inputs(self, u: torch.Tensor) -> torch.Tensor:
        """What the members reconstruct u (B, D) from: u itself, or (M, B, D) where the restoring members (the
        last ones) see each image turned by its own draw. The target stays upright, so they learn which way up
        the normal images belong, which an image of another kind does not tell them; all are scored upright."""
        restoring = self.config.restoring
        if not restoring:
            return u
        upright = u.unsqueeze(0).expand(self.config.members - restoring, -1, -1)
        return torch.cat([upright, torch.stack([self.turned(u) for _ in range(restoring)])])

    def forward(self, x, y=None, *, group="model", step=0):
        u = self.scaled(x)  # (B, D)
        _, reconstructions = self.members_forward(self.training_inputs(u))
        errors = (reconstructions - u).square().mean(-1)  # (M, B)
        chosen = torch.rand(errors.shape, device=errors.device) < self.config.subsample  # each member's rows
        counts = chosen.sum(1, keepdim=True)
        kept = counts
        if self.config.trim_fraction and step >= self.config.trim_start_step:
            kept = (counts * (1 - self.config.trim_fraction)).round().clamp_min(1)
        # rank of each row among the member's own rows, best reconstructed first; the others rank last
        ranks = torch.where(chosen, errors.detach(), torch.full_like(errors, math.inf)).argsort(1).argsort(1)
        weights = ((ranks < kept) & chosen).float()
        per_member = (errors * weights).sum(1) / weights.sum(1).clamp_min(1)
        return {"loss": per_member.sum(), "reconstruction": per_member.mean().detach()}

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        u = self.scaled(x)
        return {"reconstruction": (self.members_forward(u)[1] - u).square().mean()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The members' mean reconstruction in model inputs, (B, *data_shape)."""
        if labels is not None:
            raise GenlabError("an ae-ensemble takes no class labels")
        mean = self.members_forward(self.scaled(x))[1].mean(0)
        return (mean * self.scale + self.centre).reshape(len(x), *self.config.data_shape)
