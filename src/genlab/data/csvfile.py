"""CSV files read as a stream, so that memory follows the data rather than the file's worst line.

A CSV of numbers becomes float32 blocks as it is read (a few bytes per value instead of a
Python string per cell); one that holds text or gaps is read again as a table of text
columns. A record longer than `MAX_CSV_LINE_CHARS`, a field past the csv module's limit,
ragged rows, text that is not UTF-8 and files with nothing to learn from are refused in
one line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.data.columns import Columns
from genlab.data.limits import MAX_CSV_LINE_CHARS
from genlab.errors import GenlabError
from genlab.settings import shown

LABEL_COLUMN_NAMES = ("label", "labels", "target", "class", "y")
BLOCK_CELLS = 1 << 16  # cells held as text at a time before they become numbers


@dataclass
class CsvContent:
    x: np.ndarray | Columns  # (N, D) float32 numbers, or a table of text columns
    labels: np.ndarray | None  # (N,) float64 when every label is a number, else object (str)


def read_csv(path: Path, label_column: str | None, as_table: bool) -> CsvContent:
    """A CSV file of samples, one per row: numbers when every feature is a finite number, else a table."""
    with _records(path) as records:
        layout = _Layout.read(path, records, label_column)
        content = None if as_table else _numbers(path, layout, records)
    if content is not None:
        return content
    with _records(path) as records:  # a second pass, as text
        return _table(path, _Layout.read(path, records, label_column), records)


@dataclass
class _Layout:
    names: list[str]  # from the header, or numbered
    has_header: bool
    label_index: int | None
    first_row: list[str]  # the first data row, already taken from the records

    @classmethod
    def read(cls, path: Path, records: Iterator[list[str]], label_column: str | None) -> _Layout:
        first = next(records, None)
        if first is None:
            raise GenlabError(f"{path}: empty CSV file")
        if len(first) == 1 and any(separator in first[0] for separator in (";", "\t", "|")):
            raise GenlabError(f"{path}: one column whose header holds ';', tabs or '|': genlab reads comma-separated "
                              "files; save it with commas")
        has_header = not all(_is_number(cell) for cell in first)
        names = [cell.strip() for cell in first] if has_header else [str(i) for i in range(len(first))]
        label_index = _label_index(names, label_column, path)
        row = next(records, None) if has_header else first
        if row is None:
            raise GenlabError(f"{path}: no rows below the header")
        if label_index is not None and len(names) == 1:
            raise GenlabError(f"{path}: no feature columns besides the label '{shown(names[0])}'; add feature columns")
        return cls(names, has_header, label_index, row)

    def rows(self, path: Path, records: Iterator[list[str]]) -> Iterator[list[str]]:
        """Data rows, each checked to have the header's number of fields."""
        width, number = len(self.names), 1 + int(self.has_header)
        for row in _chain(self.first_row, records):
            if len(row) != width:
                raise GenlabError(f"{path}: row {number} has {len(row)} fields where the header has {width}")
            yield row
            number += 1


class _records:
    """The file's non-empty records, read line by line with each line's length bounded."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> Iterator[list[str]]:
        try:
            self.handle = open(self.path, newline="", encoding="utf-8-sig")
        except OSError as error:
            raise GenlabError(f"{self.path}: cannot be read ({error.strerror or error})") from None
        return self._rows()

    def __exit__(self, kind, error, trace) -> None:
        self.handle.close()
        if isinstance(error, UnicodeDecodeError):
            raise GenlabError(f"{self.path}: not UTF-8 text; save the CSV as UTF-8") from None
        if isinstance(error, csv.Error):
            raise GenlabError(f"{self.path}: not a readable CSV file ({error})") from None
        if isinstance(error, OSError):
            raise GenlabError(f"{self.path}: cannot be read ({error.strerror or error})") from None

    def _rows(self) -> Iterator[list[str]]:
        return (row for row in csv.reader(self._lines()) if row)

    def _lines(self) -> Iterator[str]:
        while True:
            line = self.handle.readline(MAX_CSV_LINE_CHARS + 1)
            if not line:
                return
            if len(line) > MAX_CSV_LINE_CHARS and not line.endswith(("\n", "\r")):
                raise GenlabError(f"{self.path}: a line longer than {MAX_CSV_LINE_CHARS:,} characters; save data "
                                  "this wide as a .npy array")
            yield line


def _numbers(path: Path, layout: _Layout, records: Iterator[list[str]]) -> CsvContent | None:
    """The file as float32 values (N, D), or None when some feature is not a finite number (a table, then)."""
    label_index = layout.label_index
    keep = [i for i in range(len(layout.names)) if i != label_index]
    blocks, labels, pending = [], [], []
    for row in layout.rows(path, records):
        if label_index is not None:
            labels.append(row[label_index])
            row = [row[i] for i in keep]
        pending.append(row)
        if len(pending) * len(keep) >= BLOCK_CELLS:
            blocks.append(_as_floats(pending, path))
            pending = []
            if blocks[-1] is None:
                return None
    if pending:
        blocks.append(_as_floats(pending, path))
    if any(block is None for block in blocks):
        return None
    return CsvContent(np.concatenate(blocks), _label_values(labels) if label_index is not None else None)


def _as_floats(rows: list[list[str]], path: Path) -> np.ndarray | None:
    try:
        values = np.array(rows, dtype=object).astype(np.float64)
    except ValueError:
        return None
    if not np.isfinite(values).all():
        return None
    if np.abs(values).max() > np.finfo(np.float32).max:
        raise GenlabError(f"{path}: values beyond float32's range (such as {np.abs(values).max():g}); rescale the data")
    return values.astype(np.float32)


def _table(path: Path, layout: _Layout, records: Iterator[list[str]]) -> CsvContent:
    names, label_index = layout.names, layout.label_index
    columns: list[list[str]] = [[] for _ in names]
    for row in layout.rows(path, records):
        for column, cell in zip(columns, row):
            column.append(cell)
    values = [np.array(column, dtype=object) for column in columns]
    labels = None
    if label_index is not None:
        labels = _label_values(values.pop(label_index))
        names = names[:label_index] + names[label_index + 1:]
    return CsvContent(Columns(names, values), labels)


def _label_values(cells) -> np.ndarray:
    """Labels as float64 when every one is a number, else as text (object, never fixed-width: a long cell must
    not widen every row)."""
    text = np.array(cells, dtype=object)
    try:
        return text.astype(np.float64)
    except ValueError:
        return text


def _label_index(names: list[str], label_column: str | None, path: Path) -> int | None:
    if label_column is None:
        lowered = [name.lower() for name in names]
        return next((lowered.index(name) for name in LABEL_COLUMN_NAMES if name in lowered), None)
    if label_column in names:
        return names.index(label_column)
    digits = label_column.lstrip("-")
    if digits.isdecimal() and len(digits) < 10 and -len(names) <= int(label_column) < len(names):
        return int(label_column) % len(names)
    raise GenlabError(f"{path}: no column '{shown(label_column)}' (columns: {shown(', '.join(names[:12]), 200)})")


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
