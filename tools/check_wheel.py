"""What `pip install fptopt` gives a user: build the wheel, install it with its base
requirements only (the locked versions, with hashes) in a fresh venv, and run
`fptopt check-config` and `fptopt analyze` outside the checkout (CI runs this, `make wheel-check`).

    python tools/check_wheel.py [--keep]

It fails when the wheel's base requirements name torch, torchvision,
scikit-learn or snakemake, when the base closure misses a requirement
(`pip check`), when a run-time file is not package data (check-config reads
the schema), or when either command fails. The base closure's pins are those
of the analysis rules' environment (workflow/envs/analysis.yaml, the closure of
the base requirements over requirements.lock, written by tools/lock.py).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_IN_BASE = {"torch", "torchvision", "scikit-learn", "snakemake"}


def run(*command, cwd=None) -> str:
    print("+", " ".join(map(str, command)), flush=True)
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"check_wheel: failed ({done.returncode}): {' '.join(map(str, command))}\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def base_requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    requires = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    return [r for r in requires if "extra ==" not in r]


def normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_base(folder: Path) -> Path:
    """The lock's entries (with hashes) for the base closure, as a requirements file."""
    pins = re.findall(r"^\s+- ([A-Za-z0-9_.\-]+)==", (ROOT / "workflow/envs/analysis.yaml").read_text(), flags=re.M)
    entries = {normal(m.group(1)): m.group(0) for m in re.finditer(
        r"^([A-Za-z0-9_.\-]+)==.*?(?=^\S|\Z)", (ROOT / "requirements.lock").read_text(), flags=re.M | re.S)}
    missing = [p for p in pins if normal(p) not in entries]
    if missing:
        raise SystemExit(f"check_wheel: {missing} are pinned in workflow/envs/analysis.yaml but not in "
                         "requirements.lock; run `make lock`")
    path = folder / "base.lock"
    path.write_text("".join(entries[normal(p)] for p in pins))
    return path


ANALYZE_DATA = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
for name, period in (("baseline", None), ("perturbed", 10)):
    age = (np.arange(40) % period + 1) if period else np.arange(1, 41)
    values = 70 - 40 * np.exp(-age / 2) + rng.normal(0, 1, (60, 40))
    replicas, epochs = np.indices(values.shape)
    pd.DataFrame({"replica": replicas.ravel(), "epoch": epochs.ravel() + 1,
                  "test_acc": values.ravel()}).to_parquet(f"{name}.parquet")
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="fptopt-wheel-"))
    stale_build = not (ROOT / "build").exists()  # setuptools builds in ROOT/build: leave no copy of the sources
    try:
        run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", folder / "dist",
            ROOT)
        wheel = next((folder / "dist").glob("fptopt-*.whl"))
        requires = base_requirements(wheel)
        heavy = sorted(n for n in NOT_IN_BASE if any(normal(re.split(r"[<>=!~; \[]", r)[0]) == n for r in requires))
        if heavy:
            raise SystemExit(f"check_wheel: the base requirements name {heavy}: {requires}")
        print(f"base requirements: {requires}")
        venv = folder / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        run(python, "-m", "pip", "install", "-q", "--require-hashes", "--no-deps", "-r", locked_base(folder))
        run(python, "-m", "pip", "install", "-q", "--no-deps", wheel)
        run(python, "-m", "pip", "check")
        work = folder / "work"
        work.mkdir()
        print(run(venv / "bin" / "fptopt", "check-config", "--config", ROOT / "config.yaml", cwd=work).strip())
        run(python, "-c", ANALYZE_DATA, cwd=work)
        out = run(venv / "bin" / "fptopt", "analyze", "--baseline", "baseline.parquet", "--perturbed",
                  "10=perturbed.parquet", "--target", "71.5", "--out", "analysis", cwd=work)
        print(out.strip().splitlines()[0])
        for name in ("summary.json", "prediction.csv", "mfpt_vs_tau.png"):
            if not (work / "analysis" / name).exists():
                raise SystemExit(f"check_wheel: fptopt analyze wrote no {name}")
        torch_check = subprocess.run([python, "-c", "import torch"], capture_output=True)
        if torch_check.returncode == 0:
            raise SystemExit("check_wheel: torch is importable in the base install")
        print("check_wheel: the wheel's base install runs check-config and analyze outside the checkout, no torch")
        return 0
    finally:
        if stale_build:
            shutil.rmtree(ROOT / "build", ignore_errors=True)
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
