"""Shared by the benchmark scripts: print a result and keep it as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def write_json(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def emit(result: dict, out: Path | None) -> None:
    """Print ``result`` as JSON and, with ``out``, write it there too."""
    print(json.dumps(result, indent=2))
    if out:
        write_json(result, out)
