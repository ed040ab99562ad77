"""Provenance of every output (hashing and atomic writes are :mod:`fptopt.storage`).

Each result records the hash of the config section that made it, the seeds,
the package version and the git commit. Tables hold no timestamps or host
names (those go to the ``.provenance.json`` sidecar), so a rerun of the same
config produces byte-identical tables.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..storage import config_hash, write_json


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
