"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, every optimizer and scheduler, the position in the
data (epoch and batch), and the random number generator states of every process.
It is written atomically (scratch file, fsync, rename), so a run killed at any
moment leaves the previous checkpoint intact; it is read with weights_only=True,
so loading one never runs code.

On disk: a first line `genlab-checkpoint 2 <SHA-256 of the rest>`, then the state as
torch.save writes it. The digest is checked before anything is unpickled, so a flipped
bit anywhere in the file is refused instead of resumed from.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.errors import GenlabError
from genlab.files import write_bytes_atomic

FORMAT_VERSION = 2
MAGIC = b"genlab-checkpoint"
LEGACY_VERSION = 1  # a bare torch.save zip, without a digest: still read
# what every checkpoint holds, and the type each entry must have
REQUIRED = {"model": dict, "optimizers": dict, "schedulers": dict, "step": int, "epoch": int, "batch": int,
            "rng": list, "world_size": int}


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
    buffer = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **state}, buffer)
    payload = buffer.getvalue()
    header = MAGIC + f" {FORMAT_VERSION} {hashlib.sha256(payload).hexdigest()}\n".encode()
    write_bytes_atomic(path, header + payload)  # serialised in memory first: a full disk fails before the rename


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state saved at `path`, its digest and structure checked; one-line errors name the file."""
    if not Path(path).is_file():  # a folder, a device or a dangling link: never read, never started over from
        raise GenlabError(f"checkpoint {path} is not a regular file; delete it to restart the run")
    try:
        blob = Path(path).read_bytes()
    except OSError as error:
        raise GenlabError(f"checkpoint {path} cannot be read ({error.strerror}); check its permissions") from None
    payload = _verified_payload(path, blob)
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise GenlabError(f"checkpoint {path} holds objects other than tensors and numbers and was refused (loading it "
                          "could run code); a genlab checkpoint never does: delete it to restart the run") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, TypeError, KeyError,
            AttributeError, IndexError) as error:
        first = (str(error).strip().splitlines() or ["unreadable"])[0][:200]
        raise GenlabError(f"checkpoint {path} is damaged ({first}); delete it to restart the run") from None
    expected = LEGACY_VERSION if payload is blob else FORMAT_VERSION
    if not isinstance(state, dict) or state.get("format") != expected:
        raise GenlabError(f"checkpoint {path} was not written by this version of genlab")
    for key, kind in REQUIRED.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            problem = "lacks" if key not in state else "has a damaged"
            raise GenlabError(f"checkpoint {path} {problem} '{key}' entry; delete it to restart the run")
    return state


def check_state(path: Path, state: dict, expected: dict, steps_per_epoch: int, world_size: int) -> None:
    """Refuse weights of another dtype (load_state_dict would cast them silently) or with NaN or inf, and a
    position past the end of an epoch (a checkpoint on an epoch's last batch precedes its validation)."""
    if state["world_size"] == world_size and state["batch"] > steps_per_epoch:
        raise GenlabError(f"checkpoint {path} is at batch {state['batch']:,} of an epoch of {steps_per_epoch:,} "
                          "batches (damaged, or the data changed); delete it to restart the run")
    for key, value in state["model"].items():
        if not isinstance(value, torch.Tensor):
            raise GenlabError(f"checkpoint {path} has a damaged '{key}' entry; delete it to restart the run")
        wanted = expected.get(key)
        if wanted is not None and value.dtype != wanted.dtype:
            raise GenlabError(f"checkpoint {path} holds '{key}' as {value.dtype} where the model has {wanted.dtype}; "
                              "delete it to restart the run")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise GenlabError(f"checkpoint {path} holds NaN or infinite weights in '{key}'; delete it to restart "
                              "the run (or resume from a copy taken before training diverged)")


def _verified_payload(path: Path, blob: bytes) -> bytes:
    """The torch.save bytes of a checkpoint file, once its digest matches (a legacy file is returned whole)."""
    if blob[:2] == b"PK":
        return blob  # written before checkpoints carried a digest
    line, newline, payload = blob.partition(b"\n")
    fields = line.split(b" ")
    if not newline or len(fields) != 3 or fields[0] != MAGIC:
        raise GenlabError(f"checkpoint {path} is not a genlab checkpoint or is damaged; delete it to restart the run")
    if fields[1] != str(FORMAT_VERSION).encode():
        raise GenlabError(f"checkpoint {path} has format {fields[1][:10].decode(errors='replace')}, which this genlab "
                          f"does not read ({FORMAT_VERSION}); resume it with the genlab that wrote it")
    if hashlib.sha256(payload).hexdigest().encode() != fields[2]:
        raise GenlabError(f"checkpoint {path} is damaged (its SHA-256 does not match the one recorded when it was "
                          "written); delete it to restart the run")
    return payload
