"""Time `fptopt analyze` against the import of its libraries, side by side.

    python bench/bench_analysis.py [--replicas 1000] [--epochs 200] [--resamples 1000] [--repeats 3]

1. In-process: the analysis of R replicas x H epochs (baseline + one
   frequency), without and with bootstrap resamples.
2. Whole command, as a user runs it: ``fptopt analyze`` on long Parquet
   tables of that size, figures on, against ``python -c "import numpy, pandas,
   scipy.stats, pyarrow"`` on the same machine in the same run (the target:
   at most 3x), and ``fptopt analyze --help``. Each command runs ``--repeats``
   times; the median counts. Results: bench/results/analysis.json.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fptopt.stats.analyze import analyze

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit  # noqa: E402


def synthetic_runs(replicas, epochs, period=None, seed=0):
    """Accuracy-like runs: rise to a 70% plateau (sd 1) after every (re)start."""
    rng = np.random.default_rng(seed)
    age = (np.arange(epochs) % period + 1) if period else np.arange(1, epochs + 1)
    mean = 70.0 - 40.0 * np.exp(-age / 4.0)
    return mean[None, :] + rng.normal(0.0, 1.0, (replicas, epochs))


def long_parquet(values, path):
    replicas, epochs = np.indices(values.shape)
    pd.DataFrame({"replica": replicas.ravel(), "epoch": epochs.ravel() + 1,
                  "test_acc": values.ravel()}).to_parquet(path)


def median_seconds(command, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--tau-star", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    baseline = synthetic_runs(args.replicas, args.epochs, seed=1)
    perturbed = synthetic_runs(args.replicas, args.epochs, args.tau_star, seed=2)
    results = {"replicas": args.replicas, "epochs": args.epochs}
    for label, resamples in (("in_process_s", 0), ("in_process_bootstrap_s", args.resamples)):
        start = time.perf_counter()
        analyze(baseline, {args.tau_star: perturbed}, target=72.0, bootstrap=resamples, seed=0)
        results[label] = time.perf_counter() - start
    results["bootstrap_resamples"] = args.resamples
    fptopt = [sys.executable, "-m", "fptopt.cli"]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        long_parquet(baseline, folder / "baseline.parquet")
        long_parquet(perturbed, folder / "perturbed.parquet")
        imports = [sys.executable, "-c", "import numpy, pandas, scipy.stats, pyarrow"]
        command = fptopt + ["analyze", "--baseline", str(folder / "baseline.parquet"), "--perturbed",
                            f"{args.tau_star}={folder / 'perturbed.parquet'}", "--target", "72",
                            "--out", str(folder / "out")]
        results["import_libraries_s"] = median_seconds(imports, args.repeats)
        results["analyze_command_s"] = median_seconds(command, args.repeats)
        results["analyze_help_s"] = median_seconds(fptopt + ["analyze", "--help"], args.repeats)
    results["command_over_imports"] = results["analyze_command_s"] / results["import_libraries_s"]
    emit(results, Path(__file__).resolve().parent / "results" / "analysis.json")


if __name__ == "__main__":
    main()
