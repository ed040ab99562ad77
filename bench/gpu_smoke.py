"""GPU checks of the training path (run on a CUDA machine; CI never needs it).

1. A device slot is claimed through nvidia-smi's device list (fptopt.pipeline.gpu_slots).
2. The tiny study's training jobs run on CUDA in bf16 (digits MLP), with a
   perturbation, through the same ``run_training_job`` the rules call.
3. A job killed mid-run (simulated by a shorter run sharing the checkpoint)
   resumes on CUDA from its checkpoint, CUDA generator states included.
4. ResNet-18 trains stacked replicas for two epochs with shrink-and-perturb.
5. The loop engine replayed from CUDA graphs (4 streams) follows the eager
   loop engine and the vmap engine, in float32 without TF32, across
   perturbations and a resume from a checkpoint.

    PYTHONPATH=src python3 bench/gpu_smoke.py --out results/gpu_smoke.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from report import emit  # bench/report.py (the script's folder is on sys.path)

from fptopt.pipeline.gpu_slots import gpu_slot
from fptopt.pipeline.jobs import Job
from fptopt.pipeline.train_job import run_training_job
from fptopt.train.data import Dataset
from fptopt.train.models import build_model
from fptopt.train.protocols import Schedule, get_protocol
from fptopt.train.training import Perturbation, TrainSettings, train_block

ROOT = Path(__file__).resolve().parents[1]


def tiny_cuda_config() -> dict:
    config = yaml.safe_load((ROOT / "tests/config/tiny.yaml").read_text())
    config["training"].update(device="cuda", precision="bf16", replicas=60, replicas_per_job=60)
    return config


def training_jobs(work: Path, report: dict) -> None:
    config = tiny_cuda_config()
    for job in (Job("train_baseline", None, None, 0), Job("train_single_frequency", "shrink_perturb", 8, 0)):
        started = time.perf_counter()
        out = work / f"{job.condition.replace('/', '_')}.parquet"
        run_training_job(config, job, out, checkpoint_dir=work / "checkpoints")
        table = __import__("pandas").read_parquet(out)
        report[job.condition] = {"seconds": time.perf_counter() - started, "rows": len(table),
                                 "final_mean_test_acc": float(table[table.epoch == table.epoch.max()].test_acc.mean())}


def resume_on_cuda(report: dict) -> None:
    data = Dataset("synthetic", *(torch.randn(n, 64) if i % 2 == 0 else torch.randint(0, 10, (n,))
                                  for i, n in enumerate((512, 512, 256, 256))), task="classification", num_classes=10)
    template = build_model("mlp", (64,), 10, hidden=[32])
    perturbation = Perturbation(get_protocol("full_reset"), {}, Schedule(period=2))
    settings = lambda epochs: TrainSettings(epochs=epochs, batch_size=64, device="cuda",  # noqa: E731
                                            optimizer_options={"lr": 0.05, "momentum": 0.9})
    whole = train_block(template, data, [1, 2, 3], [0, 1, 2], settings(5), perturbation)
    checkpoint = Path("/tmp/fptopt_gpu_smoke.pt")
    checkpoint.unlink(missing_ok=True)
    train_block(template, data, [1, 2, 3], [0, 1, 2], settings(3), perturbation, checkpoint_path=checkpoint)
    resumed = train_block(template, data, [1, 2, 3], [0, 1, 2], settings(5), perturbation, checkpoint_path=checkpoint)
    gap = np.nanmax(np.abs(whole.test_loss.to_numpy() - resumed.test_loss.to_numpy()))
    report["resume_on_cuda"] = {"identical_tables": bool(whole.equals(resumed)), "max_test_loss_gap": float(gap)}


def resnet_two_epochs(report: dict) -> None:
    generator = torch.Generator().manual_seed(0)
    data = Dataset("synthetic_cifar", torch.randn(1000, 3, 32, 32, generator=generator),
                   torch.randint(0, 10, (1000,), generator=generator), torch.randn(500, 3, 32, 32, generator=generator),
                   torch.randint(0, 10, (500,), generator=generator), task="classification", num_classes=10)
    template = build_model("resnet18_cifar", (3, 32, 32), 10)
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=1))
    settings = TrainSettings(epochs=2, batch_size=125, device="cuda", precision="bf16", eval_batch_size=500,
                             optimizer_options={"lr": 0.01, "momentum": 0.9})
    started = time.perf_counter()
    table = train_block(template, data, list(range(8)), list(range(8)), settings, perturbation)
    report["resnet18_8_replicas_2_epochs"] = {"seconds": time.perf_counter() - started,
                                              "finite": bool(np.isfinite(table.test_loss).all()),
                                              "peak_gib": torch.cuda.max_memory_allocated() / 2**30}


def graphed_loop_engine(report: dict) -> None:
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    generator = torch.Generator().manual_seed(1)
    data = Dataset("synthetic_cifar", torch.randn(500, 3, 32, 32, generator=generator),
                   torch.randint(0, 10, (500,), generator=generator), torch.randn(250, 3, 32, 32, generator=generator),
                   torch.randint(0, 10, (250,), generator=generator), task="classification", num_classes=10)
    template = build_model("resnet18_cifar", (3, 32, 32), 10, width=16)
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=2))
    variants = {"vmap": {}, "loop": {"engine": "loop"},
                "loop+graph+4streams": {"engine": "loop", "cuda_graph": True, "streams": 4}}
    settings = lambda epochs, **extra: TrainSettings(epochs=epochs, batch_size=50, device="cuda",  # noqa: E731
                                                     optimizer_options={"lr": 0.01, "momentum": 0.9}, **extra)
    tables = {name: train_block(template, data, [1, 2, 3, 4], [0, 1, 2, 3], settings(5, **extra), perturbation)
              for name, extra in variants.items()}
    checkpoint = Path("/tmp/fptopt_gpu_smoke_graph.pt")
    checkpoint.unlink(missing_ok=True)
    graphed = variants["loop+graph+4streams"]
    train_block(template, data, [1, 2, 3, 4], [0, 1, 2, 3], settings(3, **graphed), perturbation,
                checkpoint_path=checkpoint)
    tables["loop+graph+4streams resumed"] = train_block(template, data, [1, 2, 3, 4], [0, 1, 2, 3],
                                                        settings(5, **graphed), perturbation,
                                                        checkpoint_path=checkpoint)
    eager = tables["loop"]
    report["graphed_loop_engine"] = {
        name: {"max_train_loss_gap_to_eager_loop":
               float(np.abs(t.train_loss.to_numpy() - eager.train_loss.to_numpy()).max()),
               "max_test_acc_gap_to_eager_loop": float(np.abs(t.test_acc.to_numpy() - eager.test_acc.to_numpy()).max()),
               "final_mean_test_acc": float(t[t.epoch == t.epoch.max()].test_acc.mean())}
        for name, t in tables.items()
    }
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/gpu_smoke.json"))
    args = parser.parse_args()
    report: dict = {}
    with gpu_slot(1) as devices:
        report["claimed_devices"] = devices
        report["card"] = torch.cuda.get_device_name()
        work = Path("/tmp/fptopt_gpu_smoke")
        work.mkdir(exist_ok=True)
        for check in (training_jobs, resume_on_cuda, resnet_two_epochs, graphed_loop_engine):
            try:
                check(work, report) if check is training_jobs else check(report)
            except Exception as error:  # report every check, even after one fails
                report[check.__name__] = {"error": f"{type(error).__name__}: {error}"}
    emit(report, args.out)


if __name__ == "__main__":
    main()
