"""Seconds per replica-epoch: the paper's plain loop vs the stacked-replica engine.

Both run the reference recipe (ResNet-18 CIFAR stem, batch 125 per replica,
SGD momentum 0.9, lr 0.01, bf16 autocast, data resident on the device) on
synthetic data of CIFAR's shape, in one run on the same card. A
replica-epoch is 400 training steps (50,000 images) plus the evaluation of
10,000 test images; both are extrapolated from timed steps after warm-up.

    python bench/bench_gpu_training.py --out bench/results/h100.json
    python bench/bench_gpu_training.py --smoke        # tiny CPU check of the script itself

The engine is timed in each execution variant of ``ENGINE_VARIANTS``
(``training.engine`` vmap or loop, with or without CUDA graphs and streams)
at each replica count; a variant that fails is recorded and the others go on.

Prints and writes: card, plain_s_per_replica_epoch, engine_s_per_replica_epoch
(best over variants and replica counts), best_engine, ratio, floor_fraction
(0.22 s FLOP floor of an H100 at bf16 peak, from the issue), peak memory,
replicas_per_gpu, every run and every failure.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from report import emit, write_json  # bench/report.py (the script's folder is on sys.path)
from torch import nn

from fptopt.train.data import Dataset
from fptopt.train.models import build_model, draw_initial_state
from fptopt.train.training import ReplicaStack, TrainSettings

TRAIN_STEPS_PER_EPOCH, TEST_IMAGES = 400, 10_000
FLOOR_S_PER_REPLICA_EPOCH = 0.22  # ≈1.11 GFLOP/image forward ×3 × 60k images at ≈790 TFLOP/s bf16 (H100)
H100_BYTES_PER_S = 3.35e12  # HBM3 bandwidth of an H100 SXM


def activation_values_per_image(template: nn.Module) -> int:
    """Values output by the model's leaf modules for one image (forward hooks).

    Functional ReLUs and residual additions are not modules, so this undercounts
    the activations an eager step materializes.
    """
    counted = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: counted.append(out.numel()))
             for m in template.modules() if not list(m.children())]
    was_training = template.training
    with torch.no_grad():
        template.eval()(torch.zeros(1, 3, 32, 32))
    template.train(was_training)
    for hook in hooks:
        hook.remove()
    return sum(counted)


def traffic_floor_s(values_per_image: int) -> float:
    """Seconds per replica-epoch of HBM traffic if every counted bf16 activation is
    written once and read once in the forward and likewise for its gradient in the
    backward (4 passes; eval: 2), with nothing else touching memory."""
    bytes_per_image = 2 * values_per_image
    return (4 * bytes_per_image * TRAIN_STEPS_PER_EPOCH * 125 + 2 * bytes_per_image * TEST_IMAGES) / H100_BYTES_PER_S


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


ENGINE_VARIANTS = {  # name → TrainSettings fields; every variant trains the same recipe
    "vmap": {"engine": "vmap"},
    "loop": {"engine": "loop"},
    "loop+graph": {"engine": "loop", "cuda_graph": True},
    "loop+graph+4streams": {"engine": "loop", "cuda_graph": True, "streams": 4},
    "loop+compile+graph": {"engine": "loop", "compile": True, "cuda_graph": True},
}


def time_engine(template, data: Dataset, variant: str, replicas: int, batch: int, device: str,
                precision: str) -> dict:
    """The pipeline's trainer in one of its execution variants: seconds per replica-epoch."""
    settings = TrainSettings(epochs=1, batch_size=batch, optimizer_options={"lr": 0.01, "momentum": 0.9},
                             device=device, eval_batch_size=500, precision=precision,
                             **ENGINE_VARIANTS[variant])
    stack = ReplicaStack(template, data, list(range(replicas)), settings)
    stack.train_epoch()  # warm-up: allocator, cuDNN autotuning, graph capture
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
    return {"engine": variant, "replicas": replicas, "s_per_replica_epoch": per_replica_epoch, "peak_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINE_VARIANTS),
                        help=f"engine variants to time, of {list(ENGINE_VARIANTS)}")
    parser.add_argument("--replicas", default="4,8,16,32", help="replica counts tried by each engine variant")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "float32"])
    parser.add_argument("--engine-precision", choices=["bf16", "float32"],
                        help="engine precision if different (float32 uses TF32 tensor cores)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on CPU, to test the script")
    parser.add_argument("--out", type=Path, help="JSON file for the results")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    variants = [v for v in args.engines.split(",") if v]
    unknown = sorted(set(variants) - set(ENGINE_VARIANTS))
    if unknown:
        parser.error(f"--engines: unknown variants {unknown}; known: {list(ENGINE_VARIANTS)}")
    if device == "cpu":  # CUDA graphs need CUDA
        variants = [v for v in variants if not ENGINE_VARIANTS[v].get("cuda_graph")]
    batch = 125
    steps = 2 if args.smoke else args.steps
    counts = [2] if args.smoke else [int(r) for r in args.replicas.split(",")]
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    card = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    template = build_model("resnet18_cifar", (3, 32, 32), 10)
    values = activation_values_per_image(template)
    print(f"{values} activation values per image (leaf modules); H100 traffic floor "
          f"{traffic_floor_s(values):.3f} s per replica-epoch", flush=True)
    data = synthetic(batch * (steps + 1), 500 if args.smoke else 2000, device)
    plain = time_plain_loop(template, data, steps, batch, device, args.precision)
    print(f"{card}: plain loop {plain:.3f} s per replica-epoch", flush=True)
    engine_runs, failures = [], []
    common = {"card": card, "precision": args.precision,
              "engine_precision": args.engine_precision or args.precision, "torch": torch.__version__,
              "plain_s_per_replica_epoch": plain, "activation_values_per_image": values,
              "h100_traffic_floor_s": traffic_floor_s(values),
              "method": f"{steps} timed steps of batch {batch} after warm-up, extrapolated to "
                        f"{TRAIN_STEPS_PER_EPOCH} steps + {TEST_IMAGES} test images; synthetic CIFAR-shaped data"}
    for variant in variants:
        for replicas in counts:
            try:
                run = time_engine(template, data, variant, replicas, batch, device,
                                  args.engine_precision or args.precision)
            except Exception as error:  # one failing variant must not lose the others' timings
                oom = isinstance(error, torch.OutOfMemoryError)
                message = "out of memory" if oom else f"{type(error).__name__}: {error}"
                print(f"{variant}, {replicas} replicas: failed: {message}", flush=True)
                failures.append({"engine": variant, "replicas": replicas, "error": message[:2000]})
                release_memory(device)
                break
            release_memory(device)
            engine_runs.append(run)
            print(f"{variant}, {replicas} replicas: {run['s_per_replica_epoch']:.3f} s per replica-epoch "
                  f"({plain / run['s_per_replica_epoch']:.2f}x plain), peak {run['peak_gib']:.1f} GiB", flush=True)
            if args.out:  # a run cut off by a time limit keeps what it measured so far
                write_json(summary(common, engine_runs, failures), args.out)
    if not engine_runs:
        raise SystemExit("no engine variant ran; see the failures above")
    emit(summary(common, engine_runs, failures), args.out)


def release_memory(device: str) -> None:
    if device.startswith("cuda"):
        try:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
        except Exception as error:  # a failed capture can leave an error behind; the next run will say
            print(f"after the failure: {type(error).__name__}: {error}", flush=True)


def summary(common: dict, engine_runs: list[dict], failures: list[dict]) -> dict:
    """The required fields for the fastest run, plus every run and failure."""
    best = min(engine_runs, key=lambda r: r["s_per_replica_epoch"])
    return {**common, "engine_s_per_replica_epoch": best["s_per_replica_epoch"], "best_engine": best["engine"],
            "ratio": common["plain_s_per_replica_epoch"] / best["s_per_replica_epoch"],
            "floor_fraction": FLOOR_S_PER_REPLICA_EPOCH / best["s_per_replica_epoch"],
            "replicas_per_gpu": best["replicas"], "peak_gib_at_best": best["peak_gib"],
            "engine_runs": engine_runs, "failures": failures}

if __name__ == "__main__":
    main()
