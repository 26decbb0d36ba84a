"""Likelihood of held-out data: ELBO, importance-weighted NLL and bits per dimension.

The importance-weighted bound (Burda et al. 2015) with k samples,
    log p(x) >= log (1/k) sum_i p(x, z_i) / q(z_i | x),   z_i ~ q(z | x),
tightens as k grows; k=5000 is the convention for published MNIST numbers. Bits per
dimension are reported for the data as stored: with a Bernoulli decoder on binary
pixels that is NLL / (D ln 2); for a continuous decoder the density is carried back
through the preprocessing's affine map (adding sum log|scale|), so that images are
measured on their 8-bit scale as in the literature.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from genlab.errors import GenlabError
from genlab.models.inference import run_batched


def supports_likelihood(model) -> bool:
    return callable(getattr(model, "log_likelihood", None)) and callable(getattr(model, "elbo", None))


def stored_units_correction(model) -> float:
    """log |det| of the map from stored values to model inputs (0 for Bernoulli decoders)."""
    if getattr(model.config, "likelihood", None) == "bernoulli" or not model.config.preprocessing:
        return 0.0
    scale = np.abs(np.asarray(model.config.preprocessing["scale"], dtype=np.float64))
    dims = math.prod(model.config.data_shape)
    return float(np.log(scale).sum() if len(scale) > 1 else dims * np.log(scale[0]))


@torch.no_grad()
def likelihood_metrics(model, x: torch.Tensor, labels: torch.Tensor | None = None, *, k: int = 5000,
                       batch_size: int | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Mean ELBO and IW-NLL (nats), bits per dimension, and the seconds it took."""
    if not supports_likelihood(model):
        raise GenlabError(f"a {model.model_name} model has no likelihood (only vae and cvae do)")
    if k < 1:
        raise GenlabError(f"k must be at least 1 (got {k})")
    model.eval()
    # Each batch is expanded k times inside log_likelihood (in bounded chunks), so a
    # batch of 100 keeps the decoder's matrices large without holding k x N in memory.
    batch_size = batch_size or (100 if k > 1 else 1000)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    started = time.perf_counter()
    def both(batch, batch_labels):  # the ELBO, then the bound, per batch: the draws come in a fixed order
        return torch.stack([model.elbo(batch, batch_labels).double(),
                            model.log_likelihood(batch, k=k, labels=batch_labels).double()], dim=1)

    try:
        values = run_batched(both, x, labels, device=model.device, batch_size=batch_size,
                             progress=f"IW-NLL k={k}" if progress else None)
    finally:
        torch.random.set_rng_state(generator_state)
    elbo_t, log_px_t = values[:, 0], values[:, 1]
    dims = math.prod(model.config.data_shape)
    nll_stored = -log_px_t - stored_units_correction(model)
    return {
        "elbo": float(elbo_t.mean()),
        "nll": float(-log_px_t.mean()),
        "nll_std_error": float(log_px_t.std() / math.sqrt(len(log_px_t))) if len(log_px_t) > 1 else 0.0,
        "bits_per_dim": float(nll_stored.mean() / (dims * math.log(2))),
        "k": k,
        "seconds": round(time.perf_counter() - started, 2),
    }
