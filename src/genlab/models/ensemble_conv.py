"""The convolutional members of an autoencoder ensemble (genlab.models.ensemble), for images.

Each member is a small convolutional autoencoder: two stride-2 4x4 convolutions (height and width
/ 4), a linear map to its code, and the mirror image back. The members are one network: every
convolution is grouped (groups = members, so member m's channels see only member m's), and the
linear maps are batched matrix products, as in the MLP members. Images whose sides are not
multiples of 4 are padded with 0 in scaled units (the training pixels' mean) and cropped back.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

SLOPE = 0.1  # LeakyReLU's negative slope
MIN_SIDE = 16  # images smaller than this on a side use the MLP members: two halvings of 8x8 leave 2x2, and a
# digit of 64 pixels is as well served as a table row (a stray pixel is an MLP member's residual)


def fits_conv(data_shape) -> bool:
    """Whether an ensemble on samples of this shape can use the convolutional members: (C, H, W), H, W >= MIN_SIDE."""
    return len(data_shape) == 3 and min(data_shape[1:]) >= MIN_SIDE


class ConvMembers(nn.Module):
    """`members` convolutional autoencoders with channels (first, second) and a code of `code` values each."""

    def __init__(self, members: int, data_shape: tuple[int, int, int], channels: tuple[int, int], code: int):
        super().__init__()
        self.members, self.data_shape = members, tuple(data_shape)
        colours, height, width = self.data_shape
        self.padded = (4 * math.ceil(height / 4), 4 * math.ceil(width / 4))
        first, second = channels
        self.inner = (second, self.padded[0] // 4, self.padded[1] // 4)
        flat = math.prod(self.inner)
        m = members
        self.encoder = nn.Sequential(
            nn.Conv2d(m * colours, m * first, 4, 2, 1, groups=m), nn.LeakyReLU(SLOPE),
            nn.Conv2d(m * first, m * second, 4, 2, 1, groups=m), nn.LeakyReLU(SLOPE))
        self.decoder = nn.Sequential(
            nn.LeakyReLU(SLOPE), nn.ConvTranspose2d(m * second, m * first, 4, 2, 1, groups=m), nn.LeakyReLU(SLOPE),
            nn.ConvTranspose2d(m * first, m * colours, 4, 2, 1, groups=m))
        self.code_weight = nn.Parameter(torch.empty(m, flat, code).uniform_(-1, 1) / math.sqrt(flat))
        self.code_bias = nn.Parameter(torch.empty(m, 1, code).uniform_(-1, 1) / math.sqrt(flat))
        self.out_weight = nn.Parameter(torch.empty(m, code, flat).uniform_(-1, 1) / math.sqrt(code))
        self.out_bias = nn.Parameter(torch.empty(m, 1, flat).uniform_(-1, 1) / math.sqrt(code))

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled features, (B, D) for all members or (M, B, D) one batch each -> every member's codes
        (M, B, code) and reconstructions (M, B, D)."""
        m, batch = self.members, u.shape[-2]
        colours, height, width = self.data_shape
        if u.dim() == 2:
            images = u.reshape(batch, colours, height, width).repeat(1, m, 1, 1)
        else:  # member m's colours side by side, as the grouped convolution reads them
            images = u.reshape(m, batch, colours, height, width).transpose(0, 1).reshape(batch, m * colours, height, width)
        images = F.pad(images, (0, self.padded[1] - width, 0, self.padded[0] - height))
        features = self.encoder(images)  # (B, M * second, h, w): member m's channels together
        features = features.reshape(batch, m, -1).transpose(0, 1)  # (M, B, flat)
        codes = torch.baddbmm(self.code_bias, features, self.code_weight)
        inner = torch.baddbmm(self.out_bias, codes, self.out_weight)  # (M, B, flat)
        inner = inner.transpose(0, 1).reshape(batch, m * self.inner[0], *self.inner[1:])
        out = self.decoder(inner).reshape(batch, m, colours, *self.padded)[..., :height, :width]
        return codes, out.reshape(batch, m, -1).transpose(0, 1)
