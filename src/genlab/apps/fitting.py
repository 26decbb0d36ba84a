"""Training a genlab model on arrays held in memory, for the scikit-learn style estimators."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genlab.api import train
from genlab.data.readers import as_samples
from genlab.errors import GenlabError


def fit_on_arrays(model_name: str, x: np.ndarray, *, overrides: Mapping[str, Any], seed: int = 0,
                  run_dir: str | Path | None = None, progress: bool = False):
    """Train `model_name` on the samples `x` (N, D) or images, all of them used for training.

    The arrays go through a temporary .npz file so that they take the same path as any
    user data (checks, preprocessing fitted on them, run directory). Without `run_dir`
    the run lives in a temporary folder and only the trained model is kept.
    """
    x = as_samples(np.asarray(x), "X")
    if len(x) < 2:
        raise GenlabError(f"X has {len(x)} sample; at least 2 are needed to fit")
    with tempfile.TemporaryDirectory(prefix="genlab-fit-") as scratch:
        data_file = Path(scratch) / "data.npz"
        # the same samples serve as the test split, so that none are held out of training
        np.savez(data_file, x_train=x, x_test=x[:1])
        settings = {"data.val_fraction": 0.0, "train.tensorboard": False, "train.preview_samples": 0, **overrides}
        # batches are whole (drop_last): a batch larger than the data would leave nothing to train on
        settings["train.batch_size"] = min(int(settings.get("train.batch_size", 128)), len(x))
        return train(model_name, str(data_file), run_dir=run_dir or Path(scratch) / "run",
                            config={"seed": seed}, overrides=settings, progress=progress)
