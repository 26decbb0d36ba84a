"""The ImageNet Inception-v3 feature space of the original FID, for users who bring its weights.

genlab's own reference classifiers need no download; numbers comparable with papers
need the network FID was defined with (Szegedy et al. 2016, as frozen in the 2015-12-05
TensorFlow graph) and its weights, which cannot be fetched here. This module builds that
network, with parameter names matching the PyTorch port of those weights
(`pt_inception-2015-12-05-*.pth`, 1008 output classes), and reads the user's file with
`weights_only` loading. Features are the 2048-d average pool before the classifier;
inputs are resized to 299x299 (bilinear) and scaled to [-1, 1]; grey images are
repeated over three channels.

The frozen graph differs from the textbook network in its pooling: the average pools
of the A, C and first E blocks ignore padding, and the last E block max-pools.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import GenlabError
from genlab.models.inference import BATCH_SIZE, run_batched


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, as in the graph), ReLU."""

    def __init__(self, n_in: int, n_out: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(n_out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, n_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(n_in, 64, 1)
        self.branch5x5_1 = ConvBN(n_in, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(n_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(n_in, pool_features, 1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class BlockB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, n_in: int):
        super().__init__()
        self.branch3x3 = ConvBN(n_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(n_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class BlockC(nn.Module):
    """Factorised 7x7 convolutions at 17x17."""

    def __init__(self, n_in: int, c7: int):
        super().__init__()
        self.branch1x1 = ConvBN(n_in, 192, 1)
        self.branch7x7_1 = ConvBN(n_in, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(n_in, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(n_in, 192, 1)

    def forward(self, x):
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_avg_pool(x)),
        ], 1)


class BlockD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, n_in: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(n_in, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(n_in, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x):
        tower = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), tower, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """Expanded filter banks at 8x8; `max_pool` for the graph's last block."""

    def __init__(self, n_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(n_in, 320, 1)
        self.branch3x3_1 = ConvBN(n_in, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(n_in, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(n_in, 192, 1)

    def forward(self, x):
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


class InceptionFeatures(nn.Module):
    """Inception-v3 up to its 2048-d pool; the classifier layer is kept only to read the weights file."""

    def __init__(self, classes: int = 1008):
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1 or 3, H, W) images in [0, 1] -> (N, 2048) features."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        x = F.interpolate(images.float(), size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean((2, 3))


def load_inception(path: str | Path) -> InceptionFeatures:
    """The FID Inception network with the weights in `path` (a PyTorch state dict), in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"Inception weights file '{path}' not found (the FID file is pt_inception-2015-12-05-*.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for damaged or non-tensor files
        raise GenlabError(f"'{path}' is not a readable PyTorch weights file ({str(error).splitlines()[0]})") from None
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise GenlabError(f"'{path}' does not hold Inception-v3 weights (no fc.weight); use the FID file pt_inception-2015-12-05-*.pth")
    network = InceptionFeatures(classes=state["fc.weight"].shape[0])
    state = {key: value for key, value in state.items() if not key.startswith("AuxLogits.")}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        first = (missing or unexpected)[0]
        raise GenlabError(f"'{path}' does not match Inception-v3 ({'missing' if missing else 'unexpected'} {first})")
    return network.eval()


@torch.no_grad()
def inception_features(network: InceptionFeatures, images: torch.Tensor) -> torch.Tensor:
    """(N, 2048) features of images in [0, 1]."""
    # each image grows to 3x299x299 inside the network: a tenth of the usual batch keeps memory bounded
    return run_batched(network, images, batch_size=BATCH_SIZE // 10)
