"""Readers that turn files into sample arrays.

Formats: IDX (the MNIST family), CIFAR-10 binary records, `.npy` / `.npz` / `.csv`
arrays of any feature size, CSV tables with text columns or missing values, and folders
of images whose subfolders are class labels. Every reader returns `RawArrays` in one
layout: images as (N, C, H, W), vectors as (N, D), tables as `Columns`, labels as int64 (N,).
Problems are reported as one-line GenlabErrors, and sizes a file declares are checked
against genlab.data.limits before anything is allocated for them.
"""

from __future__ import annotations

import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.data.columns import Columns
from genlab.data.csvfile import read_csv
from genlab.data.limits import MAX_CLASSES, MAX_IMAGE_PIXELS, expansion_limit, gigabytes
from genlab.data.npfiles import npz_keys, read_npy, read_npz_member
from genlab.errors import GenlabError
from genlab.settings import shown

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
GREY_MODES = ("1", "L", "LA", "I", "F")  # and the 16-bit modes I;16, I;16B, ...
NPZ_KEY_PAIRS = (("x_train", "y_train"), ("x", "y"), ("X", "y"), ("data", "labels"), ("features", "labels"))


@dataclass
class RawArrays:
    """Samples as read from disk, before splitting and preprocessing."""

    x_train: np.ndarray | Columns  # (N, C, H, W) images or (N, D) vectors (uint8 or float32), or a table
    y_train: np.ndarray | None
    x_test: np.ndarray | None = None  # present when the source has its own test split
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    audio: dict | None = None  # audio read as spectrograms: the front end's settings (genlab.data.spectrogram)
    # what identifies the data when its values may differ in the last bits between machines (audio: the clips'
    # bytes and the front end, not the spectrograms computed from them); genlab.data.memory.fingerprint uses it
    source_sha256: str | None = None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian header, then uint8 data."""
    data = bytearray(path.read_bytes())  # writable, so tensors can share it without a copy
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != 0x08 or len(data) < 4 + 4 * data[3]:
        raise GenlabError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != math.prod(dims):
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
        return RawArrays(as_samples(read_npy(path), path), None)
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".csv":
        content = read_csv(path, label_column, as_table or bool(column_types))
        x = content.x if isinstance(content.x, Columns) else as_samples(content.x, path)
        y = names = None
        if content.labels is not None:
            y, names = as_labels(content.labels, len(x), path)
        return RawArrays(x, y, class_names=names)
    raise GenlabError(f"{path}: unsupported file type '{shown(suffix)}'; use .npy, .npz, .csv or a folder of images")


def as_samples(array: np.ndarray, source: Path | str) -> np.ndarray:
    """Bring an array to (N, D) vectors or (N, C, H, W) images, uint8 or float32; reject NaN."""
    if array.dtype.kind not in "biuf" or array.dtype.fields is not None:
        raise GenlabError(f"{source}: values of type {str(array.dtype)[:60]} are not numbers; save a numeric array")
    if array.ndim < 2 or array.ndim > 4:
        raise GenlabError(
            f"{source}: array of shape {array.shape} is not one sample per row; "
            "expected (N, features), (N, H, W), (N, C, H, W) or (N, H, W, C)"
        )
    if len(array) == 0:
        raise GenlabError(f"{source}: no samples")
    if 0 in array.shape[1:]:
        raise GenlabError(f"{source}: samples of shape {array.shape[1:]} hold no values; each sample needs at "
                          "least one feature")
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1] not in (1, 3, 4) and array.shape[-1] in (1, 3, 4):
        array = np.ascontiguousarray(array.transpose(0, 3, 1, 2))  # NHWC -> NCHW
    elif array.ndim == 4 and array.shape[1] not in (1, 3, 4):
        raise GenlabError(f"{source}: images of shape {array.shape[1:]} need 1, 3 or 4 channels first or last")
    if array.dtype == np.uint8:
        return array
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32 become inf, reported below
        values = array.astype(np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        count = int(bad.sum())
        flat = int(np.argmax(bad.reshape(-1)))
        first = flat // (values.size // len(values))
        if array.dtype.kind == "f" and np.isfinite(array.reshape(-1)[flat]):
            raise GenlabError(f"{source}: values beyond float32's range (first in sample {first}); rescale the data")
        raise GenlabError(
            f"{source}: {count} value{'s are' if count > 1 else ' is'} NaN or infinite (first in sample "
            f"{first}); remove or impute {'them' if count > 1 else 'it'}"
        )
    return values


def as_labels(labels: np.ndarray, count: int, source: Path | str) -> tuple[np.ndarray, list[str] | None]:
    """Integer class labels 0..K-1 with K at most MAX_CLASSES (and their names, when the labels were text)."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != count:
        raise GenlabError(f"{source}: {len(labels)} labels for {count} samples")
    if count == 0:
        return labels.astype(np.int64), None
    if labels.dtype.kind in "US" or (labels.dtype.kind == "O" and all(isinstance(v, str) for v in labels)):
        names, codes = np.unique(labels, return_inverse=True)
        if len(names) > MAX_CLASSES:
            raise GenlabError(f"{source}: {len(names):,} distinct labels, more than the {MAX_CLASSES:,} classes genlab "
                              "takes; this is not a class column (name the labels with data.label_column)")
        return codes.reshape(-1).astype(np.int64), [str(name) for name in names]
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise GenlabError(f"{source}: labels must be whole numbers (class indices)")
    elif labels.dtype.kind not in "biu":
        raise GenlabError(f"{source}: labels of type {str(labels.dtype)[:60]} are not class indices")
    # checked before anything is sized by them (class names, a classifier's outputs)
    low, high = labels.min(), labels.max()
    if low < 0:
        raise GenlabError(f"{source}: labels must be class indices >= 0 (found {_number(low)}); number the classes 0..K-1")
    if high >= MAX_CLASSES:
        raise GenlabError(f"{source}: label {_number(high)} is too large: labels are class indices 0..K-1 with K at most "
                          f"{MAX_CLASSES:,}; number the classes 0..K-1 (np.unique(y, return_inverse=True)[1])")
    return labels.astype(np.int64), None


