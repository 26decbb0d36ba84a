"""What an AnomalyDetector's sizes and training length stand for when left at None: values from the data.

The default model, an autoencoder ensemble (genlab.models.ensemble), trains for about two passes
over the data, at least MIN_STEPS and at most MAX_STEPS steps (but at least one pass). Measured on
the development half of the ADBench suite (benchmarks/anomaly_tables.py), longer training lets the
members learn the rare records too, and their scores get worse; floors of 100 and 300 steps tie
there, and 300 also learns a clean low-dimensional structure that 100 steps misses (the
off-plane test in tests/test_anomaly_ensemble.py). Trimming starts after TRIM_START of the steps.
Images get convolutional members (genlab.models.ensemble_conv), which need longer training to place
an image among its kind: IMAGE_PASSES passes, chosen with their size and score on a development
split of the MNIST and Fashion-MNIST training files (benchmarks/anomaly_image_weight.py), at most
IMAGE_MAX_STEPS steps (a bound on the time of large sets, not a measured optimum).
The other models keep their earlier defaults, except that the code is never wider than half the
features (an 8-dimensional code for 4 features would learn the identity and flag nothing).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from genlab.data.config import DataConfig
from genlab.data.dataset import read_raw
from genlab.data.memory import is_frame
from genlab.errors import GenlabError
from genlab.models.ensemble_conv import MIN_SIDE

ENSEMBLE = "ae-ensemble"
PASSES = 2
MIN_STEPS, MAX_STEPS = 300, 1000
IMAGE_PASSES, IMAGE_MAX_STEPS = 40, 4000
TRIM_START = 0.2
CODE_WIDTH = 8  # the other models' code width, at most half the features
HIDDEN = (256, 64)  # the other models' hidden widths
EPOCHS = 30  # the other models' epochs
CHECKPOINTS = 10  # about this many in a saved run: a small table's fit has hundreds of few-step epochs


def ensemble_epochs(rows: int, batch_size: int, images: bool = False) -> int:
    """Passes over `rows` records: PASSES, or more up to MIN_STEPS steps, fewer down to MAX_STEPS (at least 1);
    images (convolutional members): IMAGE_PASSES, fewer down to IMAGE_MAX_STEPS (at least 1)."""
    per_epoch = math.ceil(rows / min(batch_size, rows))
    if images:
        return max(1, min(IMAGE_PASSES, IMAGE_MAX_STEPS // per_epoch))
    return max(1, min(max(PASSES, math.ceil(MIN_STEPS / per_epoch)), MAX_STEPS // per_epoch))


def training_overrides(detector, X) -> dict:
    """The run settings for fitting `detector` on X (a path or data in memory), None settings filled in."""
    rows, width, shape = data_size(X)
    if rows < 2:  # a ValueError, as scikit-learn expects for empty data
        raise GenlabError(f"X has {rows} sample{'s' if rows != 1 else ''}; at least 2 are needed to fit")
    settings = {"train.batch_size": detector.batch_size, "train.lr": detector.lr}
    if detector.model == ENSEMBLE:
        images = detector.arch in ("auto", "conv") and looks_like_images(shape)
        epochs = detector.epochs or ensemble_epochs(rows, detector.batch_size, images)
        steps = epochs * math.ceil(rows / min(detector.batch_size, rows))
        settings.update({"train.epochs": epochs, "train.checkpoint_epochs": max(1, epochs // CHECKPOINTS),
                         "model.trim_start_step": int(TRIM_START * steps), "model.arch": detector.arch})
        if detector.latent_dim is not None:
            settings["model.latent_dim"] = detector.latent_dim
        if detector.rotations is not None:
            settings["model.rotations"] = detector.rotations
        if detector.hidden is not None:
            hidden = widths(detector.hidden)
            if len(hidden) != 1:
                raise GenlabError(f"an {ENSEMBLE}'s members have one hidden layer each: give hidden as one width "
                                  f"(got {hidden})")
            settings["model.hidden"] = hidden[0]
        return settings
    settings["model.arch"] = "mlp" if detector.arch == "auto" else detector.arch
    settings["model.latent_dim"] = detector.latent_dim or (max(1, min(CODE_WIDTH, width // 2)) if width else CODE_WIDTH)
    settings["model.hidden"] = widths(HIDDEN if detector.hidden is None else detector.hidden)
    settings["train.epochs"] = detector.epochs or EPOCHS
    settings["train.checkpoint_epochs"] = max(1, settings["train.epochs"] // CHECKPOINTS)
    return settings


def widths(hidden) -> list[int]:
    """`hidden` as a list of widths: one width may be given as a number."""
    return [hidden] if isinstance(hidden, int) else list(hidden)


def looks_like_images(shape: tuple[int, ...] | None) -> bool:
    """Whether records of this shape ((H, W), (C, H, W) or (H, W, C)) get an ensemble's convolutional members:
    two sides of at least MIN_SIDE."""
    return shape is not None and len(shape) in (2, 3) and sorted(shape)[-2] >= MIN_SIDE


def data_size(X) -> tuple[int, int, tuple[int, ...] | None]:
    """(records, values per record, one record's shape or None) of X; a table's columns count as one value each.
    A path is read for it."""
    if isinstance(X, (str, Path)):
        X = read_raw(DataConfig(name=str(X))).x_train
    if isinstance(X, tuple):
        X = X[0]
    if is_frame(X):
        return len(X), len(X.columns), None
    if hasattr(X, "names"):  # genlab Columns
        return len(X), len(X.names), None
    if hasattr(X, "shape"):
        return int(X.shape[0]), int(np.prod(X.shape[1:])), tuple(int(side) for side in X.shape[1:])
    return len(X), 0, None  # a Dataset: its width is known once read
