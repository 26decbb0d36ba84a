"""Mixed-type tables: numeric, categorical and boolean columns, with missing values, as model inputs and back.

A table is held as `Columns` (genlab.data.columns: one NumPy array per column).
`TableEncoding.fit` learns from the
training rows how each column becomes numbers, and the same encoding is applied to any
later table:

- numeric: standardised to mean 0 and standard deviation 1, after log(1 + x) for
  non-negative, heavily right-skewed columns (byte counts, durations);
- boolean (true/false, yes/no, or only the values 0 and 1): one 0/1 value;
- categorical (text, or declared in `data.column_types`): one-hot over the categories
  seen in training, plus an "unseen" slot that a category met only later turns on;
- a numeric or boolean column with missing values in training gets a 0/1 "missing"
  indicator beside it (its value is then encoded as the column's mean); a missing
  category is a category of its own.

The encoding is plain JSON (stored in the model's config.json, never pickled); `decode`
turns model outputs back into columns with the original names, units and category
strings. `layout()` tells the decoder which slots are Gaussian, Bernoulli or categorical.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from genlab.data.columns import Columns, is_missing
from genlab.errors import GenlabError
from genlab.settings import shown

logger = logging.getLogger(__name__)

KINDS = ("numeric", "categorical", "boolean")
BOOLEAN_TEXT = {"true": True, "false": False, "yes": True, "no": False, "t": True, "f": False}
UNSEEN = "<unseen>"
MAX_CATEGORIES = 1000  # more distinct values than this is an identifier or free text, not a category
LOG_SKEWNESS = 2.0  # a non-negative column more skewed than this is modelled as log(1 + x)


@dataclass
class ColumnEncoding:
    """How one column becomes numbers, fitted on the training rows."""

    name: str
    kind: str  # numeric | categorical | boolean
    missing: bool = False  # numeric/boolean: a 0/1 missing indicator follows the value
    mean: float = 0.0  # numeric: of the (log-)values
    std: float = 1.0
    log: bool = False  # numeric: modelled as log(1 + x)
    integer: bool = False  # numeric: whole numbers in training, written back rounded
    low: float = -math.inf  # numeric: the training range, standardised (see TableEncoding.clip)
    high: float = math.inf
    categories: list | None = None  # categorical: training values in slot order (None = missing); then UNSEEN
    labels: list | None = None  # boolean: how false and true were written, e.g. ["no", "yes"]

    @property
    def width(self) -> int:
        if self.kind == "categorical":
            return len(self.categories) + 1
        return 1 + int(self.missing)


@dataclass
class TableEncoding:
    columns: list[ColumnEncoding] = field(default_factory=list)
    rows: int = 0  # training rows it was fitted on: a category none of them had is given odds of about 1 in rows

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict:
        return {"columns": [asdict(c) for c in self.columns], "rows": self.rows}

    @classmethod
    def from_dict(cls, state: dict) -> TableEncoding:
        try:
            return cls([ColumnEncoding(**c) for c in state["columns"]], int(state.get("rows", 0)))
        except (KeyError, TypeError) as error:
            raise GenlabError(f"the model's table encoding is damaged ({error}); retrain it") from None

    # ---- fitting ---------------------------------------------------------------------

    @classmethod
    def fit(cls, table: Columns, column_types: dict[str, str] | None = None) -> TableEncoding:
        """Infer each column's kind (or take it from `column_types`) and fit its encoding on `table`."""
        column_types = dict(column_types or {})
        unknown = sorted(set(column_types) - set(table.names))
        if unknown:
            raise GenlabError(f"data.column_types names '{shown(unknown[0])}', which is not a column "
                              f"(columns: {shown(', '.join(table.names[:12]), 200)})")
        bad = sorted(set(column_types.values()) - set(KINDS))
        if bad:
            raise GenlabError(f"data.column_types: kind '{shown(bad[0])}' is not one of {', '.join(KINDS)}")
        encodings = [_fit_column(name, values, column_types.get(name)) for name, values in zip(table.names, table.values)]
        if not encodings:
            raise GenlabError("the table has no feature columns")
        return cls(encodings, len(table))

    def summary(self) -> str:
        """One line: how many columns of each kind, the categories' sizes, the columns with missing values."""
        counts = {kind: sum(c.kind == kind for c in self.columns) for kind in KINDS}
        parts = [f"{counts[k]} {k}" for k in KINDS if counts[k]]
        categorical = [f"{c.name}: {len(c.categories)}" for c in self.columns if c.kind == "categorical"][:6]
        line = f"table of {len(self.columns)} columns: {', '.join(parts)}"
        if categorical:
            line += f" (categories {', '.join(categorical)}{', ...' if counts['categorical'] > 6 else ''})"
        missing = [c.name for c in self.columns if c.missing or (c.categories and None in c.categories)]
        if missing:
            line += f"; missing values in {', '.join(missing[:6])}{', ...' if len(missing) > 6 else ''}"
        return line + f" -> {self.width} model inputs"

    # ---- columns <-> model inputs ----------------------------------------------------

    def encode(self, table: Columns) -> np.ndarray:
        """Columns -> float32 (N, width). Columns are matched by name; others are ignored."""
        missing = [c.name for c in self.columns if c.name not in table.names]
        if missing:
            raise GenlabError(f"the table lacks column '{shown(missing[0])}', which the model was trained on "
                              f"(it needs: {shown(', '.join(self.names[:12]), 200)}{', ...' if len(self.names) > 12 else ''})")
        extra = [name for name in table.names if name not in self.names]
        if extra:
            logger.info(f"ignoring columns the model was not trained on: {', '.join(extra[:6])}")
        out = np.zeros((len(table), self.width), dtype=np.float32)
        start = 0
        for column in self.columns:
            _encode_column(column, table.column(column.name), out[:, start:start + column.width])
            start += column.width
        return out

    def decode(self, x: np.ndarray) -> Columns:
        """Model-space values (N, width), such as a decoder's means, -> Columns in the original units."""
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if x.shape[1] != self.width:
            raise GenlabError(f"{x.shape[1]} values per record do not match the table's {self.width}")
        values, start = [], 0
        for column in self.columns:
            values.append(_decode_column(column, x[:, start:start + column.width]))
            start += column.width
        return Columns(self.names, values)

    def layout(self) -> dict:
        """Slots by head: gaussian values (with the slot of their missing indicator, or -1, and their
        training range), bernoulli
        values (likewise), indicators, categorical blocks [start, width], and each column's slots."""
        gaussian, gaussian_mask, bernoulli, bernoulli_mask, indicators, blocks, spans = [], [], [], [], [], [], []
        low, high = [], []
        start = 0
        for column in self.columns:
            spans.append([start, column.width])
            if column.kind == "categorical":
                blocks.append([start, column.width])
            else:
                mask = start + 1 if column.missing else -1
                (gaussian if column.kind == "numeric" else bernoulli).append(start)
                if column.kind == "numeric":
                    low.append(column.low)
                    high.append(column.high)
                (gaussian_mask if column.kind == "numeric" else bernoulli_mask).append(mask)
                if column.missing:
                    indicators.append(start + 1)
            start += column.width
        return {"unseen_log_odds": -math.log(max(self.rows, 1) + 1), "gaussian": gaussian, "gaussian_low": low, "gaussian_high": high, "gaussian_mask": gaussian_mask, "bernoulli": bernoulli,
                "bernoulli_mask": bernoulli_mask, "indicators": indicators, "categorical": blocks, "columns": spans}


