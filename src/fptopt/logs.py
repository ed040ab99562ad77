"""Reading training logs into a trajectories array (replicas x epochs).

Two layouts are accepted by :func:`read_trajectories`:

* a **directory of CSV files**, one per replica (replica id = file stem,
  sorted by name), one row per epoch in order; the observable is ``column``.
  If the file has an ``epoch`` column it must increase by exactly 1 per row.
* **one long (tidy) table**, ``.csv`` or ``.parquet``, with columns
  ``replica``, ``epoch`` (1, 2, …, without gaps or duplicates) and ``column``.

Replicas of different lengths are padded with NaN (= not recorded; see
:func:`fptopt.survival.first_passage`).  Empty cells and ``nan`` are kept as
NaN, ``inf`` as infinity; any other non-numeric cell is an error.  Every error
is a ``ValueError`` whose message names the offending file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_trajectories", "trajectories_from_frame"]

TABLE_SUFFIXES = (".csv", ".parquet")


def read_trajectories(path, column: str = "test_acc") -> tuple[list[str], np.ndarray]:
    """``(replica_ids, trajectories)`` from a directory of CSVs or one long table."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        return _read_directory(path, column)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: expected a directory of CSV files or a .csv/.parquet "
                         f"long table, got suffix {path.suffix!r}")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read table: {error}") from error
    return trajectories_from_frame(frame, column, source=str(path))


def trajectories_from_frame(frame: pd.DataFrame, column: str, source: str = "data frame"):
    """``(replica_ids, trajectories)`` from a tidy frame (replica, epoch, column).

    Replica ids are sorted; row ``i`` of the array is ``replica_ids[i]``, column
    ``j`` epoch ``j + 1``.
    """
    required = ["replica", "epoch", column]
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; columns found: "
                         f"{list(map(str, frame.columns))}")
    if frame.empty:
        raise ValueError(f"{source}: the table has no rows")
    epochs = pd.to_numeric(frame["epoch"], errors="coerce")
    if epochs.isna().any() or not np.all(np.equal(np.mod(epochs, 1), 0)):
        raise ValueError(f"{source}: column 'epoch' must hold integers 1, 2, ...")
    values = _numeric(frame[column], source, column)
    replica = frame["replica"].astype(str)
    table = pd.DataFrame({"replica": replica, "epoch": epochs.astype(int), "value": values})
    duplicated = table.duplicated(["replica", "epoch"])
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise ValueError(f"{source}: duplicate epoch {row.epoch} for replica {row.replica!r}")
    table = table.sort_values(["replica", "epoch"])
    grouped = table.groupby("replica", sort=True)["epoch"]
    counts, first, last = grouped.count(), grouped.min(), grouped.max()
    gappy = (first != 1) | (last != counts)
    if gappy.any():
        name = gappy.index[gappy][0]
        raise ValueError(f"{source}: missing epochs for replica {name!r}: expected 1..{last[name]} "
                         f"without gaps, found {counts[name]} epochs starting at {first[name]}")
    ids = list(counts.index)
    rows = pd.Index(ids).get_indexer(table["replica"])
    array = np.full((len(ids), int(last.max())), np.nan)
    array[rows, table["epoch"].to_numpy() - 1] = table["value"].to_numpy()
    return ids, array


def _numeric(series: pd.Series, source: str, column: str) -> np.ndarray:
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna() & ~series.astype(str).str.strip().str.lower().isin(
        ["", "nan"])
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{source}: column {column!r} has a non-numeric value "
                         f"{series.iloc[position]!r} (row {position + 1})")
    return numbers.to_numpy(dtype=float)


def _read_directory(directory: Path, column: str):
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if not files:
        raise ValueError(f"{directory}: directory holds no CSV files (expected one per replica)")
    series = [_read_replica_csv(path, column) for path in files]
    array = np.full((len(series), max(s.size for s in series)), np.nan)
    for row, values in enumerate(series):
        array[row, : values.size] = values
    return [p.stem for p in files], array


def _read_replica_csv(path: Path, column: str) -> np.ndarray:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header and one row per epoch)")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: ragged CSV: line {number} has {len(row)} fields, "
                             f"the header has {len(header)}")
    if column not in header:
        raise ValueError(f"{path}: no column {column!r}; columns found: {header}")
    if not body:
        raise ValueError(f"{path}: no epochs recorded (header only)")
    frame = pd.DataFrame(body, columns=header)
    if "epoch" in header:
        epochs = pd.to_numeric(frame["epoch"], errors="coerce").to_numpy()
        if np.any(np.isnan(epochs)) or np.any(np.diff(epochs) != 1):
            raise ValueError(f"{path}: column 'epoch' must increase by 1 per row")
    return _numeric(frame[column], str(path), column)
