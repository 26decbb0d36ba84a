"""Denoising: a denoising autoencoder maps a corrupted input to its clean reconstruction.

The model should be a `dae` trained for the noise at hand (`model.noise` gaussian,
salt_and_pepper or masking, `model.noise_level`); any autoencoder or VAE is accepted,
since reconstruction already removes some noise, but one trained on that noise does
far better.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.apps.inputs import read_inputs
from genlab.apps.outputs import check_sample_output, write_samples
from genlab.data.corruption import VALUE_BOUNDS
from genlab.models.inference import run_batched


@torch.no_grad()
def denoise(model, noisy: torch.Tensor) -> torch.Tensor:
    """Noisy model-space inputs (N, ...) -> denoised ones, clamped to the data's range."""
    model.require("label_free_codes", "denoise")
    model.eval()
    cleaned = run_batched(model.reconstruct, noisy, device=model.device).float()
    bounds = VALUE_BOUNDS.get(model.config.value_range)
    return cleaned.clamp(*bounds) if bounds else cleaned


def denoise_files(model, inputs, output: str | Path) -> int:
    """Denoise image files, folders or arrays; write the results to `output`; return how many."""
    check_sample_output(model, output)
    x, names = read_inputs(model, inputs)
    write_samples(model, denoise(model, x), output, names)
    return len(x)
