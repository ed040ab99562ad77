"""Time the analysis of 1,000 replicas x 200 epochs, without and with 1,000
bootstrap resamples.  Targets: <= 2 s and <= 60 s (2 CPU cores).

    python bench/bench_analysis.py [--replicas 1000] [--epochs 200] [--resamples 1000]
"""

import argparse
import time

import numpy as np

from fptopt.analyze import analyze


def synthetic_runs(replicas, epochs, period=None, seed=0):
    """Accuracy-like runs: rise to a 70% plateau (sd 1) after every (re)start."""
    rng = np.random.default_rng(seed)
    age = (np.arange(epochs) % period + 1) if period else np.arange(1, epochs + 1)
    mean = 70.0 - 40.0 * np.exp(-age / 4.0)
    return mean[None, :] + rng.normal(0.0, 1.0, (replicas, epochs))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--tau-star", type=int, default=20)
    args = parser.parse_args()
    baseline = synthetic_runs(args.replicas, args.epochs, seed=1)
    perturbed = synthetic_runs(args.replicas, args.epochs, args.tau_star, seed=2)
    timings = {}
    for label, resamples in (("analysis without bootstrap", 0),
                             (f"analysis with {args.resamples} bootstrap resamples", args.resamples)):
        start = time.perf_counter()
        result = analyze(baseline, perturbed, args.tau_star, 72.0, bootstrap=resamples, seed=0)
        timings[label] = time.perf_counter() - start
    print(f"{args.replicas} replicas x {args.epochs} epochs, {result.prediction.taus.size} periods")
    for label, seconds in timings.items():
        print(f"{label}: {seconds:.2f} s")
    print(f"t_q = {result.qss.t_q}, optimal tau = {result.optimal.tau}, "
          f"speedup = {result.optimal.speedup:.3f}")


if __name__ == "__main__":
    main()
