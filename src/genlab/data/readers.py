"""Readers that turn files into sample arrays.

Formats: IDX (the MNIST family), CIFAR-10 binary records, `.npy` / `.npz` / `.csv`
arrays of any feature size, CSV tables with text columns or missing values, and folders
of images whose subfolders are class labels. Every reader returns `RawArrays` in one
layout: images as (N, C, H, W), vectors as (N, D), tables as `Columns`, labels as int64 (N,). Problems are reported as one-line GenlabErrors.
"""

from __future__ import annotations

import csv
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from genlab.data.columns import Columns
from genlab.errors import GenlabError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
LABEL_COLUMN_NAMES = ("label", "labels", "target", "class", "y")
NPZ_KEY_PAIRS = (("x_train", "y_train"), ("x", "y"), ("X", "y"), ("data", "labels"), ("features", "labels"))


@dataclass
class RawArrays:
    """Samples as read from disk, before splitting and preprocessing."""

    x_train: np.ndarray | Columns  # (N, C, H, W) images or (N, D) vectors (uint8 or float32), or a table
    y_train: np.ndarray | None
    x_test: np.ndarray | None = None  # present when the source has its own test split
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian header, then uint8 data."""
    data = bytearray(path.read_bytes())  # writable, so tensors can share it without a copy
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise GenlabError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise GenlabError(f"{path} holds {array.size} values but its header announces {dims}")
    return array.reshape(dims)


def read_mnist_layout(directory: Path) -> RawArrays:
    """MNIST and Fashion-MNIST: four IDX files with the canonical names."""
    x_train = read_idx(directory / "train-images-idx3-ubyte")[:, None]
    y_train = read_idx(directory / "train-labels-idx1-ubyte").astype(np.int64)
    x_test = read_idx(directory / "t10k-images-idx3-ubyte")[:, None]
    y_test = read_idx(directory / "t10k-labels-idx1-ubyte").astype(np.int64)
    return RawArrays(x_train, y_train, x_test, y_test)


def read_cifar_records(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 binary batches: records of 1 label byte + 3x32x32 pixel bytes, channel-major."""
    record = 1 + 3 * 32 * 32
    images, labels = [], []
    for path in paths:
        data = np.fromfile(path, dtype=np.uint8)
        if data.size % record:
            raise GenlabError(f"{path} is not a CIFAR-10 binary batch ({data.size} bytes is not a multiple of {record})")
        rows = data.reshape(-1, record)
        labels.append(rows[:, 0].astype(np.int64))
        images.append(rows[:, 1:].reshape(-1, 3, 32, 32))
    return np.concatenate(images), np.concatenate(labels)


def read_array_file(path: Path, label_column: str | None = None, column_types: dict | None = None,
                    as_table: bool = False) -> RawArrays:
    """A .npy, .npz or .csv file of samples (one row per sample); a CSV with text or gaps is a table."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return RawArrays(as_samples(_load_numpy(path), path), None)
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".csv":
        return _read_csv(path, label_column, column_types, as_table)
    raise GenlabError(f"{path}: unsupported file type '{suffix}'; use .npy, .npz, .csv or a folder of images")


def as_samples(array: np.ndarray, source: Path | str) -> np.ndarray:
    """Bring an array to (N, D) vectors or (N, C, H, W) images, uint8 or float32; reject NaN."""
    if array.dtype.kind not in "biuf":
        raise GenlabError(f"{source}: values of type {array.dtype} are not numbers; save a numeric array")
    if array.ndim < 2 or array.ndim > 4:
        raise GenlabError(
            f"{source}: array of shape {array.shape} is not one sample per row; "
            "expected (N, features), (N, H, W), (N, C, H, W) or (N, H, W, C)"
        )
    if len(array) == 0:
        raise GenlabError(f"{source}: no samples")
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1] not in (1, 3, 4) and array.shape[-1] in (1, 3, 4):
        array = np.ascontiguousarray(array.transpose(0, 3, 1, 2))  # NHWC -> NCHW
    elif array.ndim == 4 and array.shape[1] not in (1, 3, 4):
        raise GenlabError(f"{source}: images of shape {array.shape[1:]} need 1, 3 or 4 channels first or last")
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(array), -1).any(axis=1))[0, 0])
        raise GenlabError(
            f"{source}: {int(bad.sum())} value{'s are' if bad.sum() > 1 else ' is'} NaN or infinite (first in sample "
            f"{first}); remove or impute {'them' if bad.sum() > 1 else 'it'}"
        )
    return array


def as_labels(labels: np.ndarray, count: int, source: Path | str) -> tuple[np.ndarray, list[str] | None]:
    """Integer class labels 0..K-1 (and their names, when the labels were text)."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != count:
        raise GenlabError(f"{source}: {len(labels)} labels for {count} samples")
    if labels.dtype.kind in "US":
        names, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.int64), [str(name) for name in names]
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise GenlabError(f"{source}: labels must be whole numbers (class indices)")
    elif labels.dtype.kind not in "biu":
        raise GenlabError(f"{source}: labels of type {labels.dtype} are not class indices")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise GenlabError(f"{source}: labels must be class indices >= 0 (found {labels.min()})")
    return labels, None


