"""Seconds per replica-epoch: the paper's plain loop vs the stacked-replica engine.

Both run the reference recipe (ResNet-18 CIFAR stem, batch 125 per replica,
SGD momentum 0.9, lr 0.01, bf16 autocast, data resident on the device) on
synthetic data of CIFAR's shape, in one run on the same card. A
replica-epoch is 400 training steps (50,000 images) plus the evaluation of
10,000 test images; both are extrapolated from timed steps after warm-up.

    python bench/bench_gpu_training.py --out bench/results/h100.json
    python bench/bench_gpu_training.py --smoke        # tiny CPU check of the script itself

Prints and writes: card, plain_s_per_replica_epoch, engine_s_per_replica_epoch
(best over the replica counts tried), ratio, floor_fraction (0.22 s FLOP floor
of an H100 at bf16 peak, from the issue), peak memory, replicas_per_gpu.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from torch import nn

from report import emit  # bench/report.py (the script's folder is on sys.path)

from fptopt.data import Dataset
from fptopt.models import build_model, draw_initial_state
from fptopt.training import ReplicaStack, TrainSettings

TRAIN_STEPS_PER_EPOCH, TEST_IMAGES = 400, 10_000
FLOOR_S_PER_REPLICA_EPOCH = 0.22  # ≈1.11 GFLOP/image forward ×3 × 60k images at ≈790 TFLOP/s bf16 (H100)


def synthetic(n_train: int, n_test: int, device: str) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    make = lambda n: torch.randn(n, 3, 32, 32, generator=generator)  # noqa: E731
    labels = lambda n: torch.randint(0, 10, (n,), generator=generator)  # noqa: E731
    return Dataset("synthetic_cifar", make(n_train), labels(n_train), make(n_test), labels(n_test),
                   task="classification", num_classes=10).to(device)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_plain_loop(template, data: Dataset, steps: int, batch: int, device: str, precision: str) -> float:
    """One model, eager, autocast, channels_last: seconds per replica-epoch."""
    model = copy.deepcopy(template).to(device).to(memory_format=torch.channels_last)
    model.load_state_dict(draw_initial_state(template, torch.Generator().manual_seed(1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    use_bf16 = precision == "bf16" and device.startswith("cuda")
    x_train = data.x_train.contiguous(memory_format=torch.channels_last)

    def train(n_steps):
        order = torch.randperm(x_train.shape[0], device=device)
        for step in range(n_steps):
            index = order[(step * batch) % (x_train.shape[0] - batch):][:batch]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                loss = loss_fn(model(x_train[index]), data.y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def evaluate():
        model.eval()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            for start in range(0, data.x_test.shape[0], 1000):
                model(data.x_test[start:start + 1000].contiguous(memory_format=torch.channels_last)).argmax(1)
        model.train()

    train(3)
    evaluate()
    synchronize(device)
    started = time.perf_counter()
    train(steps)
    synchronize(device)
    per_step = (time.perf_counter() - started) / steps
    started = time.perf_counter()
    evaluate()
    synchronize(device)
    per_test_image = (time.perf_counter() - started) / data.x_test.shape[0]
    return per_step * TRAIN_STEPS_PER_EPOCH + per_test_image * TEST_IMAGES


def time_engine(template, data: Dataset, replicas: int, batch: int, device: str, precision: str) -> dict:
    """The pipeline's trainer (vmap over stacked replicas): seconds per replica-epoch."""
    settings = TrainSettings(epochs=1, batch_size=batch, optimizer_options={"lr": 0.01, "momentum": 0.9},
                             device=device, eval_batch_size=500, precision=precision)
    stack = ReplicaStack(template, data, list(range(replicas)), settings)
    stack.train_epoch()  # warm-up: allocator, cuDNN autotuning
    stack.evaluate()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    synchronize(device)
    started = time.perf_counter()
    stack.train_epoch()
    synchronize(device)
    steps = data.x_train.shape[0] // batch
    per_step = (time.perf_counter() - started) / steps
    started = time.perf_counter()
    stack.evaluate()
    synchronize(device)
    per_test_image = (time.perf_counter() - started) / data.x_test.shape[0]
    per_replica_epoch = (per_step * TRAIN_STEPS_PER_EPOCH + per_test_image * TEST_IMAGES) / replicas
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return {"replicas": replicas, "s_per_replica_epoch": per_replica_epoch, "peak_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="4,8,16,32", help="replica counts tried by the engine")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "float32"])
    parser.add_argument("--engine-precision", choices=["bf16", "float32"],
                        help="engine precision if different (float32 uses TF32 tensor cores)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on CPU, to test the script")
    parser.add_argument("--out", type=Path, help="JSON file for the results")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    batch = 125
    steps = 2 if args.smoke else args.steps
    counts = [2] if args.smoke else [int(r) for r in args.replicas.split(",")]
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    card = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    template = build_model("resnet18_cifar", (3, 32, 32), 10)
    data = synthetic(batch * (steps + 1), 500 if args.smoke else 2000, device)
    plain = time_plain_loop(template, data, steps, batch, device, args.precision)
    print(f"{card}: plain loop {plain:.3f} s per replica-epoch", flush=True)
    engine_runs = []
    for replicas in counts:
        try:
            run = time_engine(template, data, replicas, batch, device, args.engine_precision or args.precision)
        except torch.OutOfMemoryError:
            print(f"engine, {replicas} replicas: out of memory", flush=True)
            break
        engine_runs.append(run)
        print(f"engine, {replicas} replicas: {run['s_per_replica_epoch']:.3f} s per replica-epoch, "
              f"peak {run['peak_gib']:.1f} GiB", flush=True)
        if device == "cuda":
            torch.cuda.empty_cache()
    best = min(engine_runs, key=lambda r: r["s_per_replica_epoch"])
    result = {
        "card": card, "precision": args.precision, "engine_precision": args.engine_precision or args.precision, "torch": torch.__version__,
        "plain_s_per_replica_epoch": plain, "engine_s_per_replica_epoch": best["s_per_replica_epoch"],
        "ratio": plain / best["s_per_replica_epoch"],
        "floor_fraction": FLOOR_S_PER_REPLICA_EPOCH / best["s_per_replica_epoch"],
        "replicas_per_gpu": best["replicas"], "peak_gib_at_best": best["peak_gib"], "engine_runs": engine_runs,
        "method": f"{steps} timed steps of batch {batch} after warm-up, extrapolated to "
                  f"{TRAIN_STEPS_PER_EPOCH} steps + {TEST_IMAGES} test images; synthetic CIFAR-shaped data",
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
