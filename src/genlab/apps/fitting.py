"""Training a genlab model on data held in memory, for the scikit-learn style estimators."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.api import train
from genlab.data.memory import is_in_memory
from genlab.errors import GenlabError


def fit_on_arrays(model_name: str, x: Any, *, overrides: Mapping[str, Any], seed: int = 0,
                  run_dir: str | Path | None = None, progress: bool = False, device: str | None = None):
    """Train `model_name` on `x` (an array, tensor, DataFrame, ... : genlab.data.memory), all of it used for training.

    Without `run_dir` the run lives in a temporary folder and only the trained model is kept.
    """
    if not is_in_memory(x):
        raise GenlabError(f"X must be data (an array, tensor, DataFrame or Dataset), not a {type(x).__name__}")
    count = len(x[0] if isinstance(x, tuple) else x)
    if count < 2:
        raise GenlabError(f"X has {count} sample; at least 2 are needed to fit")
    with tempfile.TemporaryDirectory(prefix="genlab-fit-") as scratch:
        settings = {"data.val_fraction": 0.0, "data.test_fraction": 0.0, "train.tensorboard": False,
                    "train.preview_samples": 0, **overrides}
        # batches are whole (drop_last): a batch larger than the data would leave nothing to train on
        settings["train.batch_size"] = min(int(settings.get("train.batch_size", 128)), count)
        return train(model_name, x, run_dir=run_dir or Path(scratch) / "run", config={"seed": seed},
                     overrides=settings, progress=progress, device=device)
