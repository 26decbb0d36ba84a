"""Reconstruction error: MSE, PSNR and SSIM (scikit-image's) between inputs and reconstructions.

All three are computed on images in [0, 1] (PSNR with a peak of 1) so that numbers from
models with different input ranges compare; vectors get MSE in model units only.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity

from genlab.models.inference import run_batched
from genlab.models.latent import to_unit_range


def psnr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for values in [0, 1], (B,)."""
    mse = (reference.double() - estimate.double()).square().flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


def ssim(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004; scikit-image, Gaussian window as in the paper), (B,)."""
    ref = reference.double().cpu().numpy()
    est = estimate.double().cpu().numpy()
    channel_axis = 0 if ref.shape[1] > 1 else None
    values = []
    for a, b in zip(ref, est):  # per image: scikit-image works on one image at a time
        if channel_axis is None:
            a, b = a[0], b[0]
        side = min(a.shape[-2:])
        window = min(7, side if side % 2 else side - 1)  # small images: the largest odd window that fits
        values.append(structural_similarity(a, b, data_range=1.0, channel_axis=channel_axis, win_size=window,
                                            gaussian_weights=side >= 11, sigma=1.5, use_sample_covariance=False))
    return torch.tensor(np.asarray(values))


@torch.no_grad()
def reconstruction_metrics(model, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
    """Mean MSE (model units), and for images PSNR (dB) and SSIM in [0, 1]."""
    model.eval()
    reconstructions = run_batched(model.reconstruct, x, labels, device=model.device).float()
    result = {"mse": float((reconstructions - x).double().square().mean())}
    if model.config.is_image and model.config.value_range != "real":
        reference = to_unit_range(x, model.config.value_range).clamp(0, 1)
        estimate = to_unit_range(reconstructions, model.config.value_range).clamp(0, 1)
        result["psnr"] = float(psnr(reference, estimate).mean())
        result["ssim"] = float(ssim(reference, estimate).mean())
    return result
