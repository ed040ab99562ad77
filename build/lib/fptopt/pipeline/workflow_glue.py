"""Helpers for the thin scripts the Snakemake rules run."""

from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def logging_to(log_path):
    """Send stdout/stderr of a rule's script to its log file, errors included."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as log:
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = log
        try:
            yield log
        except BaseException:
            traceback.print_exc(file=log)
            raise
        finally:
            sys.stdout, sys.stderr = saved