def _as_numbers(values: np.ndarray, name: str, strict: bool) -> np.ndarray | None:
    """A column as float64 with NaN for missing values; None (or an error, when `strict`) if some text is not a number."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if is_missing(value):
            out[i] = np.nan
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            if strict:
                raise GenlabError(f"column '{shown(name)}', row {i}: '{shown(value)}' is not a number, and the model "
                                  "takes numbers there") from None
            return None
    return out


def _check_finite(numbers: np.ndarray, name: str) -> None:
    bad = np.isinf(numbers) | (np.abs(np.nan_to_num(numbers)) > 1e150)
    if bad.any():
        value = numbers[int(np.argmax(bad))]
        raise GenlabError(f"column '{shown(name)}' holds {value:g}, which is infinite or too large to model; "
                          "remove it or mark it missing")


def _fit_column(name: str, values: np.ndarray, declared: str | None) -> ColumnEncoding:
    numbers = None if declared == "categorical" else _as_numbers(values, name, strict=declared == "numeric")
    text = None if values.dtype.kind in "biuf" else [None if is_missing(v) else str(v).strip() for v in values]
    if declared == "categorical" and text is None:  # numbers that name things: ports, codes
        text = [None if np.isnan(v) else _number_text(v) for v in values.astype(np.float64)]
    missing = bool(np.isnan(numbers).any()) if numbers is not None else any(v is None for v in text)
    if declared is None:
        if numbers is not None:
            seen = np.unique(numbers[~np.isnan(numbers)])
            declared = "boolean" if len(seen) and set(seen.tolist()) <= {0.0, 1.0} else "numeric"
        elif _all_boolean_text(text):
            declared = "boolean"
        else:
            declared = "categorical"

    if declared == "categorical":
        present = sorted({v for v in text if v is not None})
        if len(present) > MAX_CATEGORIES or (len(present) > 50 and len(present) > 0.5 * len(text)):
            raise GenlabError(f"column '{shown(name)}' has {len(present):,} distinct values in {len(text):,} rows: an "
                              "identifier or free text, not a category; remove the column from the data (or "
                              "declare it numeric in data.column_types if its values are numbers)")
        return ColumnEncoding(name, "categorical", categories=present + ([None] if missing else []))
    if numbers is not None:
        _check_finite(numbers, name)
    if declared == "boolean":
        seen = set(np.unique(numbers[~np.isnan(numbers)]).tolist()) if numbers is not None else set()
        if numbers is not None and not seen <= {0.0, 1.0} and (text is None or not _all_boolean_text(text)):
            raise GenlabError(f"column '{shown(name)}' is declared boolean but holds other values than 0 and 1 "
                              f"(such as {sorted(seen - {0.0, 1.0})[0]:g}); declare it numeric")
        truth = _truth(values, numbers, text, name)
        labels = _boolean_labels(values, text)
        return ColumnEncoding(name, "boolean", missing=bool(np.isnan(truth).any()), labels=labels)
    observed = numbers[~np.isnan(numbers)]
    if len(observed) == 0:
        raise GenlabError(f"column '{shown(name)}' has no values in the training rows; drop it")
    log = bool(observed.min() >= 0 and _skewness(observed) > LOG_SKEWNESS)
    scaled = np.log1p(observed) if log else observed
    std = float(scaled.std())
    mean, std = float(scaled.mean()), (std if std > 1e-8 else 1.0)
    return ColumnEncoding(name, "numeric", missing=missing, mean=mean, std=std, log=log,
                          integer=bool(np.all(observed == np.round(observed))),
                          low=float((scaled.min() - mean) / std), high=float((scaled.max() - mean) / std))


def _encode_column(column: ColumnEncoding, values: np.ndarray, out: np.ndarray) -> None:
    """Write one column's encoding into `out` (N, column.width)."""
    if column.kind == "categorical":
        slot = {category: i for i, category in enumerate(column.categories)}
        text = values if values.dtype.kind not in "biuf" else np.array(
            [None if np.isnan(v) else _number_text(v) for v in values], dtype=object)
        unseen = len(column.categories)
        index = np.array([slot.get(None if is_missing(v) else str(v).strip(), unseen) for v in text], dtype=np.int64)
        out[np.arange(len(index)), index] = 1.0
        return
    if column.kind == "boolean":
        text = None if values.dtype.kind in "biuf" else [None if is_missing(v) else str(v).strip() for v in values]
        truth = _truth(values, _as_numbers(values, column.name, strict=False) if text is None else None, text, column.name)
        absent = np.isnan(truth)
        out[:, 0] = np.where(absent, 0.0, truth)
    else:
        numbers = _as_numbers(values, column.name, strict=True)
        _check_finite(numbers, column.name)
        absent = np.isnan(numbers)
        if column.log:
            numbers = np.log1p(np.clip(numbers, 0.0, None))
        out[:, 0] = np.where(absent, 0.0, (numbers - column.mean) / column.std)
    if column.missing:
        out[:, 1] = absent
    elif absent.any():
        logger.warning(f"column '{shown(column.name)}' has {int(absent.sum())} missing values but had none in training: "
                       "each is replaced by the training mean, which makes its record look more usual")


