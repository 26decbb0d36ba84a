"""Loading any supported data into train / validation / test tensors held in memory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.data.audio_folder import holds_audio, read_audio_folder, read_listed_clips
from genlab.data.catalog import NAMED_DATASETS, NamedDataset
from genlab.data.columns import Columns
from genlab.data.config import DataConfig
from genlab.data.download import data_root, fetch_archive, fetch_files, verify_cached
from genlab.data.limits import MAX_TABLE_INPUTS, check_fits_in_memory, expansion_limit, gigabytes
from genlab.data.memory import IN_MEMORY, describe, fingerprint, read_in_memory
from genlab.data.preprocessing import Preprocessing, fit_preprocessing
from genlab.data.readers import RawArrays, as_labels, read_array_file, read_image_folder
from genlab.data.tables import TableEncoding
from genlab.errors import DataUnavailableError, GenlabError
from genlab.settings import shown

logger = logging.getLogger(__name__)


@dataclass
class Split:
    x: torch.Tensor  # (N, C, H, W) or (N, D) as stored: uint8 or float32
    y: torch.Tensor | None  # (N,) int64

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    shape: tuple[int, ...]  # one sample: (C, H, W) for images, (D,) for vectors
    num_classes: int | None
    class_names: list[str] | None
    preprocessing: Preprocessing
    test_split: str  # "published" (the dataset's own) or "seeded" (cut by genlab with data.split_seed)
    table: TableEncoding | None = None  # how a mixed-type table's columns became the vectors
    fingerprint: dict | None = None  # what the source held (genlab.data.memory.fingerprint)
    audio: dict | None = None  # clips read as spectrograms: the front end's settings (genlab.data.spectrogram)

    @property
    def kind(self) -> str:
        return "image" if len(self.shape) == 3 else "vector"

    def split(self, name: str) -> Split:
        if name not in ("train", "val", "test"):
            raise GenlabError(f"unknown split '{name}' (train, val or test)")
        return getattr(self, name)


def load_dataset(
    config: DataConfig | str, *, download: bool = True, mirror: str | None = None, image_range: str = "unit",
    source: Any = None, table: TableEncoding | None = None,
) -> Dataset:
    """Read `config.name` (a named dataset, an array file or an image folder), or `source` (data in
    memory: see genlab.data.memory), into memory.

    `image_range` is where data.normalize=auto puts images: unit [0, 1] or symmetric [-1, 1].
    A recorded `config.fingerprint` must match the data read. A table is encoded with
    `table` when given (a trained model's encoding), else with one fitted on its training rows.
    """
    config = DataConfig(name=config) if isinstance(config, str) else config
    raw = read_in_memory(source, config.label_column) if source is not None else read_raw(config, download=download, mirror=mirror)
    print_ = fingerprint(raw)
    check_fingerprint(config, print_)
    x_train, y_train = raw.x_train, raw.y_train
    _check_split_sizes(config, len(x_train), published=raw.x_test is not None)
    if raw.x_test is not None:
        x_test, y_test, test_split = raw.x_test, raw.y_test, "published"
    else:
        keep, held = _split_indices(len(x_train), config.test_fraction, config.split_seed)
        x_test, y_test = x_train[held], _take(y_train, held)
        x_train, y_train = x_train[keep], _take(y_train, keep)
        test_split = "seeded"
    keep, held = _split_indices(len(x_train), config.val_fraction, config.split_seed + 1)
    x_val, y_val = x_train[held], _take(y_train, held)
    x_train, y_train = x_train[keep], _take(y_train, keep)

    table = None
    if isinstance(x_train, Columns):
        x_train, x_val, x_test, table = _encode_table(config, table, x_train, x_val, x_test)
    kind = "image" if x_train.ndim == 4 else "vector"
    if config.binarize == "static":
        if kind != "image":
            raise GenlabError("data.binarize=static is for images; vectors cannot be binarised")
        x_train, x_val, x_test = (_binarize_once(x, config.split_seed + i) for i, x in enumerate((x_train, x_val, x_test)))
    if table is not None:
        preprocessing = Preprocessing("real", [1.0], [0.0])  # the table's encoding has scaled every column
    else:
        preprocessing = fit_preprocessing(x_train, kind, config.normalize, config.binarize, image_range)

    labels = [y for y in (y_train, y_val, y_test) if y is not None and len(y)]
    class_names = raw.class_names if labels else None
    if labels and class_names is None:
        class_names = [str(i) for i in range(int(max(y.max() for y in labels)) + 1)]
    num_classes = len(class_names) if class_names else None
    return Dataset(
        name=config.name,
        train=Split(torch.from_numpy(np.ascontiguousarray(x_train)), _as_tensor(y_train)),
        val=Split(torch.from_numpy(np.ascontiguousarray(x_val)), _as_tensor(y_val)),
        test=Split(torch.from_numpy(np.ascontiguousarray(x_test)), _as_tensor(y_test)),
        shape=tuple(x_train.shape[1:]),
        num_classes=num_classes,
        class_names=class_names,
        preprocessing=preprocessing,
        test_split=test_split,
        table=table,
        fingerprint=print_,
        audio=raw.audio,
    )


def check_fingerprint(config: DataConfig, found: dict) -> None:
    """Refuse data other than what a run recorded (config.fingerprint), unless the record is cleared."""
    expected = config.fingerprint
    if not expected or expected.get("sha256") == found.get("sha256"):
        return
    raise GenlabError(
        f"this run was trained on {describe(expected)}, but the data given is {describe(found)}; pass the same "
        "data, or clear the record to use other data (--set data.fingerprint=null on the command line, "
        "overrides={'data.fingerprint': None} in Python)"
    )


def _encode_table(config: DataConfig, table: TableEncoding | None, *parts: Columns) -> tuple:
    """Fit the table encoding on the training rows (unless given) and apply it to every split."""
    if config.binarize != "none":
        raise GenlabError("data.binarize is for images; a table cannot be binarised")
    if config.normalize not in ("auto", "standardize"):
        raise GenlabError(f"a table's columns are scaled by their own encoding; leave data.normalize at auto "
                          f"(not {config.normalize})")
    if table is None:
        table = TableEncoding.fit(parts[0], config.column_types)
        logger.debug(table.summary())
    rows = sum(len(part) for part in parts)
    encoded = rows * table.width * 4  # float32
    if table.width > MAX_TABLE_INPUTS or encoded > expansion_limit(rows * len(table.columns) * 8):
        widest = max(table.columns, key=lambda column: column.width)
        raise GenlabError(f"the table's encoding is {table.width:,} model inputs per row ({gigabytes(encoded)} for "
                          f"{rows:,} rows), {widest.width:,} of them for column '{shown(widest.name)}'; drop columns "
                          "with many categories, or declare them numeric in data.column_types")
    check_fits_in_memory(encoded, "the table's encoding")
    return (*(table.encode(part) for part in parts), table)


def read_raw(config: DataConfig, *, download: bool = True, mirror: str | None = None) -> RawArrays:
    """The source's arrays as stored, before splitting."""
    if config.name == IN_MEMORY:
        what = describe(config.fingerprint) if config.fingerprint else "data passed from Python"
        raise GenlabError(f"this run was trained on {what}; pass that data again (data=X in Python; to evaluate "
                          "or use the model on a file holding it, --data FILE)")
    if config.name in NAMED_DATASETS:
        named = NAMED_DATASETS[config.name]
        _refuse_unused(config, "a named dataset", ("label_column", "column_types", "image_size", "label_pattern",
                                                   *(() if named.clips else ("audio",))))
        directory = ensure_named_dataset(named, config.root, download=download, mirror=mirror)
        if named.clips is not None:
            # the set's own front end, or the settings given with the rest chosen from its clips
            raw = read_listed_clips(*named.clips(directory), config.audio or named.front_end)
        else:
            raw = named.read(directory)
        raw.class_names = list(named.class_names)
        return raw
    try:
        path = Path(config.name).expanduser()
        is_dir, is_file = path.is_dir(), path.is_file()
    except (OSError, RuntimeError) as error:  # a name too long for a path, a ~user that does not exist
        raise GenlabError(f"unknown dataset '{shown(config.name)}': not a usable path ({shown(error, 120)})") from None
    if is_dir and holds_audio(path):
        _refuse_unused(config, "an audio folder", ("label_column", "column_types", "image_size"))
        return read_audio_folder(path, config.audio, config.label_pattern)
    if is_dir:
        _refuse_unused(config, "an image folder", ("label_column", "column_types", "label_pattern", "audio"))
        return read_image_folder(path, config.image_size)
    if is_file:
        _refuse_unused(config, "an array file", ("image_size", "label_pattern", "audio") if path.suffix.lower() == ".csv"
                       else ("label_column", "column_types", "image_size", "label_pattern", "audio"))
        raw = read_array_file(path, config.label_column, config.column_types)
        if raw.y_train is not None:
            raw.y_train, _ = as_labels(raw.y_train, len(raw.x_train), path)
        return raw
    raise GenlabError(
        f"unknown dataset '{shown(config.name)}': not a named dataset ({', '.join(NAMED_DATASETS)}) "
        "nor an existing .npy/.npz/.csv file, image folder or audio folder"
    )


def _refuse_unused(config: DataConfig, kind: str, keys: tuple[str, ...]) -> None:
    """A setting that does nothing for this kind of data is a mistake to point out, not to ignore."""
    for key in keys:
        if getattr(config, key) is not None:
            applies = {"label_column": "CSV files and DataFrames", "column_types": "CSV files and DataFrames",
                       "image_size": "image folders", "label_pattern": "audio folders",
                       "audio": "audio folders and fsdd"}[key]
            raise GenlabError(f"data.{key} applies to {applies}, and '{shown(config.name)}' is {kind}; "
                              f"remove data.{key} (or set it to null)")


def ensure_named_dataset(
    named: NamedDataset, root: str | None = None, *, download: bool = True, mirror: str | None = None
) -> Path:
    """The verified cache folder of a named dataset, downloading missing files when allowed."""
    directory = data_root(root) / named.name
    if not named.needs_files:
        return directory
    missing = verify_cached(named.name, directory, named.files)
    if not missing:
        return directory
    if not download:
        raise DataUnavailableError(
            f"{named.name}: {', '.join(missing)} missing from {directory}; "
            f"run `genlab data fetch {named.name}` (or --mirror FOLDER_OR_URL with a copy)"
        )
    mirrors = (mirror,) if mirror else named.mirrors
    if named.archive is not None:
        fetch_archive(named.name, directory, named.archive, mirrors)
    else:
        fetch_files(named.name, directory, named.files, mirrors)
    return directory


def _split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded (keep, held-out) partition of range(count), each in ascending order."""
    held_count = _held_count(count, fraction)
    if held_count >= count or (fraction > 0 and held_count == 0):  # _check_split_sizes said so first
        raise GenlabError(f"{count} samples are too few to hold out a fraction of {fraction}")
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[held_count:]), np.sort(order[:held_count])


def _held_count(count: int, fraction: float) -> int:
    """How many of `count` samples a split of `fraction` holds: at least one when the fraction is positive."""
    held = int(round(count * fraction))
    return max(held, 1) if fraction > 0 and count > 1 else held


def _splits_fit(count: int, config: DataConfig, published: bool) -> str | None:
    """The split (test or val) that `count` samples are too few for, or None when every split gets samples."""
    for what, fraction in ((None if published else "test", config.test_fraction), ("val", config.val_fraction)):
        if what is None or fraction == 0:
            continue
        held = _held_count(count, fraction)
        if held == 0 or held >= count:
            return what
        count -= held
    return None


def _check_split_sizes(config: DataConfig, count: int, published: bool) -> None:
    """Refuse data too small for a non-empty training split and every split asked for, naming the minimum."""
    short = _splits_fit(count, config, published)
    if short is None:
        return
    low, high = count, max(2 * count, 2)
    while _splits_fit(high, config, published) is not None:  # holding enough out only gets easier with more data
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _splits_fit(middle, config, published) is None else (middle, high)
    fraction = config.test_fraction if short == "test" else config.val_fraction
    raise GenlabError(f"{count} sample{'s are' if count != 1 else ' is'} too few for a {short} split of "
                      f"{fraction:g} beside a training split: at least {high} are needed; add samples, or set "
                      f"data.{short}_fraction=0 to go without a {short} split")


def _take(y: np.ndarray | None, indices: np.ndarray) -> np.ndarray | None:
    return None if y is None else y[indices]


def _as_tensor(y: np.ndarray | None) -> torch.Tensor | None:
    return None if y is None else torch.from_numpy(np.ascontiguousarray(y))


def _binarize_once(x: np.ndarray, seed: int) -> np.ndarray:
    """Static binarisation: one Bernoulli draw per pixel, fixed by the seed."""
    high = 255.0 if x.dtype == np.uint8 else 1.0
    draw = np.random.default_rng(seed).random(x.shape, dtype=np.float32) * high
    on = draw < x
    return (on * 255).astype(np.uint8) if x.dtype == np.uint8 else on.astype(np.float32)
