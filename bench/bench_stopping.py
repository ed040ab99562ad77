"""What stopping replicas at their first passage saves on the default study:
`make run`'s DAG (snakemake on config.yaml) run twice, side by side in one
invocation, in two scratch copies of the workflow: once as configured
(``training.stop_at_target: true``) and once with stopping off. Reports the
wall time, the replica-epochs computed by all training jobs (the ``trained``
rows of every training table) and the design's replica-epochs per protocol
(``results/tables/optimum.csv``), with their ratios, and whether the two runs
chose the same periods (they must: stopping changes no first passage).

    python bench/bench_stopping.py [--cores N] [--out bench/results/stopping.json]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from report import emit  # bench/report.py (the script's folder is on sys.path)

from fptopt.pipeline.provenance import provenance

ROOT = Path(__file__).resolve().parents[1]


def run_study(workdir: Path, stop: bool, cores: int) -> dict:
    """One full default study in ``workdir`` with stopping on or off."""
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, workdir / name)
    shutil.copytree(ROOT / "workflow", workdir / "workflow")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["training"]["stop_at_target"] = stop
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores)], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    tables = sorted((workdir / "results").glob("train_*/**/*.parquet"))
    trained = sum(int(pd.read_parquet(path, columns=["trained"])["trained"].sum()) for path in tables)
    optimum = pd.read_csv(workdir / "results" / "tables" / "optimum.csv").set_index("protocol")
    return {"stop_at_target": stop, "wall_s": round(wall, 1), "training_jobs": len(tables),
            "replica_epochs_trained": trained,
            "design_replica_epochs": optimum["design_replica_epochs"].astype(int).to_dict(),
            "best_tau": optimum["best_tau"].astype(int).to_dict(),
            "indifferent_taus": optimum["indifferent_taus"].astype(str).to_dict()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stopping.json")
    args = parser.parse_args(argv)
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, stop in (("stopping", True), ("no_stopping", False)):
            workdir = Path(scratch) / label
            workdir.mkdir()
            print(f"[{time.strftime('%H:%M:%S')}] default study, stop_at_target = {stop} ...", flush=True)
            runs[label] = run_study(workdir, stop, args.cores)
    on, off = runs["stopping"], runs["no_stopping"]
    result = {
        "runs": runs,
        "wall_time_ratio_off_over_on": round(off["wall_s"] / on["wall_s"], 2),
        "replica_epochs_ratio_off_over_on": round(off["replica_epochs_trained"] / on["replica_epochs_trained"], 2),
        "same_answer": on["best_tau"] == off["best_tau"],
        "provenance": provenance({"cores": args.cores}, command="python bench/bench_stopping.py"),
    }
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
