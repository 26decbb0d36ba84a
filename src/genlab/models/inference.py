"""Running a model over many inputs: one helper and one batch size for every such loop."""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm import tqdm

BATCH_SIZE = 1000  # inputs per forward pass: large enough for fast matrix products, small enough for any memory


@torch.no_grad()
def run_batched(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor | None, device: torch.device | str | None = None,
                batch_size: int | None = None, progress: str | None = None) -> torch.Tensor:
    """`fn(*batch)` over aligned slices of `inputs`, results concatenated on the CPU.

    An input that is None is passed as None (labels of an unconditional model); each slice
    moves to `device` (default: where it is). `progress` names a tqdm bar; None shows none.
        codes = run_batched(model.encode, x, labels, device=model.device)
    """
    size = batch_size or BATCH_SIZE
    count = len(next(t for t in inputs if t is not None))
    parts = []
    with tqdm(total=count, desc=progress, unit="item", disable=progress is None, leave=False) as bar:
        for start in range(0, count, size):
            batch = [None if t is None else t[start : start + size].to(device or t.device) for t in inputs]
            parts.append(fn(*batch).detach().cpu())
            bar.update(len(parts[-1]))
    return torch.cat(parts) if parts else torch.empty(0)


def encode_all(model, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The codes of every input (a VAE's posterior means), float32 on the CPU, (N, latent_dim)."""
    inputs = (x,) if labels is None else (x, labels)  # encode(x) for models that take no labels at all
    return run_batched(model.encode, *inputs, device=model.device).float()
