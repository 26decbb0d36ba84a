"""The data section of a run's config: where the data comes from and how it becomes model inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genlab.errors import GenlabError


@dataclass
class DataConfig:
    """Where the data comes from and how it is turned into model inputs."""

    name: str = "digits"  # a named dataset (`genlab data list`), an array file or an image folder
    normalize: Literal["auto", "unit", "symmetric", "standardize", "none"] = "auto"
    binarize: Literal["none", "dynamic", "static"] = "none"
    val_fraction: float = 0.1  # of the training split, held out for validation
    test_fraction: float = 0.2  # only for data that has no test split of its own (0: train on all of it)
    split_seed: int = 0  # fixed apart from the run seed, so every run sees the same splits
    label_column: str | None = None  # CSV or DataFrame column holding labels (default: label/target/class/y if present)
    column_types: dict[str, str] | None = None  # tables: kinds to force, e.g. {port: categorical}; others are inferred
    image_size: list[int] | None = None  # [H, W] to resize an image folder to
    root: str | None = None  # dataset cache; default $GENLAB_DATA or ~/.cache/genlab
    # what the run was trained on (shape, dtype, sha256, columns), recorded at the first training; a rerun
    # on data with another fingerprint is refused unless this is set to null
    fingerprint: dict | None = None

    def check(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise GenlabError(f"data.val_fraction must be in [0, 1) (got {self.val_fraction})")
        if not 0.0 <= self.test_fraction < 1.0:
            raise GenlabError(f"data.test_fraction must be in [0, 1) (got {self.test_fraction})")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 1):
            raise GenlabError(f"data.image_size must be [height, width] (got {self.image_size})")
