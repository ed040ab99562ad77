"""Reading training logs: one tidy table (replica, epoch, value) from what is on disk.

:func:`read_runs` returns a tidy frame, :func:`read_trajectories` the array
(replicas x epochs) the analysis uses.  A replica is one run (one seed).  The
format is detected from the files (``format="auto"``) or forced:

============  =================================================================
format        what is read (replica id)
============  =================================================================
csv_dir       a directory of per-replica CSV files (file stem), or one such
              file; column ``epoch`` (0- or 1-based) or one row per epoch in
              order; the observable is ``column``
long          one long table, ``.csv`` or ``.parquet``, with columns
              ``replica``, ``epoch`` (1, 2, ...) and ``column``
lightning     PyTorch Lightning ``CSVLogger``: every ``metrics.csv`` under the
              path (its folder, e.g. ``version_3``); train and validation rows
              interleaved, a cell is empty where the metric was not logged; per
              epoch the last row holding ``column`` is kept; epochs 0-based
keras         Keras ``CSVLogger``: ``*.log`` files (forced: also ``*.csv``),
              header ``epoch,accuracy,loss,...``; epochs 0-based; ``NA`` = not
              logged (file stem)
huggingface   every ``trainer_state.json`` under the path, the latest
              checkpoint (largest ``global_step``) per run: ``log_history``
              entries holding ``column`` at an epoch within 0.01 of an integer
              (epoch-0 entries, made before training, are dropped) (run folder)
wandb         one Weights & Biases CSV export: a ``Step`` or ``epoch`` column
              and ``"<run> - <metric>"`` columns (``__MIN``/``__MAX`` ignored)
              (run name)
tensorboard   ``events.out.tfevents.*`` files, one run per folder; scalars of
              the tag ``column`` (e.g. ``val/acc``) with step = epoch; needs the
              ``tensorboard`` package (folder)
============  =================================================================

Auto-detection: a directory is searched for TensorBoard event files,
``trainer_state.json``, ``metrics.csv`` (recursively), then ``*.log`` and
``*.csv`` directly inside; it must hold exactly one of these kinds.  A file is
classified by name (``events.out.tfevents.*``, ``*.json``, ``*.parquet``,
``metrics.csv``, ``*.log``) or by its CSV header (``"<run> - <metric>"``
columns: W&B; ``replica`` + ``epoch``: long table; ``epoch`` + ``step``:
Lightning; else one per-replica CSV).

Epochs.  Output epochs are 1-based and taken from the log, never renumbered:
Keras and Lightning count from 0 and are shifted by one; the CSV directory,
W&B and TensorBoard are shifted when their smallest epoch (over all replicas)
is 0; long tables and Hugging Face are 1-based.  A replica whose first epoch
is later than 1 (a run resumed from a checkpoint, say) is an error: its first
passage before that epoch is unknown, and renumbering would fake one.  Gaps
and duplicate epochs are errors (Lightning and step-binned logs keep the last
row of an epoch).  Logs indexed by optimizer steps only need
``per_epoch_steps=N``: a row at step ``s`` belongs to epoch ``ceil(s / N)``
(steps counted from 1, so steps ``N`` and ``N - 1`` both close epoch 1 when
``N >= 2``), rows at step 0 are dropped, and the last row of each epoch is
kept.

Values.  Empty cells and ``nan`` are NaN (= not recorded; see
:func:`fptopt.stats.survival.first_passage`; for Lightning, Keras and W&B an empty
cell means "not logged in this row"), ``inf`` is infinity; any other
non-numeric cell is an error.  Replicas of different lengths are padded with
NaN (each is censored at its own last epoch).  Text files are read as UTF-8
(a byte-order mark is ignored).  Every error is a ``ValueError`` naming the
file, and the replica where it is about one.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FORMATS", "read_runs", "read_trajectories", "trajectories_from_frame",
           "parse_per_epoch_from"]

FORMATS = ("auto", "csv_dir", "long", "lightning", "keras", "huggingface", "wandb", "tensorboard")
TABLE_SUFFIXES = (".csv", ".parquet")
EVENTS_GLOB = "events.out.tfevents.*"
HF_EPOCH_TOLERANCE = 0.01  # Trainer rounds logged epochs to 2 decimals in older versions
STEPS_HINT = " (if these steps count optimizer steps, not epochs, pass --per-epoch-from steps=N)"
HF_STEPS_HINT = (" (the metric is also logged between epochs: pass --per-epoch-from steps=N to bin its "
                 "'step' values into epochs)")


@dataclass(frozen=True)
class _Run:
    """One replica as read: epochs as logged (float) and the values."""

    replica: str
    source: str
    epoch: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class _Log:
    runs: list[_Run]
    base: int | None  # 0 or 1: how the format counts epochs; None: 0 if the smallest epoch is 0
    hint: str = ""    # appended to "starts late" and gap errors
    notes: tuple[str, ...] = ()  # what a user should know about how the log was read (read_runs' attrs)


WITHIN_EPOCH = ("last", "max", "min")


# ---------------------------------------------------------------- public API

def read_runs(path, column: str, format: str = "auto",
              per_epoch_steps: int | None = None, *, within_epoch: str = "last") -> pd.DataFrame:
    r"""Tidy table of one observable over the runs of a training log.

    Parameters
    ----------
    path : str or Path
        A file or a directory of logs; see the module docstring for the formats.
    column : str
        The metric's own name in that log: ``val_acc`` (Lightning),
        ``val_accuracy`` (Keras), ``eval_accuracy`` (Hugging Face), a W&B
        metric, a TensorBoard tag such as ``val/acc``.
    format : str
        One of :data:`FORMATS`; ``"auto"`` (default) detects it from the files.
    per_epoch_steps : int, optional
        Optimizer steps per epoch, for logs indexed by step only (or to bin a
        step-indexed log into epochs): the row at step ``s`` belongs to epoch
        ``ceil(s / per_epoch_steps)``, the last row of each epoch is kept.
        Where the log has an epoch field of its own (Hugging Face entries,
        Lightning's ``epoch`` column or TensorBoard tag), ``per_epoch_steps``
        must agree with it (within 1 %): a wrong N is refused, naming both.
    within_epoch : {"last", "max", "min"}
        Hugging Face logs evaluated within epochs: ``"last"`` (default) keeps
        the evaluation at the epoch's end (the others are reported in the
        returned frame's ``attrs["notes"]``); ``"max"``/``"min"`` keep the best
        evaluation of each epoch (epoch ``k`` holds evaluations in ``(k−1, k]``),
        so a pass at any evaluation counts, at the epoch it falls in.

    Returns
    -------
    pandas.DataFrame
        Columns ``replica`` (str), ``epoch`` (int, 1-based, without gaps),
        ``column`` (float) and ``source`` (the file or folder read), sorted by
        replica (natural order: ``run2`` before ``run10``) then epoch.

    Raises
    ------
    ValueError
        Naming the file (and replica): undetectable or unreadable logs, a
        missing column (with the 5 closest names), non-integer, duplicate or
        missing epochs, a replica starting after epoch 1, a replica without
        values.

    Examples
    --------
    A Keras ``CSVLogger`` file (epochs from 0) per seed:

    >>> import pathlib, tempfile
    >>> from fptopt.stats.logs import read_runs
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "seed0.log").write_text("epoch,loss,val_accuracy\n0,1.2,0.51\n1,0.9,0.64\n")
    >>> _ = (folder / "seed1.log").write_text("epoch,loss,val_accuracy\n0,1.3,0.48\n")
    >>> runs = read_runs(folder, "val_accuracy")
    >>> runs[["replica", "epoch", "val_accuracy"]]
      replica  epoch  val_accuracy
    0   seed0      1          0.51
    1   seed0      2          0.64
    2   seed1      1          0.48
    >>> runs.pivot(index="replica", columns="epoch", values="val_accuracy").shape
    (2, 2)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if per_epoch_steps is not None and (isinstance(per_epoch_steps, bool)
                                        or int(per_epoch_steps) != per_epoch_steps
                                        or per_epoch_steps < 1):
        raise ValueError(f"per_epoch_steps (--per-epoch-from steps=N) must be a positive integer, "
                         f"got {per_epoch_steps!r}")
    if within_epoch not in WITHIN_EPOCH:
        raise ValueError(f"within_epoch must be one of {WITHIN_EPOCH}, got {within_epoch!r}")
    if format == "auto":
        format = _detect(path)
    if within_epoch != "last" and format != "huggingface":
        raise ValueError(f"{path}: counting a pass at any evaluation within an epoch (within_epoch="
                         f"{within_epoch!r}, --any-evaluation) is for Hugging Face logs, which record the "
                         f"epoch of every evaluation; this log reads as {format!r}")
    reader = _READERS[format]
    log = (reader(path, column, per_epoch_steps, within_epoch) if format == "huggingface"
           else reader(path, column, per_epoch_steps))
    for run in log.runs:
        if run.value.size and np.isnan(run.value).all():
            raise ValueError(f"{run.source}: every value of {column!r} is NaN for replica {run.replica!r}")
    tidy = _tidy(log, column)
    order = sorted(tidy["replica"].unique(), key=_natural_key)
    tidy["replica"] = pd.Categorical(tidy["replica"], categories=order, ordered=True)
    tidy = tidy.sort_values(["replica", "epoch"], kind="stable").reset_index(drop=True)
    tidy["replica"] = tidy["replica"].astype(str)
    tidy.attrs["notes"] = list(log.notes)
    return tidy


