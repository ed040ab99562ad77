"""Checkpoints of a training block, written atomically, read back only when
they belong to the same job (same fingerprint of config, seeds and code)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ..storage import atomic_path


def save_checkpoint(path, fingerprint: str, snapshot: dict) -> None:
    """Write ``snapshot`` to ``path`` via a temporary file and an atomic rename."""
    with atomic_path(path) as temporary:
        torch.save({"fingerprint": fingerprint, "snapshot": snapshot}, temporary)


def load_checkpoint(path, fingerprint: str) -> dict | None:
    """The saved snapshot, or None when there is none or it belongs to another job."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a torn file from a crash mid-write of an older version
        print(f"warning: ignoring unreadable checkpoint {path}: {error}", file=sys.stderr)
        return None
    if saved.get("fingerprint") != fingerprint:
        print(f"warning: ignoring checkpoint {path}: it was made by a different config", file=sys.stderr)
        return None
    return saved["snapshot"]


def remove_checkpoint(path) -> None:
    Path(path).unlink(missing_ok=True)
