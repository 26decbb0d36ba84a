"""Inpainting: fill missing values with what an autoencoder or VAE finds most plausible.

The code z is fitted to the known values alone: starting from the encoding of the input
(holes filled with the known values' mean), Adam minimises the decoder's error on the
known values, plus, for a VAE, `prior_weight` |z|^2 (the prior's pull, at the scale of a
squared pixel error) so that z stays where the decoder was trained. The holes are then filled from decode(z); known values are never changed.
Every image of a batch is fitted at once (no per-image Python loop).
"""

from __future__ import annotations

import torch

from genlab.errors import GenlabError

BATCH = 2000


def inpaint(model, x: torch.Tensor, missing: torch.Tensor, *, steps: int = 300, lr: float = 0.05,
            prior_weight: float | None = None) -> torch.Tensor:
    """Model-space inputs (N, ...) with `missing` (N, ...) True where unknown -> completed inputs."""
    from genlab.models.latent import LatentModel

    if not isinstance(model, LatentModel) or model.conditional:
        raise GenlabError(f"a {model.model_name} model cannot inpaint; use an unconditional autoencoder or VAE")
    if missing.shape != x.shape:
        raise GenlabError(f"the mask's shape {tuple(missing.shape)} does not match the inputs' {tuple(x.shape)}")
    if steps < 0:
        raise GenlabError(f"steps must be >= 0 (got {steps})")
    from genlab.models.vae import VAE

    if prior_weight is None:
        prior_weight = 0.01 if isinstance(model, VAE) else 0.0
    model.eval()
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        filled = [_inpaint_batch(model, x[i : i + BATCH], missing[i : i + BATCH], steps, lr, prior_weight) for i in range(0, len(x), BATCH)]
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
    return torch.cat(filled)


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
