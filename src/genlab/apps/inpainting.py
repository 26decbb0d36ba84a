"""Inpainting: fill missing values with what an autoencoder or VAE finds most plausible.

The code z is fitted to the known values alone: starting from the encoding of the input
(holes filled with the known values' mean), Adam minimises the decoder's error on the
known values, plus, for a VAE, `prior_weight` |z|^2 (the prior's pull, at the scale of a
squared pixel error) so that z stays where the decoder was trained. The holes are then filled from decode(z); known values are never changed.
Every image of a batch is fitted at once (no per-image Python loop).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab.apps.inputs import read_inputs, read_mask
from genlab.apps.outputs import check_sample_output, write_samples
from genlab.bounds import MAX_INPAINT_STEPS, check_whole
from genlab.errors import GenlabError
from genlab.models.inference import run_batched
from genlab.models.units import is_raw, like_input


def inpaint(model, x, missing, *, steps: int = 300, lr: float = 0.05, prior_weight: float | None = None):
    """Inputs (N, ...) with `missing` (N, ...) True where unknown -> completed inputs.

    Model-space tensors give model-space tensors; raw data (uint8 images, arrays in the
    data's units) gives raw data in the same units.
    """
    model.require("label_free_codes", "inpaint")
    if model.config.table:
        raise GenlabError("inpainting fills pixels or features of arrays; for a table, leave the unknown cells "
                          "empty and reconstruct the records (genlab.apps.reconstruct)")
    if is_raw(x):
        inputs = model.preprocess(x).cpu()
        holes = torch.as_tensor(np.asarray(missing)).bool()
        if holes.numel() == inputs.numel():  # (N, H, W) masks for (N, 1, H, W) inputs
            holes = holes.reshape(inputs.shape)
        filled = inpaint(model, inputs, holes, steps=steps, lr=lr, prior_weight=prior_weight)
        return like_input(x, model.postprocess(filled))
    if missing.shape != x.shape:
        raise GenlabError(f"the mask's shape {tuple(missing.shape)} does not match the inputs' {tuple(x.shape)}")
    check_whole(steps, "the number of steps (--steps)", 1, MAX_INPAINT_STEPS)

    if prior_weight is None:
        prior_weight = 0.01 if model.capabilities.likelihood else 0.0  # a VAE's codes have an N(0, I) prior
    model.eval()
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        filled = run_batched(lambda xs, holes: _inpaint_batch(model, xs, holes, steps, lr, prior_weight), x, missing)
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
    return filled


@torch.enable_grad()  # the codes are optimised; the model's weights stay frozen
def _inpaint_batch(model, x, missing, steps, lr, prior_weight):
    device = model.device
    x, missing = x.to(device).float(), missing.to(device)
    known = (~missing).float()
    # holes start at each image's mean known value, so the encoder sees a plausible input
    fill = (x * known).flatten(1).sum(1) / known.flatten(1).sum(1).clamp_min(1)
    start = torch.where(missing, fill.view(-1, *[1] * (x.dim() - 1)), x)
    with torch.no_grad():
        z = model.encode(start).float().clone()
    z.requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        error = ((model.decode(z).float() - x).square() * known).flatten(1).sum(1)  # (N,) on known values only
        loss = (error + prior_weight * z.square().sum(1)).sum()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        guess = model.decode(z).float()
    return torch.where(missing, guess, x).cpu()


def inpaint_files(model, inputs, mask: str | Path, output: str | Path, *, steps: int = 300) -> tuple[int, int]:
    """Fill the holes `mask` marks in image files, folders or arrays; write them to `output`.

    Returns the number of inputs and of values filled.
    """
    check_sample_output(model, output)
    x, names = read_inputs(model, inputs)
    missing = read_mask(mask, tuple(model.config.data_shape), len(x))
    write_samples(model, inpaint(model, x, missing, steps=steps), output, names)
    return len(x), int(missing.sum())
