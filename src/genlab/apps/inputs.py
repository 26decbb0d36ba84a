"""Files in and out of the applications: image files, image folders, audio clips and array files.

Applications read what a user has on disk (PNG/JPEG files, a folder of them, or a
.npy/.npz/.csv array) and bring it to the model's input space:
- for image models, 8-bit values (image files, uint8 arrays) are pixel intensities
  0..255, whatever units the training data had; float arrays are in the training
  data's own units (floats in [0, 1] are accepted for models trained on 8-bit images);
- for vector models, values go through the preprocessing fitted on the training data;
- for models of audio (spectrograms), WAV/FLAC/OGG clips go through the model's own front end.
genlab.apps.outputs writes results back in the same units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from genlab.data.audio import AUDIO_SUFFIXES
from genlab.data.audio_folder import audio_files, holds_audio, spectrograms
from genlab.data.columns import Columns
from genlab.data.readers import IMAGE_SUFFIXES, decode_image, read_array_file
from genlab.data.spectrogram import Spectrogram
from genlab.errors import GenlabError
from genlab.models.units import to_model_space
from genlab.settings import shown

ARRAY_SUFFIXES = (".npy", ".npz", ".csv")


def read_samples(paths: Sequence[str | Path], channels: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Stored samples (N, C, H, W) or (N, D) from files and folders, and a name for each.

    Images are read as grey when `channels` is 1 and as RGB when it is 3; array files
    are taken as they are (one sample per row).
    """
    if not paths:
        raise GenlabError("no input given; name image files, a folder of images, or a .npy/.npz/.csv file")
    arrays, names = [], []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise GenlabError(f"{path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
            arrays += [read_image(file, channels)[None] for file in files]
            names += [file.stem for file in files]
        elif not path.is_file():
            raise GenlabError(f"{path}: no such file or folder")
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            arrays.append(read_image(path, channels)[None])
            names.append(path.stem)
        elif path.suffix.lower() in ARRAY_SUFFIXES:
            raw = read_array_file(path)
            if isinstance(raw.x_train, Columns):  # a CSV with text, gaps or inf is read as a table: no samples
                raise GenlabError(f"{path}: {first_non_number(raw.x_train)}, not a finite number; this model takes "
                                  "numbers only: remove or impute it")
            arrays.append(raw.x_train if raw.x_test is None else np.concatenate([raw.x_train, raw.x_test]))
            names += [f"{path.stem}_{i:05d}" for i in range(len(arrays[-1]))]
        else:
            raise GenlabError(f"{path}: unsupported file type '{path.suffix}'; use images, a folder of images, "
                              f"or {', '.join(ARRAY_SUFFIXES)}")
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise GenlabError(f"inputs differ in shape ({', '.join('x'.join(map(str, s)) for s in sorted(shapes))}); "
                          "give samples of one shape")
    dtypes = {a.dtype for a in arrays}
    stacked = np.concatenate(arrays) if len(dtypes) == 1 else np.concatenate([a.astype(np.float32) for a in arrays])
    return stacked, names


def first_non_number(table: Columns) -> str:
    """Where a table first holds a cell that is not a finite number: 'record R, column 'C' holds 'X''."""
    for row in range(len(table)):
        for name, column in zip(table.names, table.values):
            try:
                if math.isfinite(float(column[row])):
                    continue
            except (TypeError, ValueError):
                pass
            return f"record {row + 1}, column '{shown(name)}' holds '{shown(column[row])}'"
    return "a cell"


def read_image(path: Path, channels: int | None = None) -> np.ndarray:
    """One image file as uint8 (C, H, W); its declared size is checked before decoding (genlab.data.readers)."""
    array = decode_image(path, mode=None if channels is None else ("L" if channels == 1 else "RGB"))
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1).copy()