def _number(value) -> str:
    return f"{value:.6g}" if isinstance(value, np.floating) else str(int(value))


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


def decode_image(path: Path, image_size: list[int] | None = None, mode: str | None = None) -> np.ndarray:
    """One image file as uint8 (H, W) grey or (H, W, 3) colour (as stored, or as `mode` L / RGB says),
    resized to `image_size` [H, W] when given.

    The pixel count an image declares is checked before it is decoded: a small file that unpacks to
    gigabytes (a decompression bomb) is refused, as is anything Pillow cannot decode.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                _check_pixels(path, picture.size)
                picture.load()
                _check_pixels(path, picture.size)
                grey = picture.mode in GREY_MODES or picture.mode.startswith("I;16")
                picture = picture.convert(mode or ("L" if grey else "RGB"))
                if image_size is not None:
                    picture = picture.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
                return np.asarray(picture)
    except GenlabError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise GenlabError(f"{path}: declares more than {MAX_IMAGE_PIXELS:,} pixels (a possible decompression bomb); "
                          "shrink the image or leave it out") from None
    except MemoryError:
        raise GenlabError(f"{path}: too large to decode; shrink the image or leave it out") from None
    except Exception as error:  # noqa: BLE001 - decoders of untrusted bytes raise many types (OSError, SyntaxError, ...)
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise GenlabError(f"{path}: not a readable image ({reason})") from None


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise GenlabError(f"{path}: declares {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS:,} genlab "
                          "decodes (a possible decompression bomb); shrink the image or leave it out")


def _read_class_folders(
    root: Path, image_size: list[int] | None, classes: list[str] | None
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    try:
        subfolders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if len(subfolders) > MAX_CLASSES:
            raise GenlabError(f"{root}: {len(subfolders):,} class folders, more than the {MAX_CLASSES:,} classes "
                              "genlab takes")
        if classes is None:
            classes = subfolders or None
        elif set(subfolders) - set(classes):
            unknown = sorted(set(subfolders) - set(classes))
            raise GenlabError(f"{root}: classes {shown(unknown[:5])} are not in the training folder")
        entries: list[tuple[Path, int]] = []
        for index, name in enumerate(classes or [None]):
            folder = root / name if name is not None else root
            if not folder.is_dir():
                continue
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            entries += [(file, index) for file in files]
        file_bytes = sum(file.stat().st_size for file, _ in entries)
    except OSError as error:
        raise GenlabError(f"{root}: cannot be read ({error.strerror or error})") from None
    if not entries:
        raise GenlabError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")

    arrays, decoded = [], 0
    for file, _ in entries:
        array = decode_image(file, image_size)
        if arrays and array.shape[:2] != arrays[0].shape[:2]:
            a, b = sorted([array.shape[:2], arrays[0].shape[:2]])
            raise GenlabError(f"{root}: images differ in size ({a[0]}x{a[1]} and {b[0]}x{b[1]}); "
                              "resize them with --set data.image_size=[H,W]")
        decoded += array.size * (3 if array.ndim == 2 else 1)  # grey ones may yet become colour
        if decoded > expansion_limit(file_bytes):
            raise GenlabError(f"{root}: {gigabytes(file_bytes)} of image files decode to more than "
                              f"{gigabytes(decoded)} (a possible decompression bomb); shrink the images"
                              f"{' or choose a smaller data.image_size' if image_size else ''}")
        arrays.append(array)
    colour = any(array.ndim == 3 for array in arrays)
    if colour:  # what Pillow's L -> RGB conversion gives: the grey value in every channel
        arrays = [np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array for array in arrays]
    images = np.stack(arrays)
    images = images.transpose(0, 3, 1, 2) if colour else images[:, None]
    labels = np.array([label for _, label in entries], dtype=np.int64) if classes else None
    return np.ascontiguousarray(images), labels, classes


def _read_npz(path: Path) -> RawArrays:
    keys = npz_keys(path)
    for x_key, y_key in NPZ_KEY_PAIRS:
        if x_key in keys:
            x = as_samples(read_npz_member(path, x_key), f"{path}[{x_key}]")
            y = y_names = None
            if y_key in keys:
                y, y_names = as_labels(read_npz_member(path, y_key, text=True), len(x), f"{path}[{y_key}]")
            raw = RawArrays(x, y, class_names=y_names)
            if x_key == "x_train" and "x_test" in keys:
                raw.x_test = as_samples(read_npz_member(path, "x_test"), f"{path}[x_test]")
                if raw.x_test.shape[1:] != x.shape[1:]:
                    raise GenlabError(f"{path}: x_test samples {raw.x_test.shape[1:]} differ from x_train's {x.shape[1:]}")
                if "y_test" in keys:
                    raw.y_test = _test_labels(read_npz_member(path, "y_test", text=True), len(raw.x_test), y_names,
                                              f"{path}[y_test]")
            return raw
    if len(keys) == 1:
        return RawArrays(as_samples(read_npz_member(path, keys[0]), path), None)
    raise GenlabError(
        f"{path}: found arrays {shown(sorted(keys)[:12], 200)}; name the samples x (and labels y), or "
        "x_train/y_train/x_test/y_test"
    )


def _test_labels(values: np.ndarray, count: int, train_names: list[str] | None, source: str) -> np.ndarray:
    """Test labels numbered as the training labels were: text ones through the training split's names."""
    y, names = as_labels(values, count, source)
    if names is None and train_names is None:
        return y
    if names is None or train_names is None:
        raise GenlabError(f"{source}: the test labels are {'numbers' if names is None else 'text'} but the training "
                          "labels are not; label both splits alike")
    index = {name: i for i, name in enumerate(train_names)}
    unknown = next((name for name in names if name not in index), None)
    if unknown is not None:
        raise GenlabError(f"{source}: label '{shown(unknown)}' does not occur in the training labels; label both "
                          "splits with the same classes")
    return np.array([index[name] for name in names], dtype=np.int64)[y]
