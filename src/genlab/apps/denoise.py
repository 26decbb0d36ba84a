"""Denoising: a denoising autoencoder maps a corrupted input to its clean reconstruction.

The model should be a `dae` trained for the noise at hand (`model.noise` gaussian,
salt_and_pepper or masking, `model.noise_level`); any autoencoder or VAE is accepted,
since reconstruction already removes some noise, but one trained on that noise does
far better.
"""

from __future__ import annotations

import torch

from genlab.errors import GenlabError

BATCH = 1000


@torch.no_grad()
def denoise(model, noisy: torch.Tensor) -> torch.Tensor:
    """Noisy model-space inputs (N, ...) -> denoised ones, clamped to the data's range."""
    from genlab.data.corruption import VALUE_BOUNDS
    from genlab.models.latent import LatentModel

    if not isinstance(model, LatentModel) or model.conditional:
        raise GenlabError(f"a {model.model_name} model cannot denoise; use a dae (or another unconditional autoencoder)")
    model.eval()
    cleaned = torch.cat([model.reconstruct(noisy[i : i + BATCH].to(model.device)).float().cpu()
                         for i in range(0, len(noisy), BATCH)])
    bounds = VALUE_BOUNDS.get(model.config.value_range)
    return cleaned.clamp(*bounds) if bounds else cleaned
