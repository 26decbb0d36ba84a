"""Augmentations that run on whole batches on the model's device.

`random_shift` is the classifier's translation augmentation. `diff_augment` is
differentiable augmentation for GANs (Zhao et al. 2020): the same random colour,
translation and cutout transforms are applied to real and generated images before the
discriminator sees them, and gradients flow through them back to the generator, which
keeps the discriminator from memorising small datasets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DIFF_AUGMENT_POLICIES = ("color", "translation", "cutout")


def random_shift(x: torch.Tensor, max_shift: int, flip: bool = False) -> torch.Tensor:
    """Translate each image by its own whole-pixel offset (zeros fill in), optionally mirror it."""
    batch, _, height, width = x.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (batch, 2), device=x.device).to(x.dtype)
    theta = torch.zeros(batch, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = offsets[:, 0] * 2 / width  # grid coordinates span [-1, 1]
    theta[:, 1, 2] = offsets[:, 1] * 2 / height
    if flip:
        theta[:, 0, 0] = torch.where(torch.rand(batch, device=x.device) < 0.5, -1.0, 1.0).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def random_color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness, saturation and contrast, one draw per image (for data in [-1, 1])."""
    batch = len(x)
    draw = lambda: torch.rand(batch, 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
    x = x + (draw() - 0.5)
    if x.shape[1] > 1:
        grey = x.mean(dim=1, keepdim=True)
        x = (x - grey) * (draw() * 2) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (draw() + 0.5) + mean


def random_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of `ratio` of the image side per image, at a random place."""
    batch, _, height, width = x.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height - cut_h + 1, (batch, 1, 1), device=x.device)
    left = torch.randint(0, width - cut_w + 1, (batch, 1, 1), device=x.device)
    rows = torch.arange(height, device=x.device).view(1, height, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, width)
    inside = (rows >= top) & (rows < top + cut_h) & (cols >= left) & (cols < left + cut_w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: torch.Tensor, policy: list[str]) -> torch.Tensor:
    """Apply the named transforms in order: color, translation (1/8 of the side), cutout."""
    for name in policy:
        if name == "color":
            x = random_color(x)
        elif name == "translation":
            x = random_shift(x, max(1, min(x.shape[2:]) // 8))
        elif name == "cutout":
            x = random_cutout(x)
    return x
