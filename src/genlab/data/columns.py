"""A table in memory: named columns, one NumPy array each (float64 for numbers, object for text).

Missing values are NaN in number columns and None in text columns; text such as "", "NA",
"nan", "null", "none" or "?" also counts as missing. genlab.data.tables turns Columns
into model inputs and back.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from genlab.errors import GenlabError
from genlab.settings import shown

MISSING_TEXT = {"", "na", "n/a", "nan", "null", "none", "?"}


class Columns:
    """A table in memory: names and one array per column, all of one length."""

    def __init__(self, names: list[str], values: list[np.ndarray]):
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise GenlabError(f"the table has two columns named '{shown(repeated[0])}'; give every column its own name")
        lengths = {len(v) for v in values}
        if len(lengths) > 1:
            raise GenlabError("the table's columns differ in length")
        self.names, self.values = list(names), list(values)

    def __len__(self) -> int:
        return len(self.values[0]) if self.values else 0

    def __getitem__(self, rows) -> Columns:
        return Columns(self.names, [v[rows] for v in self.values])

    def column(self, name: str) -> np.ndarray:
        return self.values[self.names.index(name)]

    def drop(self, name: str) -> tuple[Columns, np.ndarray]:
        """This table without column `name`, and that column."""
        index = self.names.index(name)
        return Columns(self.names[:index] + self.names[index + 1:], self.values[:index] + self.values[index + 1:]), \
            self.values[index]

    @classmethod
    def from_frame(cls, frame) -> Columns:
        """A pandas DataFrame -> Columns (numbers as float64, everything else as text objects)."""
        import pandas as pd  # optional: only DataFrame users have it

        repeated = frame.columns[frame.columns.duplicated()]
        if len(repeated):
            raise GenlabError(f"the DataFrame has two columns named '{shown(repeated[0])}'; give every column its own name")
        values = []
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
                raise GenlabError(f"column '{shown(name)}' holds dates or times; turn it into numbers (seconds, hour of "
                                  "day, ...) or remove it")
            if pd.api.types.is_complex_dtype(series.dtype):
                raise GenlabError(f"column '{shown(name)}' holds complex numbers; split them into real and imaginary "
                                  "columns")
            if pd.api.types.is_bool_dtype(series.dtype) and not series.isna().any():
                values.append(series.to_numpy(dtype=object))  # kept as True/False, and written back so
            elif pd.api.types.is_numeric_dtype(series.dtype):
                values.append(series.to_numpy(dtype=np.float64, na_value=np.nan))
            else:
                values.append(np.array([None if is_missing(v) else str(v) for v in series.tolist()], dtype=object))
        return cls([str(name) for name in frame.columns], values)

    def to_frame(self):
        """Columns -> a pandas DataFrame (ImportError without pandas)."""
        import pandas as pd  # optional: only DataFrame users have it

        return pd.DataFrame(dict(zip(self.names, self.values)))

    def for_user(self):
        """What Python callers get back: a DataFrame when pandas is installed, else these Columns."""
        try:
            return self.to_frame()
        except ImportError:
            return self

    def rows(self) -> list[list]:
        """The table row by row, for writing CSV."""
        return [list(row) for row in zip(*self.values)]

    def sha256(self) -> str:
        """A fingerprint of names and values that depends neither on how the table was read nor on the order
        of its columns (which are matched by name)."""
        digest = hashlib.sha256()
        for name, values in sorted(zip(self.names, self.values), key=lambda pair: pair[0]):
            digest.update(name.encode() + b"\x00")
            if values.dtype.kind == "f":
                digest.update(np.where(np.isnan(values), np.nan, values).astype("<f8").tobytes())
            else:
                digest.update("\x1f".join("\x00" if v is None else str(v) for v in values).encode())
        return digest.hexdigest()


def is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in MISSING_TEXT
