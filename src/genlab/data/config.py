"""The data section of a run's config: where the data comes from and how it becomes model inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genlab.bounds import MAX_SEED
from genlab.errors import GenlabError

MAX_IMAGE_SIDE = 4096  # data.image_size: pixels per side an image folder may be resized to


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
    label_pattern: str | None = None  # audio folders: a regex whose first group is the label, e.g. ^(\\d+)_
    # audio: the log-mel front end (genlab.data.spectrogram.Spectrogram: rate, samples, n_fft, hop, mels, fmin,
    # fmax, floor_db); unset keys are chosen from the clips, and the whole is recorded at the first training
    audio: dict | None = None
    root: str | None = None  # dataset cache; default $GENLAB_DATA or ~/.cache/genlab
    # what the run was trained on (shape, dtype, sha256, columns), recorded at the first training; a rerun
    # on data with another fingerprint is refused unless this is set to null
    fingerprint: dict | None = None

    def check(self) -> None:
        if not self.name:
            raise GenlabError("data.name is empty; name a dataset, an array file or an image folder")
        if not 0.0 <= self.val_fraction < 1.0:
            raise GenlabError(f"data.val_fraction must be in [0, 1) (got {self.val_fraction})")
        if not 0.0 <= self.test_fraction < 1.0:
            raise GenlabError(f"data.test_fraction must be in [0, 1) (got {self.test_fraction})")
        check_seed(self.split_seed, "data.split_seed")
        if self.image_size is not None and (len(self.image_size) != 2 or not all(
                1 <= side <= MAX_IMAGE_SIDE for side in self.image_size)):
            raise GenlabError(f"data.image_size must be [height, width], each from 1 to {MAX_IMAGE_SIDE} "
                              f"(got {str(self.image_size)[:80]})")
        if self.label_pattern is not None and not isinstance(self.label_pattern, str):
            raise GenlabError(f"data.label_pattern must be a regular expression (got {str(self.label_pattern)[:80]})")
        if self.audio is not None and not isinstance(self.audio, dict):
            raise GenlabError("data.audio must be a mapping of front-end settings, e.g. {rate: 16000, mels: 80} "
                              f"(got {str(self.audio)[:80]})")


def check_seed(seed: int, key: str) -> int:
    if not 0 <= seed <= MAX_SEED:
        raise GenlabError(f"{key} must be a whole number from 0 to 2^53-1 (got {seed})")
    return seed
