"""Image grids as PNG files (Pillow), for samples, reconstructions and previews."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.files import atomic_path

MIN_CELL_PIXELS = 28  # tiny images (8x8 digits) are enlarged to at least this size, pixels kept sharp


def image_grid(images: torch.Tensor, columns: int = 8, padding: int = 2) -> np.ndarray:
    """(N, C, H, W) values in [0, 1] -> (rows*H', columns*W', C) uint8 canvas, white gaps."""
    images = images.detach().float().cpu().clamp(0, 1)
    count, channels, height, width = images.shape
    zoom = max(1, math.ceil(MIN_CELL_PIXELS / max(height, width)))
    if zoom > 1:
        images = images.repeat_interleave(zoom, dim=2).repeat_interleave(zoom, dim=3)
        height, width = height * zoom, width * zoom
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    canvas = torch.ones(channels, rows * (height + padding) + padding, columns * (width + padding) + padding)
    for index in range(count):
        r, c = divmod(index, columns)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        canvas[:, top : top + height, left : left + width] = images[index]
    return (canvas.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def grid_picture(images: torch.Tensor, columns: int = 8) -> Image.Image:
    """A grid of (N, C, H, W) images in [0, 1] as a Pillow image (grey or RGB)."""
    grid = image_grid(images, columns)
    return Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid[:, :, :3])


def save_image_grid(images: torch.Tensor, path: str | Path, columns: int = 8) -> Path:
    """Write a grid of (N, C, H, W) images in [0, 1] as a PNG, atomically."""
    picture = grid_picture(images, columns)
    path = Path(path)
    with atomic_path(path) as scratch:
        picture.save(scratch, format="PNG")
    return path


def png_bytes(picture) -> bytes:
    """A Pillow image or a matplotlib figure as the bytes of a PNG file (to embed in a page)."""
    buffer = io.BytesIO()
    if isinstance(picture, Image.Image):
        picture.save(buffer, format="PNG")
    else:
        picture.savefig(buffer, format="png")
    return buffer.getvalue()


def heat_maps(parts: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) per-pixel parts of anomaly scores -> (N, 1, H, W) maps in [0, 1]: what each pixel adds
    to its image's score (summed over channels; parts that lower the score show as 0), white at the largest."""
    positive = parts.detach().float().cpu().sum(1, keepdim=True).clamp(min=0)
    peak = positive.flatten(1).amax(1).view(-1, 1, 1, 1)
    return torch.where(peak > 0, positive / peak.clamp(min=1e-30), torch.zeros_like(positive))
