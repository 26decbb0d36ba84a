"""Data the user already holds in memory: arrays, tensors, (X, y) pairs, DataFrames and torch Datasets.

Each becomes `RawArrays`, the form every file reader returns, so in-memory data takes
the same path as any file (checks, splits, preprocessing, run directory):

- a NumPy array or torch tensor: (N, D) vectors, (N, H, W) or (N, C, H, W) images;
- a tuple (X, y): X as above (or a DataFrame), y one class label per row;
- a pandas DataFrame: a table whose text columns are categories; `label_column`
  (or a column called label/target/class/y) holds labels;
- a map-style torch Dataset whose items are fixed-shape tensors or (x, y) pairs.

`fingerprint` describes the data (shape, dtype, SHA-256, columns) for the run directory.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from tqdm import tqdm

from genlab.data.columns import Columns
from genlab.data.csvfile import LABEL_COLUMN_NAMES
from genlab.data.limits import check_fits_in_memory
from genlab.data.readers import RawArrays, as_labels, as_samples
from genlab.errors import GenlabError
from genlab.settings import shown

IN_MEMORY = "in-memory"  # data.name of a run trained on data passed from Python


def is_in_memory(data: Any) -> bool:
    """Whether `data` is data itself rather than a name or path."""
    return data is not None and not isinstance(data, (str, bytes)) and not hasattr(data, "__fspath__")


def read_in_memory(data: Any, label_column: str | None = None) -> RawArrays:
    """Arrays, tensors, (X, y), DataFrames or torch Datasets -> RawArrays."""
    if isinstance(data, tuple):
        if len(data) != 2:
            raise GenlabError(f"a tuple of data must be (X, y); got {len(data)} items")
        raw = _features(data[0], label_column=None)
        if data[1] is not None:
            raw.y_train, raw.class_names = as_labels(to_numpy(data[1], "y"), len(raw.x_train), "y")
        return raw
    if _is_torch_dataset(data):
        return _read_dataset(data)
    return _features(data, label_column)


def fingerprint(raw: RawArrays) -> dict:
    """What data this is: shape, dtype, SHA-256 of its values and labels, and its columns for a table."""
    digest = hashlib.sha256()
    parts = [raw.x_train, raw.y_train, raw.x_test, raw.y_test]
    if raw.source_sha256 is not None:
        digest.update(raw.source_sha256.encode())
        parts = [raw.y_train, raw.y_test]  # the values are those of the sources, through the same transform
    for part in parts:
        if part is None:
            digest.update(b"-")
        elif isinstance(part, Columns):
            digest.update(part.sha256().encode())
        else:
            digest.update(str(part.dtype).encode() + str(part.shape).encode())
            digest.update(np.ascontiguousarray(part).data)
    x = raw.x_train
    count = len(x) + (len(raw.x_test) if raw.x_test is not None else 0)
    described = {"rows": count, "sha256": digest.hexdigest()}
    if isinstance(x, Columns):
        described.update(shape=[count, len(x.names)], dtype="table", columns=list(x.names))
    else:
        described.update(shape=[count, *x.shape[1:]], dtype=str(x.dtype))
    return described


def describe(print_: dict) -> str:
    """A fingerprint in words: 'a float32 array of 100x5 (sha256 1a2b3c4d...)'."""
    shape = "x".join(str(s) for s in print_.get("shape", []))
    kind = "table" if print_.get("dtype") == "table" else f"{print_.get('dtype')} array"
    return f"a {kind} of {shape} (sha256 {str(print_.get('sha256', ''))[:12]}...)"


def _features(data: Any, label_column: str | None) -> RawArrays:
    if is_frame(data):
        table = Columns.from_frame(data)
        y = names = None
        label = label_column or next((n for n in table.names if n.lower() in LABEL_COLUMN_NAMES), None)
        if label is not None:
            if label not in table.names:
                raise GenlabError(f"no column '{shown(label)}' (columns: {shown(', '.join(table.names[:12]), 200)})")
            table, labels = table.drop(label)
            y, names = as_labels(_label_values(labels), len(table), f"column '{shown(label)}'")
        if not table.names:
            raise GenlabError("the DataFrame has no feature columns besides the label")
        if len(table) == 0:
            raise GenlabError("the DataFrame has no rows")
        return RawArrays(table, y, class_names=names)
    array = to_numpy(data, "X")
    if array.dtype.kind in "OUS" and array.ndim == 2:  # text in a plain array: a table with numbered columns
        return RawArrays(Columns([str(i) for i in range(array.shape[1])], list(array.T.astype(object))), None)
    return RawArrays(as_samples(array, "X"), None)


def to_numpy(data: Any, what: str) -> np.ndarray:
    """A tensor, DataFrame, Series, array or list as a NumPy array (a one-line error for anything else)."""
    if isinstance(data, torch.Tensor):
        return _tensor_to_numpy(data, what)
    if isinstance(data, np.ma.MaskedArray):
        if np.ma.getmaskarray(data).any():
            raise GenlabError(f"{what}: a masked array with masked values; fill them (X.filled(...)) or drop those rows")
        return np.asarray(data.data)
    if is_frame(data) or hasattr(data, "to_numpy"):
        return data.to_numpy()
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (list, range)):
        try:
            return np.asarray(data)
        except (ValueError, TypeError, OverflowError):
            raise GenlabError(f"{what}: the list's rows differ in length or hold something other than numbers "
                              "and text; give a NumPy array of one shape") from None
    raise GenlabError(f"{what}: a {type(data).__name__} is not data genlab can read; give a NumPy array, a torch "
                      "tensor, an (X, y) tuple, a pandas DataFrame, a torch Dataset, or a dataset name or file path")


def _tensor_to_numpy(tensor: torch.Tensor, what: str) -> np.ndarray:
    if tensor.layout != torch.strided or tensor.is_meta or tensor.is_quantized:
        raise GenlabError(f"{what}: a {tensor.layout if tensor.layout != torch.strided else 'meta or quantized'} tensor; "
                          "give a dense tensor of numbers (tensor.to_dense())")
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()  # numpy has no bfloat16; float32 holds every value exactly
    try:
        return tensor.detach().cpu().numpy()
    except (TypeError, RuntimeError) as error:
        raise GenlabError(f"{what}: a tensor of {tensor.dtype} cannot become an array ({error}); give numbers") from None


def _label_values(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return values
    text = np.array(["" if v is None else str(v) for v in values], dtype=object)  # a long label must not widen every row
    try:
        return text.astype(np.float64)
    except ValueError:
        return text


def is_frame(data: Any) -> bool:
    """Whether `data` is a pandas DataFrame (told without importing pandas)."""
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _is_torch_dataset(data: Any) -> bool:
    return isinstance(data, TorchDataset)


def _read_dataset(dataset) -> RawArrays:
    """A map-style torch Dataset of fixed-shape items, or of (x, y) pairs, stacked into arrays."""
    try:
        count = len(dataset)
    except (TypeError, ValueError, OverflowError, NotImplementedError) as error:
        raise GenlabError(f"the torch Dataset has no usable length ({' '.join(str(error).split())[:100]}); genlab "
                          "reads map-style datasets (with __len__)") from None
    if count == 0:
        raise GenlabError("the torch Dataset is empty")
    xs, ys = [], []
    # a Dataset can only be read item by item; this happens once, at load, with a progress bar for long ones
    for index in tqdm(range(count), desc="reading the Dataset", unit="item", disable=count < 10_000, leave=False):
        x, y = _item(dataset, index)
        if xs and x.shape != xs[0].shape:
            a, b = sorted([tuple(x.shape), tuple(xs[0].shape)])
            raise GenlabError(f"Dataset items differ in shape ({a} and {b}); genlab needs fixed-shape items")
        if not xs:  # a length the items cannot honestly fill is refused before they are gathered
            check_fits_in_memory(count * x.numel() * x.element_size(), f"the Dataset ({count:,} items of {tuple(x.shape)})")
        if ys and (y is None) != (ys[0] is None):
            raise GenlabError("some Dataset items have labels and some do not")
        xs.append(x)
        ys.append(y)
    x = as_samples(to_numpy(torch.stack(xs), "Dataset"), "Dataset")
    y = names = None
    if ys[0] is not None:
        y, names = as_labels(to_numpy(torch.stack(ys), "Dataset labels"), len(x), "Dataset labels")
    return RawArrays(x, y, class_names=names)


def _item(dataset, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Item `index` as (x, y or None), each a tensor; y a single class index."""
    try:
        item = dataset[index]
    except (IndexError, KeyError, NotImplementedError):
        raise GenlabError(f"the torch Dataset has no item {index} though its length is {len(dataset)}; genlab reads "
                          "map-style datasets indexed 0..len-1") from None
    parts = item if isinstance(item, (tuple, list)) else (item,)
    if len(parts) < 1 or len(parts) > 2:
        raise GenlabError(f"Dataset item {index} has {len(parts)} parts; items must be x or (x, y)")
    tensors = []
    for part in parts:
        try:
            tensors.append(torch.as_tensor(part))
        except (TypeError, ValueError, RuntimeError):
            what = f"has a {type(part).__name__} as its label" if tensors else f"is a {type(part).__name__}"
            raise GenlabError(f"Dataset item {index} {what}; items must be arrays or tensors of numbers (x), or "
                              "(x, class index) pairs") from None
    x, y = tensors[0], (tensors[1] if len(tensors) == 2 else None)
    if y is not None and y.numel() != 1:
        raise GenlabError(f"Dataset item {index} has a label of shape {tuple(y.shape)}; a label is one class index")
    return x, (y.reshape(()) if y is not None else None)
