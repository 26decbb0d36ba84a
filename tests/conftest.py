"""Shared fixtures: an isolated dataset cache, the CLI in-process, and the real-data copy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from genlab.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("GENLAB_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))

# small, fast settings for training in tests
QUICK = ["train.batch_size=64", "train.log_every=5", "train.preview_samples=16", "train.tensorboard=false"]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty dataset cache, so nothing leaks from ~/.cache/genlab."""
    cache = tmp_path_factory.mktemp("genlab-data")
    monkeypatch.setenv("GENLAB_DATA", str(cache))
    return cache


@pytest.fixture
def ieee_floats():
    """`genlab` in-process flushes denormal floats for the whole process (as the command does); property tests
    that draw floats (hypothesis draws denormals) need the IEEE default while they run."""
    torch.set_flush_denormal(False)
    yield


@pytest.fixture
def cli(capsys):
    """Run `genlab ARGS` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def shared_dataset(name: str) -> Path:
    folder = SHARED_DATASETS / name
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real {name} files not found in {SHARED_DATASETS} (set GENLAB_SHARED_DATASETS to a copy)")
    return folder


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for child genlab processes: same interpreter, deterministic thread count."""
    env = dict(os.environ)
    env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **extra})
    return env


PYTHON = sys.executable
