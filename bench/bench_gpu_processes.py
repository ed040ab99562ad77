"""Several training processes per GPU: aggregate training throughput.

Each worker process trains its own stack of ResNet-18 replicas (the
pipeline's engine, bf16, batch 125 per replica, synthetic CIFAR-shaped data)
and times ``--steps`` training steps after a shared start signal. The main
process reports, for 1, 2, 4, … concurrent workers, the training time per
replica-epoch (400 steps) of the whole GPU: wall time of the slowest worker
divided by all replicas trained, scaled to 400 steps. Evaluation is left out
on purpose (it is the same work in every variant), so compare these numbers
with each other, not with bench_gpu_training.py's.

    PYTHONPATH=src python3 bench/bench_gpu_processes.py --workers 1,2,4 --replicas 8 --out results/procs.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

STEPS_PER_EPOCH = 400


def worker(replicas: int, steps: int, go_file: Path) -> None:
    import torch

    from fptopt.train.data import Dataset
    from fptopt.train.models import build_model
    from fptopt.train.training import ReplicaStack, TrainSettings

    torch.backends.cudnn.benchmark = True
    generator = torch.Generator().manual_seed(0)
    data = Dataset("synthetic_cifar", torch.randn(125 * steps, 3, 32, 32, generator=generator),
                   torch.randint(0, 10, (125 * steps,), generator=generator), torch.randn(8, 3, 32, 32),
                   torch.randint(0, 10, (8,)), task="classification", num_classes=10)
    settings = TrainSettings(epochs=1, batch_size=125, device="cuda", precision="bf16",
                             optimizer_options={"lr": 0.01, "momentum": 0.9})
    stack = ReplicaStack(build_model("resnet18_cifar", (3, 32, 32), 10), data, list(range(replicas)), settings)
    stack.train_epoch()  # warm-up
    torch.cuda.synchronize()
    print("ready", flush=True)
    while not go_file.exists():
        time.sleep(0.005)
    started = time.time()
    stack.train_epoch()
    torch.cuda.synchronize()
    print(json.dumps({"start": started, "end": time.time()}), flush=True)


def run_concurrently(n_workers: int, replicas: int, steps: int, go_file: Path) -> dict:
    go_file.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--worker", "--replicas", str(replicas), "--steps", str(steps),
               "--go-file", str(go_file)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(n_workers)]
    for proc in procs:  # every worker has warmed up before the clock starts
        assert proc.stdout.readline().strip() == "ready"
    go_file.touch()
    spans = [json.loads(proc.stdout.readline()) for proc in procs]
    for proc in procs:
        proc.wait()
    wall = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    per_replica_epoch = wall / (n_workers * replicas) * STEPS_PER_EPOCH / steps
    return {"workers": n_workers, "replicas_per_worker": replicas, "wall_s": wall,
            "train_s_per_replica_epoch": per_replica_epoch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--go-file", type=Path, default=Path("/tmp/fptopt_bench_go"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        return worker(args.replicas, args.steps, args.go_file)
    import torch
    from report import emit  # bench/report.py (the script's folder is on sys.path)

    runs = []
    for n_workers in (int(n) for n in args.workers.split(",")):
        run = run_concurrently(n_workers, args.replicas, args.steps, args.go_file)
        runs.append(run)
        print(f"{n_workers} worker(s) × {args.replicas} replicas: "
              f"{run['train_s_per_replica_epoch']:.3f} s training per replica-epoch", flush=True)
    result = {"card": torch.cuda.get_device_name(), "runs": runs,
              "speedup_best_vs_one_worker": runs[0]["train_s_per_replica_epoch"]
              / min(r["train_s_per_replica_epoch"] for r in runs)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
