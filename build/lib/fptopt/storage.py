"""The bottom layer: hashing, atomic writes and tidy tables, used by every other layer.

Nothing here knows about training, statistics or the pipeline (import-linter
checks it: ``make lint``). Every file a result lands in is written to a
temporary file beside it and renamed over it (``os.replace``), so a crash
leaves the old file or the new one, never half of one; temporary files are
created with ``open()``, so their mode follows the process umask like any
plain file (no umask is read or changed).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["atomic_path", "config_hash", "file_sha256", "input_hash", "jsonable", "read_table",
           "replace_directory", "table_meta", "write_json", "write_table", "write_texts"]


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def input_hash(path) -> str:
    """SHA-256 of a file, or of the sorted (name, file hash) list of a directory."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{child.relative_to(path)}\0{input_hash(child)}\n".encode())
    return digest.hexdigest()


def config_hash(section) -> str:
    """A short, stable hash of a JSON-serializable config section."""
    text = json.dumps(section, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _temporary_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_beside(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_texts(contents: dict) -> list[Path]:
    """Write ``{path: text}`` together: every text goes to its temporary file
    first, and only when all are written are they renamed into place (an
    error on the way leaves every target as it was)."""
    targets = {Path(path): text for path, text in contents.items()}
    temporary: dict[Path, Path] = {}
    try:
        for target, text in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary[target] = _temporary_beside(target)
            temporary[target].write_text(text)
        for target, temp in temporary.items():
            os.replace(temp, target)
    finally:
        for temp in temporary.values():
            temp.unlink(missing_ok=True)
    return list(targets)


def replace_directory(out_dir, write) -> None:
    """Write a whole output folder at once: ``write(folder)`` fills a fresh
    hidden folder beside ``out_dir``, which then replaces ``out_dir`` (no stale
    file of an earlier run survives; an interrupted run leaves the old folder)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: exists and is not a directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = out_dir.parent / f".{out_dir.name}.new-{os.getpid()}-{secrets.token_hex(4)}"
    fresh.mkdir()
    old = out_dir.parent / f"{fresh.name}.old"
    try:
        write(fresh)
        if out_dir.exists():
            out_dir.rename(old)
        fresh.rename(out_dir)
    finally:
        for leftover in (fresh, old):
            if leftover.exists():
                shutil.rmtree(leftover)


def jsonable(value):
    """``value`` with numpy scalars made plain and non-finite floats made ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_table(frame: pd.DataFrame, path, meta: dict | None = None) -> None:
    """Write a tidy table atomically (Parquet or CSV by suffix); Parquet keeps
    ``meta`` in its schema metadata under the key ``fptopt``."""
    path = Path(path)
    with atomic_path(path) as temporary:
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if meta is not None:
                table = table.replace_schema_metadata(
                    {**(table.schema.metadata or {}), b"fptopt": json.dumps(meta, sort_keys=True, default=str).encode()}
                )
            pq.write_table(table, temporary)
        else:
            frame.to_csv(temporary, index=False, float_format="%.10g")


def write_json(payload, path) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_table(path) -> pd.DataFrame:
    """Read a Parquet/CSV result, naming the file when it is missing or corrupt."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such result file")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as error:
        raise ValueError(f"{path}: cannot read table ({type(error).__name__}: {error}); "
                         "the file is corrupt or truncated, delete it and rerun its rule") from error


def table_meta(path) -> dict:
    """The provenance stored in a Parquet file's metadata (empty if none)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(b"fptopt", b"{}"))
