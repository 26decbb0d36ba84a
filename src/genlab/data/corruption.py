"""Noise that corrupts inputs: for denoising autoencoders and denoising benchmarks.

Each function takes model-space inputs (B, ...) and draws its randomness from
`generator` (or torch's global generator, whose state checkpoints restore).
"""

from __future__ import annotations

import torch

NOISE_TYPES = ("gaussian", "salt_and_pepper", "masking")
VALUE_BOUNDS = {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0)}  # "real" data is unbounded


def gaussian_noise(x, sigma: float, low=None, high=None, generator=None):
    """Add N(0, sigma^2) per value, clipped to the data's range when it has one."""
    noisy = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return noisy.clamp(low, high) if low is not None else noisy


def salt_and_pepper_noise(x, fraction: float, low, high, generator=None):
    """Set a `fraction` of values to the bounds: half to `low` (pepper), half to `high` (salt)."""
    draw = torch.rand(x.shape, generator=generator, device=x.device)
    noisy = torch.where(draw < fraction / 2, low, x)
    return torch.where((draw >= fraction / 2) & (draw < fraction), high, noisy)


def masking_noise(x, fraction: float, fill: float = 0.0, generator=None):
    """Replace a `fraction` of values by `fill` (black for images, the mean for standardised vectors)."""
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= fraction
    return torch.where(keep, x, fill)


def corrupt(x, noise: str, level: float, value_range: str, generator=None):
    """Apply the named noise at `level`: sigma for gaussian, the affected fraction for the others."""
    bounds = VALUE_BOUNDS.get(value_range)
    if noise == "gaussian":
        low, high = bounds or (None, None)
        return gaussian_noise(x, level, low, high, generator)
    if noise == "salt_and_pepper":
        # unbounded data: each feature's extremes within the batch play black and white
        low, high = bounds or (x.amin(dim=0, keepdim=True), x.amax(dim=0, keepdim=True))
        return salt_and_pepper_noise(x, level, low, high, generator)
    if noise == "masking":
        return masking_noise(x, level, bounds[0] if bounds else 0.0, generator)
    raise ValueError(f"unknown noise {noise!r}; choose one of {', '.join(NOISE_TYPES)}")
