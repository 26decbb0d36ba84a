"""Raw data in its own units <-> model inputs: what `model.preprocess` and `model.postprocess` do.

Raw data is what a user holds: 8-bit images, floats in the training data's units, or a
table (a pandas DataFrame, `Columns`, or an array with one column per table column).
Model inputs are float32 tensors on the model's device, exactly as the model saw its
training data. Units:
- image models: 8-bit values (uint8 arrays or tensors) are pixel intensities 0..255,
  whatever units the training data had; float arrays are in the training data's own
  units (floats in [0, 1] are accepted for a model trained on 8-bit images); results
  come back as uint8 for a model trained on 8-bit images, float32 otherwise;
- vector models: values go through the preprocessing fitted on the training data, and
  results come back in the training data's units (float32);
- table models: columns are matched by name and encoded as in training (genlab.data.tables);
  results come back as a DataFrame (when pandas is installed; else `Columns`) with the
  original column names and category strings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from genlab.data.columns import Columns
from genlab.data.memory import is_frame, is_in_memory, read_in_memory, to_numpy
from genlab.data.preprocessing import Preprocessing
from genlab.data.readers import as_samples
from genlab.data.tables import TableEncoding
from genlab.errors import GenlabError

BOUNDS = ("unit", "symmetric")  # image models whose inputs have a fixed range


def preprocess(model, raw: Any, source: str = "input") -> torch.Tensor:
    """Raw data (see the module's note) -> model inputs (N, ...) on the model's device.

    An (X, y) pair or a torch Dataset gives its X (labels are not model inputs)."""
    if isinstance(raw, (tuple, TorchDataset)):
        raw = read_in_memory(raw).x_train
    if model.config.table:
        return _encode_table(model, raw, source).to(model.device)
    if not is_in_memory(raw):
        raise GenlabError(f"{source}: give data (an array, tensor or DataFrame), not a {type(raw).__name__}")
    return to_model_space(model, to_numpy(raw, source), source).to(model.device)


def postprocess(model, x: torch.Tensor):
    """Model outputs (N, ...) -> raw data: uint8 or float32 arrays, or a table (see the module's note)."""
    x = torch.as_tensor(x)
    if model.config.table:
        return to_columns(model, x).for_user()
    return to_stored_units(model, x)


def to_columns(model, x: torch.Tensor) -> Columns:
    """A table model's outputs (N, width) -> records with the training table's columns and categories."""
    return TableEncoding.from_dict(model.config.table).decode(x.detach().float().cpu().numpy())


def is_raw(x: Any) -> bool:
    """Whether `x` is raw data rather than model inputs: anything but a floating-point torch tensor."""
    return not (isinstance(x, torch.Tensor) and x.is_floating_point())


def like_input(raw: Any, result):
    """A raw result in the layout of the raw input it came from: (N, H, W) in, (N, H, W) out; channels last
    in, channels last out."""
    shape = getattr(raw, "shape", None)
    if not isinstance(result, np.ndarray) or shape is None or result.ndim != 4 or len(shape) not in (3, 4):
        return result
    if len(shape) == 3 and result.shape[1] == 1 and tuple(result.shape[2:]) == tuple(shape[1:]):
        return result[:, 0]
    if len(shape) == 4 and tuple(shape[1:3]) == tuple(result.shape[2:]) and shape[3] == result.shape[1] \
            and shape[1] != result.shape[1]:
        return np.ascontiguousarray(result.transpose(0, 2, 3, 1))
    return result


def to_model_space(model, stored: np.ndarray, source: str = "input") -> torch.Tensor:
    """Stored samples (an array) -> model inputs on the CPU."""
    stored = as_samples(stored, source)
    expected = tuple(model.config.data_shape)
    if tuple(stored.shape[1:]) != expected:
        shown = lambda s: "x".join(map(str, s))  # noqa: E731
        raise GenlabError(f"{source}: samples of shape {shown(stored.shape[1:])} do not fit this model, "
                          f"which takes {shown(expected)}")
    preprocessing = preprocessing_of(model)
    values = torch.from_numpy(stored if stored.flags.writeable else stored.copy())
    if model.config.is_image and model.config.value_range in BOUNDS:
        if stored.dtype == np.uint8:
            return _from_unit(values.float() / 255.0, model.config.value_range)
        if stored_as_bytes(preprocessing) and stored.max() <= 1.0:
            values = values * 255.0  # float images in [0, 1] for a model trained on 8-bit images
    return preprocessing(values)


def to_stored_units(model, x: torch.Tensor) -> np.ndarray:
    """Model-space values -> the training data's units: uint8 for 8-bit images, float32 otherwise."""
    values = preprocessing_of(model).invert(x.detach().float().cpu())
    if model.config.is_image and stored_as_bytes(preprocessing_of(model)):
        return values.round().clamp(0, 255).to(torch.uint8).numpy()
    return values.numpy()


def preprocessing_of(model) -> Preprocessing:
    if not model.config.preprocessing:
        return Preprocessing(model.config.value_range, [1.0], [0.0])
    return Preprocessing.from_dict({**model.config.preprocessing, "binarize": False})


def stored_as_bytes(preprocessing: Preprocessing) -> bool:
    """Whether the training images were 8-bit: a single scale of 1/255 (to [0, 1]) or 2/255 (to [-1, 1]), the
    range of bytes. Float data spanning about 100 units (decibels) has a scale near these, not equal to them."""
    return len(preprocessing.scale) == 1 and any(
        math.isclose(preprocessing.scale[0], span / 255.0, rel_tol=1e-6) for span in (1.0, 2.0))


def as_columns(model, raw: Any, source: str = "input") -> Columns:
    """Raw records for a table model as Columns: a DataFrame, Columns, or an array of one column per table column."""
    if isinstance(raw, Columns):
        return raw
    if is_frame(raw):
        return Columns.from_frame(raw)
    names = TableEncoding.from_dict(model.config.table).names
    array = to_numpy(raw, source)
    if array.ndim != 2 or array.shape[1] != len(names):
        raise GenlabError(f"{source}: this model takes records of {len(names)} columns ({', '.join(names[:8])}"
                          f"{', ...' if len(names) > 8 else ''}); give a DataFrame or a CSV with those columns")
    return Columns(names, list(array.T))


def _encode_table(model, raw: Any, source: str) -> torch.Tensor:
    table = TableEncoding.from_dict(model.config.table)
    return torch.from_numpy(table.encode(as_columns(model, raw, source)))


def _from_unit(x: torch.Tensor, value_range: str) -> torch.Tensor:
    return x * 2.0 - 1.0 if value_range == "symmetric" else x
