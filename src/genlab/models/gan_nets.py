"""Generator and discriminator networks for the GAN, sized from the data shape.

Images get DCGAN-style networks (Radford et al. 2016): the generator maps z through a
dense layer to a 4x4-ish map and doubles it with 4x4 stride-2 transposed convolutions
(batch-norm and ReLU between them, tanh or sigmoid at the end), cropping a row or column
where the target size is odd (4 -> 8 -> 7 on the way to 28); the discriminator halves
the image with 4x4 stride-2 convolutions and leaky ReLUs. Vectors get MLPs. Both accept
a class label: the generator appends an embedding of it to z, the discriminator adds a
projection term (Miyato & Koyama 2018).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm as spectral

from genlab.models.likelihoods import squash
from genlab.models.nets import conv_sizes


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) weights, N(1, 0.02) batch-norm scales."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """(B, latent) [+ labels (B,)] -> (B, *data_shape) in the data's range."""

    def __init__(self, data_shape, latent_dim, width, hidden, value_range, num_classes=None, embed_dim=32):
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.value_range = value_range
        self.embedding = nn.Embedding(num_classes, embed_dim) if num_classes else None
        z_dim = latent_dim + (embed_dim if num_classes else 0)
        if len(self.data_shape) == 3:
            self.net = self._conv(z_dim, width)
        else:
            widths = [z_dim, *hidden]
            layers: list[nn.Module] = []
            for n_in, n_out in zip(widths[:-1], widths[1:]):
                layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
            self.net = nn.Sequential(*layers, nn.Linear(widths[-1], self.data_shape[0]))
        dcgan_init(self)

    def _conv(self, z_dim: int, width: int) -> nn.Sequential:
        channels, height, wide = self.data_shape
        sizes = conv_sizes(height, wide)  # e.g. [(28, 28), (14, 14), (7, 7), (4, 4)]
        levels = len(sizes) - 1
        widths = [width * 2 ** (levels - 1 - i) for i in range(levels)]  # deepest first: 256, 128, 64
        h, w = sizes[-1]
        layers: list[nn.Module] = [nn.Linear(z_dim, widths[0] * h * w, bias=False), nn.Unflatten(1, (widths[0], h, w)),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for level in range(levels):
            target = sizes[levels - 1 - level]
            last = level == levels - 1
            n_out = channels if last else widths[level + 1]
            layers.append(nn.ConvTranspose2d(widths[level], n_out, 4, stride=2, padding=1, bias=last))
            layers.append(CropTo(target))
            if not last:
                layers += [nn.BatchNorm2d(n_out), nn.ReLU()]
        return nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embedding is not None:
            z = torch.cat([z, self.embedding(labels)], dim=1)
        return squash(self.net(z), self.value_range)


class Discriminator(nn.Module):
    """(B, *data_shape) [+ labels (B,)] -> (B,) logits (critic values for WGAN)."""

    def __init__(self, data_shape, width, hidden, norm: str, spectral_norm: bool, num_classes=None):
        super().__init__()
        wrap = spectral if spectral_norm else (lambda layer: layer)
        if len(data_shape) == 3:
            channels, height, wide = data_shape
            layers: list[nn.Module] = []
            n_in, h, w, level = channels, height, wide, 0
            while min(h, w) > 4 or level == 0:
                n_out = width * 2**level
                layers.append(wrap(nn.Conv2d(n_in, n_out, 4, stride=2, padding=1, bias=norm != "batch" or level == 0)))
                if norm == "batch" and level > 0:
                    layers.append(nn.BatchNorm2d(n_out))
                elif norm == "layer" and level > 0:
                    layers.append(nn.GroupNorm(1, n_out))
                layers.append(nn.LeakyReLU(0.2))
                n_in, h, w, level = n_out, h // 2, w // 2, level + 1
            self.body = nn.Sequential(*layers, nn.Flatten())
            features = n_in * h * w
        else:
            widths = [data_shape[0], *hidden]
            layers = []
            for n_in, n_out in zip(widths[:-1], widths[1:]):
                layers += [wrap(nn.Linear(n_in, n_out)), nn.LeakyReLU(0.2)]
            self.body = nn.Sequential(*layers)
            features = widths[-1]
        self.head = wrap(nn.Linear(features, 1))
        self.projection = wrap(nn.Embedding(num_classes, features)) if num_classes else None
        dcgan_init(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.body(x)
        logits = self.head(h).squeeze(1)
        if self.projection is not None:
            logits = logits + (self.projection(labels) * h).sum(1)
        return logits.float()


class CropTo(nn.Module):
    """Keep the top-left (H, W) of a feature map: turns 8x8 into 7x7 on the way to 28x28."""

    def __init__(self, size: tuple[int, int]):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x):
        return x[:, :, : self.size[0], : self.size[1]]