def _decode_column(column: ColumnEncoding, slots: np.ndarray) -> np.ndarray:
    if column.kind == "categorical":
        best = slots.argmax(1)  # the last slot: a category the training rows did not have
        return np.array([column.categories[i] if i < len(column.categories) else UNSEEN for i in best], dtype=object)
    absent = slots[:, 1] > 0.5 if column.missing else np.zeros(len(slots), dtype=bool)
    if column.kind == "boolean":
        if column.labels is None:
            return np.where(absent, np.nan, (slots[:, 0] > 0.5).astype(np.float64))
        false, true = column.labels
        if column.labels == [False, True] and not absent.any():
            return slots[:, 0] > 0.5  # a bool column in, a bool column out
        return np.array([None if a else (true if v > 0.5 else false) for v, a in zip(slots[:, 0], absent)], dtype=object)
    numbers = slots[:, 0] * column.std + column.mean
    if column.log:
        numbers = np.expm1(numbers).clip(0.0, None)
    if column.integer:
        numbers = np.round(numbers)
        if not absent.any():
            return numbers.astype(np.int64)
    return np.where(absent, np.nan, numbers)


def _truth(values, numbers, text, name: str) -> np.ndarray:
    """A boolean column as 1.0 / 0.0 / NaN (missing)."""
    if values.dtype == bool:
        return values.astype(np.float64)
    if text is None:
        numbers = values.astype(np.float64) if numbers is None else numbers
        return np.where(np.isnan(numbers), np.nan, numbers != 0)
    out = np.empty(len(text), dtype=np.float64)
    for i, value in enumerate(text):
        if value is None:
            out[i] = np.nan
        elif value.lower() in BOOLEAN_TEXT:
            out[i] = float(BOOLEAN_TEXT[value.lower()])
        else:
            try:
                out[i] = float(float(value) != 0)
            except ValueError:
                raise GenlabError(f"column '{shown(name)}', row {i}: '{shown(value)}' is not true/false") from None
    return out


def _boolean_labels(values: np.ndarray, text) -> list | None:
    """How a text boolean column writes false and true (the first spelling seen of each); None for numbers."""
    if text is None:
        return None
    if all(isinstance(v, (bool, np.bool_)) for v in values if v is not None):
        return [False, True]
    spelled = {}
    for value in text:
        if value is None:
            continue
        if value.lower() in BOOLEAN_TEXT:
            spelled.setdefault(BOOLEAN_TEXT[value.lower()], value)
        else:  # 0 / 1 written as numbers, in a file: written back the same way
            spelled.setdefault(float(value) != 0, value)
        if len(spelled) == 2:
            break
    return [spelled.get(False, "false"), spelled.get(True, "true")]


def _all_boolean_text(text) -> bool:
    return all(v is None or v.lower() in BOOLEAN_TEXT for v in text)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _skewness(values: np.ndarray) -> float:
    std = values.std()
    return float(((values - values.mean()) ** 3).mean() / std**3) if std > 0 else 0.0