def read_image_folder(path: Path, image_size: list[int] | None = None) -> RawArrays:
    """A folder of images; subfolders are classes. `train/` and `test/` subfolders give the split."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        x_train, y_train, classes = _read_class_folders(path / "train", image_size, None)
        x_test, y_test, _ = _read_class_folders(path / "test", image_size, classes)
        if x_test.shape[1:] != x_train.shape[1:]:
            raise GenlabError(f"{path}: test images {x_test.shape[1:]} differ from train images {x_train.shape[1:]}")
        return RawArrays(x_train, y_train, x_test, y_test, classes)
    x, y, classes = _read_class_folders(path, image_size, None)
    return RawArrays(x, y, class_names=classes)


def _read_class_folders(
    root: Path, image_size: list[int] | None, classes: list[str] | None
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    subfolders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is None:
        classes = subfolders or None
    elif set(subfolders) - set(classes):
        raise GenlabError(f"{root}: classes {sorted(set(subfolders) - set(classes))} are not in the training folder")
    entries: list[tuple[Path, int]] = []
    for index, name in enumerate(classes or [None]):
        folder = root / name if name is not None else root
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        entries += [(file, index) for file in files]
    if not entries:
        raise GenlabError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")

    pictures = []
    for file, _ in entries:
        try:
            with Image.open(file) as picture:
                picture.load()
                grey = picture.mode in ("1", "L", "LA", "I", "I;16", "F")
                picture = picture.convert("L" if grey else "RGB")
                if image_size is not None:
                    picture = picture.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
                pictures.append(picture)
        except (UnidentifiedImageError, OSError) as error:
            raise GenlabError(f"{file}: not a readable image ({error})") from None
    sizes = {picture.size for picture in pictures}
    if len(sizes) > 1:
        a, b = sorted(sizes)[:2]
        raise GenlabError(
            f"{root}: images differ in size ({a[1]}x{a[0]} and {b[1]}x{b[0]}); "
            "resize them with --set data.image_size=[H,W]"
        )
    colour = any(picture.mode == "RGB" for picture in pictures)
    arrays = [np.asarray(picture.convert("RGB") if colour else picture) for picture in pictures]
    images = np.stack(arrays)
    images = images.transpose(0, 3, 1, 2) if colour else images[:, None]
    labels = np.array([label for _, label in entries], dtype=np.int64) if classes else None
    return np.ascontiguousarray(images), labels, classes


def _load_numpy(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error):
            raise GenlabError(f"{path} holds Python objects; save a plain numeric array (np.save)") from None
        raise GenlabError(f"{path}: not a readable NumPy file ({error})") from None
    except (OSError, EOFError) as error:
        raise GenlabError(f"{path}: not a readable NumPy file ({error})") from None


def _read_npz(path: Path) -> RawArrays:
    archive = _load_numpy(path)
    with archive:
        keys = set(archive.files)
        for x_key, y_key in NPZ_KEY_PAIRS:
            if x_key in keys:
                x = as_samples(archive[x_key], f"{path}[{x_key}]")
                y = y_names = None
                if y_key in keys:
                    y, y_names = as_labels(archive[y_key], len(x), f"{path}[{y_key}]")
                raw = RawArrays(x, y, class_names=y_names)
                if x_key == "x_train" and "x_test" in keys:
                    raw.x_test = as_samples(archive["x_test"], f"{path}[x_test]")
                    if raw.x_test.shape[1:] != x.shape[1:]:
                        raise GenlabError(f"{path}: x_test samples {raw.x_test.shape[1:]} differ from x_train's {x.shape[1:]}")
                    if "y_test" in keys:
                        raw.y_test, _ = as_labels(archive["y_test"], len(raw.x_test), f"{path}[y_test]")
                return raw
        if len(keys) == 1:
            return RawArrays(as_samples(archive[next(iter(keys))], path), None)
    raise GenlabError(
        f"{path}: found arrays {sorted(keys)}; name the samples x (and labels y), or x_train/y_train/x_test/y_test"
    )


def _read_csv(path: Path, label_column: str | None, column_types: dict | None = None, as_table: bool = False) -> RawArrays:
    """A CSV file: a plain number array when every feature is a number, else a mixed-type table (Columns)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except UnicodeDecodeError:
        raise GenlabError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as error:
        raise GenlabError(f"{path}: not a readable CSV file ({error})") from None
    if not rows:
        raise GenlabError(f"{path}: empty CSV file")
    first = rows[0]
    if len(first) == 1 and any(separator in first[0] for separator in (";", "\t", "|")):
        raise GenlabError(f"{path}: one column whose header holds ';', tabs or '|': genlab reads comma-separated "
                          "files; save it with commas")
    has_header = not all(_is_number(cell) for cell in first)
    names = [cell.strip() for cell in first] if has_header else [str(i) for i in range(len(first))]
    body = rows[int(has_header):]
    if not body:
        raise GenlabError(f"{path}: no rows below the header")
    ragged = next((i for i, row in enumerate(body) if len(row) != len(names)), None)
    if ragged is not None:
        raise GenlabError(f"{path}: row {ragged + 1 + int(has_header)} has {len(body[ragged])} fields "
                          f"where the header has {len(names)}")
    label_index = _label_index(names, label_column, path)
    cells = np.array(body, dtype=object)
    y = names_out = None
    if label_index is not None:
        raw_labels = cells[:, label_index].astype(str)
        numeric = all(_is_number(value) for value in raw_labels[:1000])
        y, names_out = as_labels(raw_labels.astype(np.float64) if numeric else raw_labels, len(cells), path)
    feature_columns = [i for i in range(len(names)) if i != label_index]
    if not feature_columns:
        raise GenlabError(f"{path}: no feature columns besides the label")
    if not column_types and not as_table:
        try:
            x = cells[:, feature_columns].astype(np.float64)
        except ValueError:
            x = None
        if x is not None and np.isfinite(x).all():
            return RawArrays(as_samples(x.astype(np.float32), path), y, class_names=names_out)
    table = Columns([names[i] for i in feature_columns], [cells[:, i] for i in feature_columns])
    return RawArrays(table, y, class_names=names_out)


def _label_index(names: list[str], label_column: str | None, path: Path) -> int | None:
    if label_column is None:
        lowered = [name.lower() for name in names]
        return next((lowered.index(name) for name in LABEL_COLUMN_NAMES if name in lowered), None)
    if label_column in names:
        return names.index(label_column)
    if label_column.lstrip("-").isdigit() and -len(names) <= int(label_column) < len(names):
        return int(label_column) % len(names)
    raise GenlabError(f"{path}: no column '{label_column}' (columns: {', '.join(names[:12])})")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
