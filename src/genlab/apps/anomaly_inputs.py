"""The records an AnomalyDetector is given, checked as scikit-learn's estimators check them: the number and
names of a table's columns recorded at fit and compared after, and one-line errors for what cannot be data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.sparse import issparse
from sklearn.utils.validation import validate_data

from genlab.data.memory import is_frame, is_in_memory, to_numpy
from genlab.errors import GenlabError


class NotAValue(GenlabError, TypeError):
    """A cell that is neither text nor a number: a TypeError, as scikit-learn raises for it."""


def check_records(estimator, X, reset: bool = False):
    """X as the model reads it: a path as given, lists as arrays; `estimator.n_features_in_` (and
    `feature_names_in_` for a DataFrame) set when `reset`, checked otherwise."""
    if isinstance(X, (str, Path)) or not is_in_memory(X) or isinstance(X, tuple):
        return X
    if issparse(X):
        raise GenlabError("sparse input is not supported: give a dense array (X.toarray())")
    if not is_frame(X) and not isinstance(X, (np.ndarray, torch.Tensor)):
        X = np.asarray(X) if hasattr(X, "__array__") else to_numpy(X, "X")
    if isinstance(X, np.ndarray):
        X = numeric(X)
    if not is_frame(X) and X.ndim == 2 and X.shape[1] == 0:
        raise GenlabError(f"0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is required; "
                          "give records with at least one feature")
    if is_frame(X) or X.ndim == 2:
        try:
            validate_data(estimator, X, skip_check_array=True, reset=reset)
        except ValueError as error:  # the wrong number or names of columns, said in one line
            raise GenlabError(" ".join(str(error).split())) from None
    elif X.ndim < 2:
        raise GenlabError(f"X has {X.ndim} dimension{'s' if X.ndim != 1 else ''}. Reshape your data: records as "
                          "rows, (N, D) vectors, (N, H, W) or (N, C, H, W) images (X.reshape(-1, 1) for one "
                          "feature, X.reshape(1, -1) for one record)")
    elif reset:
        estimator.n_features_in_ = int(np.prod(X.shape[1:]))
    elif int(np.prod(X.shape[1:])) != estimator.n_features_in_:
        raise GenlabError(f"X has {int(np.prod(X.shape[1:]))} values per record; the detector was fitted on "
                          f"{estimator.n_features_in_}")
    return X


def numeric(X: np.ndarray) -> np.ndarray:
    """Complex numbers refused; an object array holding only numbers read as numbers (text stays a table)."""
    if X.dtype.kind == "c":
        raise GenlabError("Complex data not supported: X holds complex numbers; give real numbers")
    if X.dtype == object:
        try:
            return X.astype(np.float64)
        except (TypeError, ValueError):
            plain = np.frompyfunc(lambda v: v is None or isinstance(v, (str, int, float, np.number)), 1, 1)(X)
            if not plain.all():
                where = tuple(int(i) for i in np.argwhere(~plain.astype(bool))[0])
                raise NotAValue(f"X{list(where)} is a {type(X[where]).__name__}: every argument must be a string "
                                "or a number (or None for a missing value)") from None
            return X
    return X