def read_trajectories(path, column: str = "test_acc", format: str = "auto",
                      per_epoch_steps: int | None = None, *, within_epoch: str = "last",
                      notes: list | None = None) -> tuple[list[str], np.ndarray]:
    """``(replica_ids, trajectories)``: :func:`read_runs` as an array.

    Row ``i`` is replica ``replica_ids[i]`` (natural order), column ``j`` epoch
    ``j + 1``; NaN where a replica has no such epoch (shorter replicas are
    padded, not cut). ``notes``, when given, receives :func:`read_runs`' notes.
    """
    tidy = read_runs(path, column, format, per_epoch_steps, within_epoch=within_epoch)
    if notes is not None:  # ``notes`` collects what read_runs reports (attrs["notes"])
        notes.extend(tidy.attrs["notes"])
    ids = list(pd.unique(tidy["replica"]))
    return ids, _array(tidy, ids, column)


def trajectories_from_frame(frame: pd.DataFrame, column: str, source: str = "data frame"):
    """``(replica_ids, trajectories)`` from a tidy frame (replica, epoch, column).

    Epochs are 1, 2, ... without gaps.  Replica ids are sorted as strings; row
    ``i`` of the array is ``replica_ids[i]``, column ``j`` epoch ``j + 1``.
    """
    tidy = _tidy(_long_runs(frame, column, source), column)
    ids = sorted(tidy["replica"].unique())
    return ids, _array(tidy, ids, column)


