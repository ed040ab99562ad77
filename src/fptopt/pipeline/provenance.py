"""Provenance of every output, and atomic writes.

Each result records the hash of the config section that made it, the seeds,
the package version and the git commit. Tables hold no timestamps or host
names (those go to the ``.provenance.json`` sidecar), so a rerun of the same
config produces byte-identical tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .. import __version__
from ..stats.logs import file_sha256  # noqa: F401  (one file hasher, shared with fptopt analyze)


def config_hash(section) -> str:
    """A short, stable hash of a JSON-serializable config section."""
    text = json.dumps(section, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit() -> str:
    """The commit of the source tree (``+dirty`` when it has local changes)."""
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(config_section, **extra) -> dict:
    """What made an output: config hash, package version, commit, library
    versions, plus ``extra``."""
    return {"config_hash": config_hash(config_section), "fptopt_version": __version__,
            "git_commit": git_commit(), "versions": library_versions(), **extra}


def ensure_writable(path) -> None:
    """Fail early, naming the path, when ``path``'s directory cannot be created or written."""
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{parent}: cannot create the results directory ({error.strerror or error})") from error
    if not os.access(parent, os.W_OK):
        raise OSError(f"{parent}: results directory is not writable")


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


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


LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "torch", "torchvision", "snakemake")


def library_versions() -> dict:
    """Python and the installed versions of the libraries that shape a result;
    CUDA and cuDNN when torch is already loaded (never imported just for this)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    torch = sys.modules.get("torch")
    if torch is not None:
        versions["cuda"] = torch.version.cuda
        versions["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return versions


def write_sidecar(path, meta: dict) -> None:
    """``<path>.provenance.json``: ``meta`` plus when and where it was made and
    the library versions it was made with."""
    where = {"created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "host": platform.node(), "versions": library_versions()}
    write_json({**meta, **where}, Path(str(path) + ".provenance.json"))


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
