"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, every optimizer and scheduler, the position in the
data (epoch and batch), and the random number generator states of every process.
It is written atomically (scratch file, fsync, rename), so a run killed at any
moment leaves the previous checkpoint intact; it is read with weights_only=True,
so loading one never runs code.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.errors import GenlabError
from genlab.files import atomic_path

FORMAT_VERSION = 1


def capture_rng() -> dict[str, Any]:
    """This process's generator states, in types that weights_only loading accepts."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                  "has_gauss": has_gauss, "cached": cached},
        "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next},
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                         numpy_state["has_gauss"], numpy_state["cached"]))
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as scratch:
        torch.save({"format": FORMAT_VERSION, **state}, scratch)


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as error:
        raise GenlabError(f"checkpoint {path} is damaged ({str(error).splitlines()[0]}); delete it to restart the run") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise GenlabError(f"checkpoint {path} was not written by this version of genlab")
    return state
