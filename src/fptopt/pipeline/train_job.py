"""Run one training job of the pipeline: a block of replicas of one condition.

The training rules (``workflow/scripts/train.py``) and ``fptopt train`` both
call :func:`run_training_job`; it turns the config into explicit arguments
for :mod:`fptopt.train` and writes the tidy table with its provenance.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..storage import config_hash, write_table
from ..train.checkpoint import remove_checkpoint
from ..train.data import load_dataset
from ..train.models import build_model
from ..train.protocols import Schedule, get_protocol
from ..train.training import Perturbation, StopAtTarget, TrainSettings, replica_seed, train_block
from .jobs import STAGES, Job, block_replicas, condition_section, exempt_replicas, protocol_config, protocol_schedule
from .provenance import ensure_writable, provenance, write_sidecar


def _settings(config: dict, device: str | None) -> TrainSettings:
    training = config["training"]
    optimizer = dict(training["optimizer"])
    name = optimizer.pop("name")
    device = device or training["device"]
    return TrainSettings(
        epochs=training["epochs"],
        batch_size=training["batch_size"],
        optimizer=name,
        optimizer_options=optimizer,
        device=device,
        precision=training["precision"],
        eval_batch_size=training["eval_batch_size"],
        engine=training["engine"],
        streams=int(training["streams"]),
        compile=bool(training["compile"]),
        # With device "auto" on a machine without CUDA the run falls back to the
        # CPU, where there is no graph to capture (check_config rejects "cpu").
        cuda_graph=bool(training["cuda_graph"]) and device.startswith("cuda"),
    )


def _schedule(config: dict, job: Job) -> Schedule:
    """A period's schedule, or a configured schedule's explicit epochs or timer."""
    if job.schedule is None:
        return Schedule(period=job.tau)
    spec = protocol_schedule(config, job.protocol, job.schedule)
    return Schedule(epochs=tuple(spec["epochs"])) if "epochs" in spec else Schedule(rate=float(spec["poisson"]))


def resolve_device(requested: str) -> str:
    """``auto`` picks CUDA when present; asking for CUDA without one is an error."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"training.device: {requested!r} requested but no CUDA device is visible")
    return requested


def run_training_job(config: dict, job: Job, out: str | Path, checkpoint_dir: str | Path | None = None) -> Path:
    """Train one block and write its tidy table (Parquet) with provenance."""
    if job.stage not in STAGES:
        raise ValueError(f"stage: expected one of {STAGES}, got {job.stage!r}")
    ensure_writable(out)
    torch.set_num_threads(int(config["training"]["threads"]))
    section = condition_section(config, job)
    fingerprint = config_hash(section)
    data_cfg, model_cfg = config["data"], config["model"]
    dataset = load_dataset(data_cfg["name"], **data_cfg["options"])
    template = build_model(model_cfg["name"], dataset.input_shape, dataset.output_dim, **model_cfg["options"])
    perturbation = None
    if job.protocol is not None:
        entry = protocol_config(config, job.protocol)
        perturbation = Perturbation(get_protocol(entry["kind"]), dict(entry["options"]), _schedule(config, job))
    replicas = block_replicas(config, job.block, job.stage)
    seeds = [replica_seed(config["seed"], job.condition, r) for r in replicas]
    settings = _settings(config, resolve_device(config["training"]["device"]))
    stop = None
    if config["training"]["stop_at_target"]:
        observable = config["observable"]
        exempt = exempt_replicas(config)
        stop = StopAtTarget(observable["column"], float(observable["target"]), observable["direction"],
                            exempt=frozenset(k for k, r in enumerate(replicas) if r in exempt),
                            # a compaction under CUDA graphs is a new capture: wait for a quarter of the stack
                            compact_fraction=0.25 if settings.cuda_graph else 0.0)
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = Path(checkpoint_dir) / f"{job.condition.replace('/', '_')}_block{job.block}.pt"
    table = train_block(template, dataset, seeds, replicas, settings, perturbation,
                        checkpoint_path=checkpoint, fingerprint=fingerprint,
                        checkpoint_every=int(config["checkpoint_every"]),
                        label=f"{job.condition} block {job.block}", stop=stop)
    table.insert(0, "condition", job.condition)
    table.insert(1, "protocol", job.protocol or "none")
    table.insert(2, "tau", job.tau if job.tau is not None else 0)
    if job.schedule is not None:
        table.insert(3, "schedule", job.schedule)
    meta = provenance(section, condition=job.condition, block=job.block, seeds=seeds, split=dataset.split,
                      replica_epochs_trained=int(table["trained"].sum()))
    write_table(table, out, meta)
    execution = {"device": settings.device, "engine": settings.engine, "streams": settings.streams,
                 "cuda_graph": settings.cuda_graph, "compile": settings.compile}
    write_sidecar(out, {**meta, **execution})
    if checkpoint is not None:
        remove_checkpoint(checkpoint)
    return Path(out)