def read_mask(path: str | Path, shape: tuple[int, ...], count: int) -> torch.Tensor:
    """A missing-pixel mask for `count` samples of `shape`: True where a value is unknown.

    The mask is an image (white or non-zero = missing) or an array of 0/1 values, either
    one mask for every input or one per input; colour images share a mask across channels.
    """
    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"mask {path}: no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        values = read_image(path, channels=1)[None].astype(np.float32) / 255.0
    elif path.suffix.lower() in (".npy", ".npz", ".csv"):
        values = read_array_file(path).x_train.astype(np.float32)
        values = values / 255.0 if values.max() > 1 else values
        if not np.isin(values, (0.0, 1.0)).all():  # a typo such as 7 would otherwise read as "known"
            raise GenlabError(f"mask {path} holds values other than 0 and 1 (or 0 and 255); "
                              "use 0 for known and 1 for missing")
        if len(shape) == 3 and values.shape == tuple(shape[-2:]):
            values = values[None]  # one (H, W) mask, read as H rows of W values
    else:
        raise GenlabError(f"mask {path}: use an image or a .npy/.csv array of 0 (known) and 1 (missing)")
    mask = torch.from_numpy(values) > 0.5
    spatial = tuple(shape[-2:]) if len(shape) == 3 else tuple(shape)
    if tuple(mask.shape[-len(spatial):]) != spatial or len(mask) not in (1, count):
        raise GenlabError(f"mask {path} has shape {tuple(mask.shape)}; it must cover each input "
                          f"({'x'.join(map(str, spatial))}), once or once per input ({count})")
    if len(shape) == 3:
        mask = mask.reshape(len(mask), -1, *spatial)[:, :1].expand(len(mask), shape[0], *spatial)
    mask = mask.reshape(len(mask), *shape).expand(count, *shape)
    if bool(mask.all()):
        raise GenlabError(f"mask {path} marks every value as missing; leave some known values to fill from")
    return mask


def read_inputs(model, paths: Sequence[str | Path]) -> tuple[torch.Tensor, list[str]]:
    """Files, folders and arrays -> the model's inputs (N, ...) and a name for each.

    A model trained on a table reads CSV tables (columns matched by name)."""
    if model.config.table:
        table, names = read_table(paths)
        return model.preprocess(table).cpu(), names
    if model.config.audio and paths and all(is_audio_input(Path(p)) for p in paths):
        stored, names = read_clips(paths, Spectrogram.from_dict(model.config.audio))
        return to_model_space(model, stored), names
    channels = model.config.data_shape[0] if model.config.is_image else None
    stored, names = read_samples(paths, channels)
    return to_model_space(model, stored), names


def is_audio_input(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES or (path.is_dir() and holds_audio(path))


def clip_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Audio files, and the clips in folders of them, in order."""
    files = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files += audio_files(path)
        elif not path.is_file():
            raise GenlabError(f"{path}: no such file or folder")
        else:
            files.append(path)
    return files


def read_clips(paths: Sequence[str | Path], front) -> tuple[np.ndarray, list[str]]:
    """Audio files and folders of them -> their spectrograms under the model's front end (N, 1, mels, frames),
    each clip cut or padded to the front end's length, and a name for each."""
    files = clip_paths(paths)
    return spectrograms(files, front), [file.stem for file in files]


def read_table(paths: Sequence[str | Path]) -> tuple[Columns, list[str]]:
    """CSV tables with a header row -> one table (the files' rows in order) and a name per row."""
    if not paths:
        raise GenlabError("no input given; name one or more .csv tables")
    tables, names = [], []
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise GenlabError(f"{path}: no such file")
        if not path.is_file() or path.suffix.lower() != ".csv":
            raise GenlabError(f"{path}: this model takes records; give .csv tables with a header row")
        table = read_array_file(path, as_table=True).x_train
        tables.append(table)
        names += [f"{path.stem}_{i:05d}" for i in range(len(table))]
    if len({tuple(t.names) for t in tables}) > 1:
        raise GenlabError("the tables have different columns; give tables with one header")
    return Columns(tables[0].names, [np.concatenate([t.values[i] for t in tables]) for i in range(len(tables[0].names))]), names
