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
from genlab.models.units import is_raw, like_input


@torch.no_grad()
def denoise(model, noisy):
    """Noisy inputs (N, ...) -> denoised ones, clamped to the data's range.

    Model-space tensors give model-space tensors; raw data (uint8 images, arrays in the
    data's units) gives raw data in the same units.
    """
    model.require("label_free_codes", "denoise")
    model.eval()
    raw = is_raw(noisy)
    inputs = model.preprocess(noisy).cpu() if raw else noisy
    cleaned = run_batched(model.reconstruct, inputs, device=model.device).float()
    bounds = VALUE_BOUNDS.get(model.config.value_range)
    cleaned = cleaned.clamp(*bounds) if bounds else cleaned
    return like_input(noisy, model.postprocess(cleaned)) if raw else cleaned


def denoise_files(model, inputs, output: str | Path) -> int:
    """Denoise image files, folders or arrays; write the results to `output`; return how many."""
    check_sample_output(model, output)
    x, names = read_inputs(model, inputs)
    write_samples(model, denoise(model, x), output, names)
    return len(x)
