"""Training a genlab model on data held in memory, for the scikit-learn style estimators."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.api import train
from genlab.data.memory import is_in_memory
from genlab.errors import GenlabError
from genlab.training.config import MAX_EPOCHS


def fit_on_arrays(model_name: str, x: Any, *, overrides: Mapping[str, Any], seed: int = 0,
                  run_dir: str | Path | None = None, progress: bool = False, device: str | None = None):
    """Train `model_name` on `x`, all of it used for training: data in memory (an array, tensor, DataFrame, ...:
    genlab.data.memory) or the path of a file or folder (a raw CSV table, say).

    Without `run_dir` the run lives in a temporary folder and only the trained model is kept.
    """
    if isinstance(x, (str, Path)):
        x = str(x)
    elif not is_in_memory(x):
        raise GenlabError(f"X must be data (an array, tensor, DataFrame or Dataset) or a path, not a {type(x).__name__}")
    else:
        count = len(x[0] if isinstance(x, tuple) else x)
        if count < 2:
            raise GenlabError(f"X has {count} sample; at least 2 are needed to fit")
    with tempfile.TemporaryDirectory(prefix="genlab-fit-") as scratch:
        # a scratch run is never resumed: its one checkpoint is the last epoch's
        scratch_only = {} if run_dir else {"train.checkpoint_epochs": MAX_EPOCHS}
        settings = {"data.val_fraction": 0.0, "data.test_fraction": 0.0, "train.tensorboard": False,
                    "train.preview_samples": 0, **overrides, **scratch_only}
        return train(model_name, x, run_dir=run_dir or Path(scratch) / "run", config={"seed": seed},
                     overrides=settings, progress=progress, device=device)