def parse_per_epoch_from(text: str | None) -> int | None:
    """``--per-epoch-from steps=N`` -> ``N`` (None when not given)."""
    if text is None:
        return None
    unit, sep, number = text.partition("=")
    if unit.strip() != "steps" or not sep or not number.strip().isdigit() or int(number) < 1:
        raise ValueError(f"--per-epoch-from must look like steps=N (N >= 1 optimizer steps per epoch), "
                         f"got {text!r}")
    return int(number)


# ---------------------------------------------------------------- checks shared by every format

def _tidy(log: _Log, column: str) -> pd.DataFrame:
    """Check every replica's epochs, make them 1-based, stack the replicas."""
    if not log.runs:
        raise ValueError("no replicas found")
    if column in ("replica", "epoch", "source"):
        raise ValueError(f"column {column!r} names an index of the tidy table, not an observable")
    names: dict[str, str] = {}
    for run in log.runs:
        if run.replica in names:
            raise ValueError(f"{run.source}: replica {run.replica!r} also read from {names[run.replica]}")
        names[run.replica] = run.source
        if run.epoch.size == 0:
            raise ValueError(f"{run.source}: no epochs recorded for replica {run.replica!r} "
                             f"(no row holds a value of {column!r})")
        bad = ~np.isfinite(run.epoch) | (np.mod(run.epoch, 1) != 0)
        if bad.any():
            raise ValueError(f"{run.source}: column 'epoch' must hold integers, found "
                             f"{run.epoch[bad][0]!r} for replica {run.replica!r}")
    lowest = min(run.epoch.min() for run in log.runs)
    shift = 1 if log.base == 0 or (log.base is None and lowest == 0) else 0
    checked = [_checked(run, shift, column, log.hint) for run in log.runs]
    sizes = [epochs.size for epochs, _ in checked]
    return pd.DataFrame({"replica": np.repeat([run.replica for run in log.runs], sizes),
                         "epoch": np.concatenate([epochs for epochs, _ in checked]),
                         column: np.concatenate([values for _, values in checked]),
                         "source": np.repeat([run.source for run in log.runs], sizes)})


