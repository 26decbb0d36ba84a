"""Raw data in, raw data out: a trained model's encode, decode, reconstruct and sample in the data's own units.

    model = genlab.load(run)
    codes = genlab.apps.encode(model, images_uint8)        # (N, latent_dim) float32
    again = genlab.apps.reconstruct(model, images_uint8)   # uint8, like the input
    rows = genlab.apps.sample(model, 100, seed=1)          # a DataFrame for a model trained on one
    genlab.apps.decode(model, codes)                       # raw samples for given codes

Inputs are whatever the model was trained on, in its own units: 8-bit images, floats,
DataFrames of records (genlab.models.units says exactly how). The model methods of the
same names work in model space (tensors as `model.preprocess` returns them); these are
the same operations for data as the user holds it, batched and on the model's device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlab.bounds import check_seed
from genlab.errors import GenlabError
from genlab.models.inference import BATCH_SIZE, encode_all, run_batched
from genlab.models.units import like_input
from genlab.resources import check_fits


def encode(model, X: Any, labels=None) -> np.ndarray:
    """Codes of raw records or images, (N, latent_dim) float32 (a VAE's posterior means)."""
    model.require("codes", "encode")
    x = model.preprocess(X).cpu()
    return encode_all(model, x, _labels(labels, len(x), model)).numpy()


def decode(model, codes: Any, labels=None):
    """Raw samples (the data's units) for codes (N, latent_dim)."""
    model.require("codes", "decode")
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    if z.ndim != 2 or z.shape[1] != model.config.latent_dim:
        raise GenlabError(f"codes must be (N, {model.config.latent_dim}) for this model (got {tuple(z.shape)})")
    inputs = (z,) if labels is None else (z, _labels(labels, len(z), model))
    return model.postprocess(run_batched(model.decode, *inputs, device=model.device).float())


def reconstruct(model, X: Any, labels=None):
    """Raw records or images -> their reconstructions, in the same units."""
    model.require("codes", "reconstruct")
    x = model.preprocess(X).cpu()
    inputs = (x,) if labels is None else (x, _labels(labels, len(x), model))
    return like_input(X, model.postprocess(run_batched(model.reconstruct, *inputs, device=model.device).float()))


def sample(model, count: int, *, seed: int = 0, labels=None):
    """`count` new samples in the data's units (of the classes `labels`, for conditional models)."""
    model.require("samples", "generate samples")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise GenlabError(f"the number of samples must be a whole number, at least 1 (got {count!r})")
    count = int(count)
    check_fits(count, model.config.data_shape, "samples", "ask for fewer and draw them in several calls")
    generator = torch.Generator(model.device).manual_seed(check_seed(seed))
    chosen = model.sample_labels(count, generator, _labels(labels, count, model))  # None for an unconditional model
    parts = []
    for start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - start)
        part = None if chosen is None else chosen[start:start + size]
        parts.append(model.sample(size, generator, part).float().cpu())
    return model.postprocess(torch.cat(parts))


def _labels(labels, count: int, model) -> torch.Tensor | None:
    """Class indices, one per sample (a single one is used for all of them); classes may be given by name."""
    if labels is None:
        return None
    values = np.asarray(labels)
    if values.dtype.kind in "UO":
        values = np.array([model.class_index(v) for v in values.reshape(-1)])
    if values.dtype.kind not in "biu":
        raise GenlabError(f"labels must be class indices or names, not {values.dtype} values")
    values = np.broadcast_to(values.reshape(-1), (count,)) if values.size == 1 else values.reshape(-1)
    if len(values) != count:
        raise GenlabError(f"{len(values)} labels for {count} samples; give one per sample, or a single one")
    return torch.as_tensor(np.ascontiguousarray(values)).long()
