"""The two forward engines side by side on the embedded default (digits MLP, CPU).

Trains the default's 200 replicas (MLP 64-32-10, batch 64, SGD momentum 0.9)
for a few epochs with each ``training.engine`` on one CPU thread, as the
pipeline's training jobs do, and prints seconds per epoch and the ratio.

    PYTHONPATH=src python3 bench/bench_cpu_engines.py --out bench/results/cpu_engines.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from report import emit  # bench/report.py (the script's folder is on sys.path)

from fptopt.train.data import load_dataset
from fptopt.train.models import build_model
from fptopt.train.training import TrainSettings, train_block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="JSON file for the results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = load_dataset("digits")
    template = build_model("mlp", dataset.input_shape, dataset.output_dim, hidden=[32])
    seconds = {}
    for engine in ("vmap", "loop"):
        settings = TrainSettings(epochs=args.epochs, batch_size=64, engine=engine,
                                 optimizer_options={"lr": 0.05, "momentum": 0.9})
        started = time.perf_counter()
        train_block(template, dataset, list(range(args.replicas)), list(range(args.replicas)), settings,
                    progress_every=args.epochs + 1)
        seconds[engine] = (time.perf_counter() - started) / args.epochs
    emit({"device": "cpu (1 thread)", "replicas": args.replicas, "epochs": args.epochs,
          "vmap_s_per_epoch": seconds["vmap"], "loop_s_per_epoch": seconds["loop"],
          "loop_over_vmap": seconds["loop"] / seconds["vmap"]}, args.out)


if __name__ == "__main__":
    main()