def _checked(run: _Run, shift: int, column: str, hint: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, values)`` of one replica, sorted, 1-based; errors for bad epochs."""
    order = np.argsort(run.epoch, kind="stable")
    logged = run.epoch[order].astype(np.int64)
    where = f"{run.source}: "
    repeated = logged[1:][np.diff(logged) == 0]
    if repeated.size:
        raise ValueError(f"{where}duplicate epoch {repeated[0]} for replica {run.replica!r}")
    epochs = logged + shift
    counted = "0-based, shifted by 1" if shift else "1-based"
    if epochs[0] < 1:
        raise ValueError(f"{where}replica {run.replica!r} has epoch {logged[0]}, but this log's epochs "
                         f"count from {1 - shift}")
    if epochs[0] > 1:
        raise ValueError(f"{where}replica {run.replica!r} starts at epoch {logged[0]} ({counted}): "
                         f"epochs 1..{epochs[0] - 1} are missing, so its first passage is unknown "
                         f"there; fptopt does not renumber epochs (log every epoch from the start of "
                         f"training, or leave out runs resumed from a checkpoint){hint}")
    if epochs[-1] != epochs.size:
        missing = np.setdiff1d(np.arange(1, epochs[-1] + 1), epochs)[:5] - shift
        raise ValueError(f"{where}missing epochs for replica {run.replica!r}: no value of {column!r} "
                         f"at epoch(s) {missing.tolist()} (as logged, {counted}){hint}")
    return epochs, run.value[order]


def _array(tidy: pd.DataFrame, ids: list[str], column: str) -> np.ndarray:
    rows = pd.Index(ids).get_indexer(tidy["replica"])
    array = np.full((len(ids), int(tidy["epoch"].max())), np.nan)
    array[rows, tidy["epoch"].to_numpy() - 1] = tidy[column].to_numpy(dtype=float)
    return array


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _numeric(series: pd.Series, source: str, column: str) -> np.ndarray:
    numbers = pd.to_numeric(series, errors="coerce")
    suspect = numbers.isna() & series.notna()
    bad = suspect
    if suspect.any():  # only then look at the text (converting every value is slow on big tables)
        bad = suspect & ~series.astype(str).str.strip().str.lower().isin(["", "nan"])
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        label = series.index[position]
        row = label + 1 if isinstance(label, (int, np.integer)) else position + 1
        raise ValueError(f"{source}: column {column!r} has a non-numeric value "
                         f"{series.iloc[position]!r} (row {row})")
    return numbers.to_numpy(dtype=float)


def _missing(source, column: str, names, noun: str = "column") -> ValueError:
    """Error for a missing column: every name when there are few, else the 5 closest."""
    names = [str(name) for name in names]
    if len(names) <= 5:
        found = f"{noun}s found: {names}"
    else:
        found = (f"closest of the {len(names)} {noun}s found: "
                 f"{difflib.get_close_matches(column, names, n=5, cutoff=0.0)}")
    return ValueError(f"{source}: no {noun} {column!r}; {found}")


def _bin_steps(steps: np.ndarray, values: np.ndarray, per_epoch: int, source: str):
    """Epoch ``ceil(step / per_epoch)`` of every row, the last row of each epoch; step 0 dropped."""
    bad = ~np.isfinite(steps) | (np.mod(steps, 1) != 0)
    if bad.any():
        raise ValueError(f"{source}: steps must be integers, found {steps[bad][0]!r}")
    keep = steps > 0
    frame = pd.DataFrame({"step": steps[keep], "value": values[keep]}).sort_values("step", kind="stable")
    frame["epoch"] = np.ceil(frame["step"] / per_epoch)
    frame = frame.drop_duplicates("epoch", keep="last")
    return frame["epoch"].to_numpy(dtype=float), frame["value"].to_numpy(dtype=float)


def _last_per_epoch(epochs: np.ndarray, values: np.ndarray):
    """The last row (in log order) of each epoch."""
    frame = pd.DataFrame({"epoch": epochs, "value": values}).drop_duplicates("epoch", keep="last")
    return frame["epoch"].to_numpy(dtype=float), frame["value"].to_numpy(dtype=float)


def _replica_name(folder: Path, root: Path) -> str:
    """A run folder's id: its path below ``root``, or its own name when it is ``root`` or
    holds it (``root`` a checkpoint folder of the run, or a file in one)."""
    if folder == root or root.resolve().is_relative_to(folder.resolve()):
        return folder.resolve().name
    return folder.relative_to(root).as_posix()


# ---------------------------------------------------------------- text and CSV

def _text(path: Path) -> str:
    return _decode(path.read_bytes(), path)


def _first_line(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        return next(_csv_rows(_decode(handle.readline(), path)), [])


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 text, a byte-order mark dropped (it would hide the first column's name)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte {data[error.start]:#04x} at offset "
                         f"{error.start}); save the log as UTF-8") from error


def _csv_rows(text: str):
    return csv.reader(io.StringIO(text, newline=""))


def _read_csv(path: Path) -> pd.DataFrame:
    """Every cell as a string; the header stripped; blank lines skipped; ragged rows refused."""
    rows = [row for row in _csv_rows(_text(path)) if row]
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header and one row per epoch)")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: ragged CSV: line {number} has {len(row)} fields, "
                             f"the header has {len(header)}")
    return pd.DataFrame(body, columns=header, dtype=object)


def _present(cells: pd.Series, absent=("",)) -> np.ndarray:
    return ~cells.astype(str).str.strip().isin(absent).to_numpy()


def _epochs_of(frame: pd.DataFrame, path: Path, steps: int | None):
    """``(numbers, kind)``: column ``epoch`` (kind "epoch"), column ``step`` when binning steps
    ("steps"), or ``None`` when the file has neither ("rows": one row per epoch, in order)."""
    if steps is not None:
        if "step" not in frame.columns:
            raise ValueError(f"{path}: --per-epoch-from steps=N (per_epoch_steps) needs a 'step' column; "
                             f"columns found: {list(frame.columns)[:5]}")
        return _numbers(frame["step"], path, "step"), "steps"
    if "epoch" in frame.columns:
        return _numbers(frame["epoch"], path, "epoch"), "epoch"
    if "step" in frame.columns:
        raise ValueError(f"{path}: no 'epoch' column, only 'step': pass --per-epoch-from steps=N "
                         f"(per_epoch_steps=N, optimizer steps per epoch) to group the rows into epochs")
    return None, "rows"


def _numbers(cells: pd.Series, path: Path, name: str) -> np.ndarray:
    values = pd.to_numeric(cells.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise ValueError(f"{path}: column {name!r} must hold integers, found {cells.iloc[row]!r} "
                         f"(row {row + 1})")
    return values


# ---------------------------------------------------------------- formats

def _per_replica_csv(path: Path, column: str, steps: int | None, base, absent, keep_last: bool) -> _Run:
    """One replica from one CSV file (replica id = file stem).

    ``absent``: cell spellings meaning "not logged in this row" (such rows are
    skipped); ``keep_last``: keep the last row of an epoch instead of refusing
    duplicates.
    """
    frame = _read_csv(path)
    if column not in frame.columns:
        raise _missing(path, column, frame.columns)
    if frame.empty:
        raise ValueError(f"{path}: no epochs recorded (header only)")
    rows = np.arange(len(frame), dtype=float) + (0 if base == 0 else 1)  # logs without epochs
    if absent:
        present = _present(frame[column], absent)
        frame, rows = frame[present], rows[present]
    values = _numeric(frame[column], str(path), column)
    epochs, kind = _epochs_of(frame, path, steps)
    if kind == "rows":
        epochs = rows
    elif kind == "steps":
        if "epoch" in frame.columns:
            _check_steps_per_epoch(epochs, _numbers(frame["epoch"], path, "epoch"), steps, path)
        epochs, values = _bin_steps(epochs, values, steps, str(path))
    elif keep_last:
        epochs, values = _last_per_epoch(epochs, values)
    elif base is None and np.any(np.diff(epochs) != 1):
        row = int(np.flatnonzero(np.diff(epochs) != 1)[0])
        raise ValueError(f"{path}: column 'epoch' must increase by 1 per row (replica {path.stem!r}: "
                         f"epoch {epochs[row]:g} is followed by {epochs[row + 1]:g})")
    return _Run(path.stem, str(path), epochs, values)


def _read_csv_dir(path: Path, column: str, steps: int | None) -> _Log:
    files = [path] if path.is_file() else _files(path, (".csv",), "CSV files (one per replica)")
    runs = [_per_replica_csv(file, column, steps, None, (), False) for file in files]
    return _Log(runs, 1 if steps else None)


def _read_keras(path: Path, column: str, steps: int | None) -> _Log:
    runs = [_Run(name, run.source, run.epoch, run.value)
            for name, file in _keras_files(path).items()
            for run in [_per_replica_csv(file, column, steps, 0, ("", "NA"), False)]]
    return _Log(runs, 1 if steps else 0)


def _keras_files(path: Path) -> dict[str, Path]:
    """Keras ``CSVLogger`` files by replica: ``*.log`` directly in ``path`` (``*.csv`` when there
    is no ``*.log``; file stem), else one folder per run holding its ``*.log`` (folder name, or
    ``folder/stem`` when a folder holds several)."""
    if path.is_file():
        return {path.stem: path}
    direct = _files(path, (".log",)) or _files(path, (".csv",))
    if direct:
        return {file.stem: file for file in direct}
    nested = {}
    for folder in sorted((d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")),
                         key=lambda d: _natural_key(d.name)):
        logs = _files(folder, (".log",))
        nested |= {folder.name if len(logs) == 1 else f"{folder.name}/{file.stem}": file for file in logs}
    if not nested:
        raise ValueError(f"{path}: directory holds no Keras CSVLogger files (*.log or *.csv, directly or one "
                         f"folder per run)")
    return nested


def _read_lightning(path: Path, column: str, steps: int | None) -> _Log:
    files = [path] if path.is_file() else sorted(path.rglob("metrics.csv"))
    if not files:
        raise ValueError(f"{path}: no metrics.csv below this folder (PyTorch Lightning CSVLogger)")
    root = path.parent if path.is_file() else path
    runs = []
    for file in files:
        run = _per_replica_csv(file, column, steps, 0, ("",), True)
        runs.append(_Run(_replica_name(file.parent, root), run.source, run.epoch, run.value))
    return _Log(runs, 1 if steps else 0)


def _files(folder: Path, suffixes: tuple[str, ...], what: str = "") -> list[Path]:
    """Files directly in ``folder`` with one of ``suffixes`` (any case), hidden files left out."""
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file())
    if not files and what:
        raise ValueError(f"{folder}: directory holds no {what}")
    return files


def _read_long(path: Path, column: str, steps: int | None) -> _Log:
    if path.is_dir() or path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: a long table is one .csv or .parquet file")
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: cannot read table: {error}") from error
    else:
        frame = _read_csv(path)
    if steps is not None and "step" in frame.columns:
        frame = frame.assign(epoch=frame["step"])
    elif steps is None and "step" in frame.columns and "epoch" not in frame.columns:
        raise ValueError(f"{path}: no 'epoch' column, only 'step': pass --per-epoch-from steps=N "
                         f"(per_epoch_steps=N, optimizer steps per epoch) to group the rows into epochs")
    log = _long_runs(frame, column, str(path))
    if steps is None:
        return log
    runs = [_Run(run.replica, run.source, *_bin_steps(run.epoch, run.value, steps, run.source))
            for run in log.runs]
    return _Log(runs, 1)


def _long_runs(frame: pd.DataFrame, column: str, source: str) -> _Log:
    required = ["replica", "epoch", column]
    missing = [name for name in required if name not in frame.columns]
    if missing:
        names = list(map(str, frame.columns))
        if missing == [column] and len(names) > 5:
            raise _missing(source, column, names)
        raise ValueError(f"{source}: missing column(s) {missing}; columns found: {names}")
    if frame.empty:
        raise ValueError(f"{source}: the table has no rows")
    epochs = pd.to_numeric(frame["epoch"], errors="coerce").to_numpy(dtype=float)
    values = _numeric(frame[column], source, column)
    codes, uniques = pd.factorize(frame["replica"], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    runs = [_Run(str(name), source, epochs[order[a:b]], values[order[a:b]])
            for name, a, b in zip(uniques, bounds[:-1], bounds[1:], strict=True)]
    return _Log(runs, 1)


def _read_huggingface(path: Path, column: str, steps: int | None, within_epoch: str = "last") -> _Log:
    files = [path] if path.is_file() else sorted(path.rglob("trainer_state.json"))
    if not files:
        raise ValueError(f"{path}: no trainer_state.json below this folder (Hugging Face Trainer)")
    root = path.parent if path.is_file() else path
    latest: dict[Path, tuple] = {}
    for file in files:
        state = _json(file)
        run = file.parent.parent if re.fullmatch(r"checkpoint-\d+", file.parent.name) else file.parent
        step = state.get("global_step")
        rank = (step if isinstance(step, (int, float)) else -1, len(state["log_history"]))
        if run not in latest or rank > latest[run][0]:
            latest[run] = (rank, file, state["log_history"])
    runs = [_hf_run(_replica_name(run, root), file, history, column, steps, within_epoch)
            for run, (_, file, history) in latest.items()]
    between = steps is None and any(_between_epochs(history, column) for _, _, history in latest.values())
    notes = ()
    if between and within_epoch == "last":
        count = sum(_between_count(history, column) for _, _, history in latest.values())
        notes = (f"{path}: {count} evaluation(s) of {column!r} fall between epochs and are not used: a replica "
                 f"passes at the end-of-epoch evaluation (--any-evaluation counts a pass at any evaluation, "
                 f"at the epoch it falls in)",)
    return _Log(runs, 1, HF_STEPS_HINT if between and within_epoch == "last" else "", notes)


def _between_epochs(history: list, column: str) -> bool:
    return _between_count(history, column) > 0


def _between_count(history: list, column: str) -> int:
    epochs = [entry.get("epoch") for entry in history if isinstance(entry, dict) and column in entry]
    return sum(isinstance(epoch, (int, float)) and abs(epoch - round(epoch)) > HF_EPOCH_TOLERANCE + 1e-9
               for epoch in epochs)


def _check_steps_per_epoch(steps: np.ndarray, epochs: np.ndarray, per_epoch: int, source) -> None:
    """Refuse a ``--per-epoch-from steps=N`` that disagrees with the log's own epoch field:
    the slope of step against epoch is the number of steps in an epoch."""
    keep = np.isfinite(steps) & np.isfinite(epochs)
    steps, epochs = steps[keep], epochs[keep]
    if np.unique(epochs).size < 2:
        return
    implied = float(np.polyfit(epochs, steps, 1)[0])
    if abs(implied - per_epoch) > max(0.5, 0.01 * per_epoch):
        raise ValueError(f"{source}: --per-epoch-from steps={per_epoch} disagrees with the log's own epoch field, "
                         f"which puts {implied:.4g} steps in an epoch; pass --per-epoch-from steps="
                         f"{max(1, round(implied))}, or leave it out (this log records its epochs)")


def _json(file: Path) -> dict:
    try:
        state = json.loads(_text(file))
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from error
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise ValueError(f"{file}: no 'log_history' list (expected a Hugging Face trainer_state.json)")
    return state


def _hf_run(replica: str, file: Path, history: list, column: str, steps: int | None,
            within_epoch: str = "last") -> _Run:
    entries = [entry for entry in history if isinstance(entry, dict) and column in entry]
    if not entries:
        names = sorted({key for entry in history if isinstance(entry, dict) for key in entry}
                       - {"epoch", "step"})
        raise _missing(file, column, names, "metric")
    key = "step" if steps is not None else "epoch"
    if any(key not in entry for entry in entries):
        raise ValueError(f"{file}: a log_history entry with {column!r} has no {key!r}")
    try:
        position = np.array([float(entry[key]) for entry in entries])
        values = np.array([np.nan if entry[column] is None else float(entry[column]) for entry in entries])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{file}: {key!r} or {column!r} has a non-numeric value ({error})") from error
    if steps is not None:
        if all("epoch" in entry for entry in entries):
            _check_steps_per_epoch(position, np.array([float(entry["epoch"]) for entry in entries]), steps, file)
        return _Run(replica, str(file), *_bin_steps(position, values, steps, str(file)))
    if within_epoch != "last":
        table = pd.DataFrame({"epoch": np.ceil(position - HF_EPOCH_TOLERANCE - 1e-9), "value": values})
        table = table[table["epoch"] >= 1]
        best = table.groupby("epoch")["value"].agg(within_epoch)  # NaN where an epoch has only NaN
        return _Run(replica, str(file), best.index.to_numpy(dtype=float), best.to_numpy(dtype=float))
    nearest = np.round(position)
    distance = np.abs(position - nearest)
    at_epoch = (distance <= HF_EPOCH_TOLERANCE + 1e-9) & (nearest >= 1)
    if not at_epoch.any():
        raise ValueError(f"{file}: {column!r} is logged only at fractional epochs (step logs) for "
                         f"replica {replica!r}; pass --per-epoch-from steps=N (per_epoch_steps=N, "
                         f"optimizer steps per epoch) to group its 'step' values into epochs")
    table = pd.DataFrame({"epoch": nearest, "distance": distance, "order": np.arange(len(entries)),
                          "value": values})[at_epoch]
    table = table.sort_values(["epoch", "distance", "order"], ascending=[True, True, False])
    table = table.drop_duplicates("epoch")  # the entry closest to the epoch's end, the last if tied
    return _Run(replica, str(file), table["epoch"].to_numpy(dtype=float),
                table["value"].to_numpy(dtype=float))


def _read_wandb(path: Path, column: str, steps: int | None) -> _Log:
    if path.is_dir():
        raise ValueError(f"{path}: a W&B export is one CSV file")
    frame = _read_csv(path)
    axis = "epoch" if "epoch" in frame.columns else "Step" if "Step" in frame.columns else None
    if axis is None:
        raise ValueError(f"{path}: a W&B export needs a 'Step' or 'epoch' column; columns found: "
                         f"{list(frame.columns)[:5]}")
    series = {}
    for name in frame.columns:
        run, sep, metric = name.rpartition(" - ")
        if sep and not metric.endswith(("__MIN", "__MAX")):
            if run in series.setdefault(metric, {}):
                raise ValueError(f"{path}: two columns {name!r}: runs with the same name cannot be told "
                                 f"apart; give them distinct names in W&B before exporting")
            series[metric][run] = name
    if column not in series:
        raise _missing(path, column, sorted(series), "metric")
    position = pd.to_numeric(frame[axis].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    runs = []
    for run, name in series[column].items():
        present = _present(frame[name])
        values = _numeric(frame[name][present], str(path), name)
        epochs = position[present]
        if steps is not None:
            epochs, values = _bin_steps(epochs, values, steps, f"{path} (run {run!r})")
        runs.append(_Run(run, str(path), epochs, values))
    hint = STEPS_HINT if axis == "Step" and steps is None else ""
    return _Log(runs, 1 if steps else None, hint)


def _read_tensorboard(path: Path, column: str, steps: int | None) -> _Log:
    try:
        from tensorboard.backend.event_processing import event_accumulator
        from tensorboard.util import tensor_util
    except ImportError as error:
        raise ValueError(f"{path}: reading TensorBoard event files needs the tensorboard package: "
                         f"pip install tensorboard (or pip install 'fptopt[logs]')") from error
    if path.is_file():
        sources, root = [path], path.parent
    else:
        sources = sorted({file.parent for file in path.rglob(EVENTS_GLOB) if file.is_file()})
        root = path
        if not sources:
            raise ValueError(f"{path}: no TensorBoard event files ({EVENTS_GLOB}) below this folder")
    runs = []
    for source in sources:
        accumulator = event_accumulator.EventAccumulator(
            str(source), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        if column in tags.get(event_accumulator.SCALARS, []):
            events = [(event.step, event.value) for event in accumulator.Scalars(column)]
        elif column in tags.get(event_accumulator.TENSORS, []):
            events = [(event.step, _scalar(tensor_util.make_ndarray(event.tensor_proto), source, column))
                      for event in accumulator.Tensors(column)]
        else:
            names = sorted({*tags.get(event_accumulator.SCALARS, []),
                            *tags.get(event_accumulator.TENSORS, [])})
            raise _missing(source, column, names, "scalar tag")
        position = np.array([step for step, _ in events], dtype=float)
        values = np.array([value for _, value in events], dtype=float)
        if steps is not None:
            if "epoch" in tags.get(event_accumulator.SCALARS, []):
                epoch_at = {event.step: event.value for event in accumulator.Scalars("epoch")}
                paired = [(step, epoch_at[step]) for step in position if step in epoch_at]
                if paired:
                    _check_steps_per_epoch(*map(np.array, zip(*paired, strict=True)), steps, source)
            position, values = _bin_steps(position, values, steps, str(source))
        replica = source.parent.resolve().name if source.is_file() else _replica_name(source, root)
        runs.append(_Run(replica, str(source), position, values))
    return _Log(runs, 1 if steps else None, "" if steps else STEPS_HINT)


def _scalar(array: np.ndarray, source: Path, column: str) -> float:
    if array.size != 1:
        raise ValueError(f"{source}: tag {column!r} holds tensors of shape {array.shape}, not scalars")
    return float(array.reshape(-1)[0])


_READERS = {"csv_dir": _read_csv_dir, "long": _read_long, "lightning": _read_lightning,
            "keras": _read_keras, "huggingface": _read_huggingface, "wandb": _read_wandb,
            "tensorboard": _read_tensorboard}


# ---------------------------------------------------------------- detection

def detect_format(path) -> str:
    """The format ``read_runs(path, format="auto")`` reads ``path`` as (one of :data:`FORMATS`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return _detect(path)


def _detect(path: Path) -> str:
    return _detect_file(path) if path.is_file() else _detect_directory(path)


def _detect_file(path: Path) -> str:
    name, suffix = path.name, path.suffix.lower()
    if name.startswith("events.out.tfevents"):
        return "tensorboard"
    if suffix == ".json":
        return "huggingface"
    if suffix == ".parquet":
        return "long"
    if suffix not in (".csv", ".log"):
        raise ValueError(f"{path}: expected a directory of CSV files or a .csv/.parquet long table "
                         f"(or a trainer log: metrics.csv, *.log, trainer_state.json, "
                         f"events.out.tfevents.*), got suffix {path.suffix!r}")
    header = [field.strip() for field in _first_line(path)]
    if any(" - " in field for field in header):
        return "wandb"
    if "replica" in header and "epoch" in header:
        return "long"
    if name == "metrics.csv" or {"epoch", "step"} <= set(header):
        return "lightning"
    return "keras" if suffix == ".log" else "csv_dir"


def _detect_directory(path: Path) -> str:
    found = []
    if any(path.rglob(EVENTS_GLOB)):
        found.append("tensorboard")
    if any(path.rglob("trainer_state.json")):
        found.append("huggingface")
    if any(path.rglob("metrics.csv")):
        found.append("lightning")
    examples = {}
    if _files(path, (".log",)) or (not found and _nested_keras(path)):
        found.append("keras")
        examples["keras"] = [p.name for p in _files(path, (".log",))] or [
            f"{d.name}/{f.name}" for d in _nested_keras(path) for f in _files(d, (".log",))]
    csvs = [p.name for p in _files(path, (".csv",)) if p.name != "metrics.csv"]
    if csvs:
        found.append("csv_dir")
        examples["csv_dir"] = csvs
    if not found:
        raise ValueError(f"{path}: directory holds no CSV files (one per replica) nor other training "
                         f"logs (metrics.csv, *.log, trainer_state.json, {EVENTS_GLOB})")
    if len(found) > 1:
        described = "; ".join(f"{name} ({', '.join(examples[name][:3])}{', …' if len(examples[name]) > 3 else ''})"
                              if name in examples else name for name in found)
        raise ValueError(f"{path}: holds logs of several formats: {described}; pass --format with one of "
                         f"{found} to read only those files (format=... in Python), or move the others aside")
    return found[0]


def _nested_keras(path: Path) -> list[Path]:
    """Subfolders holding Keras ``*.log`` files (one folder per run)."""
    return [d for d in sorted(path.iterdir()) if d.is_dir() and not d.name.startswith(".") and _files(d, (".log",))]

