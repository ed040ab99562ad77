"""From a config to a training job: which replicas, which seeds, which perturbation.

The pipeline's training rules and ``fptopt train`` both call
:func:`run_training_job`; everything else in the package receives explicit
arguments, never the config dictionary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import remove_checkpoint
from .data import load_dataset
from .models import build_model
from .protocols import Schedule, get_protocol
from .provenance import config_hash, ensure_writable, provenance, write_sidecar, write_table
from .training import Perturbation, TrainSettings, replica_seed, train_block

STAGES = ("train_baseline", "train_single_frequency", "train_sweep")
# How replicas are executed, not what is computed: kept out of the hashed
# condition (a result stays valid when only these change) and recorded in
# each table's provenance sidecar instead.
EXECUTION_KEYS = ("replicas_per_job", "device", "threads", "eval_batch_size", "engine", "streams", "cuda_graph",
                  "compile")


@dataclass(frozen=True)
class Job:
    """One block of replicas of one condition."""

    stage: str
    protocol: str | None
    tau: int | None
    block: int

    @property
    def condition(self) -> str:
        """The name that seeds this condition's replicas (independent across stages)."""
        if self.stage == "train_baseline":
            return "baseline"
        return f"{self.stage}/{self.protocol}/tau{self.tau}"


def stage_replicas(config: dict, stage: str) -> int:
    """Replicas per condition of a stage: ``training.sweep_replicas`` for the
    validation sweep when set, ``training.replicas`` otherwise."""
    training = config["training"]
    if stage == "train_sweep" and training["sweep_replicas"] is not None:
        return int(training["sweep_replicas"])
    return int(training["replicas"])


def n_blocks(config: dict, stage: str) -> int:
    return math.ceil(stage_replicas(config, stage) / config["training"]["replicas_per_job"])


def block_replicas(config: dict, block: int, stage: str) -> list[int]:
    if not 0 <= block < n_blocks(config, stage):
        raise ValueError(f"block: expected 0 ≤ block < {n_blocks(config, stage)} for {stage}, got {block}")
    per_job = config["training"]["replicas_per_job"]
    start = block * per_job
    return list(range(start, min(start + per_job, stage_replicas(config, stage))))


def protocol_config(config: dict, name: str) -> dict:
    for entry in config["protocols"]:
        if entry["name"] == name:
            return entry
    known = [entry["name"] for entry in config["protocols"]]
    raise ValueError(f"protocols: no protocol named {name!r} in the config; known: {known}")


def condition_section(config: dict, job: Job) -> dict:
    """The part of the config a job's result depends on (hashed into provenance)."""
    section = {key: config[key] for key in ("seed", "data", "model")}
    section["training"] = {k: v for k, v in config["training"].items()
                           if k not in EXECUTION_KEYS and k != "sweep_replicas"}
    section["training"]["replicas"] = stage_replicas(config, job.stage)
    if job.protocol is not None:
        entry = protocol_config(config, job.protocol)
        section["protocol"] = {"kind": entry["kind"], "options": entry["options"], "tau": job.tau}
    return section


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
        perturbation = Perturbation(get_protocol(entry["kind"]), dict(entry["options"]), Schedule(period=job.tau))
    replicas = block_replicas(config, job.block, job.stage)
    seeds = [replica_seed(config["seed"], job.condition, r) for r in replicas]
    settings = _settings(config, resolve_device(config["training"]["device"]))
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = Path(checkpoint_dir) / f"{job.condition.replace('/', '_')}_block{job.block}.pt"
    table = train_block(template, dataset, seeds, replicas, settings, perturbation,
                        checkpoint_path=checkpoint, fingerprint=fingerprint,
                        checkpoint_every=int(config["checkpoint_every"]),
                        label=f"{job.condition} block {job.block}")
    table.insert(0, "condition", job.condition)
    table.insert(1, "protocol", job.protocol or "none")
    table.insert(2, "tau", job.tau if job.tau is not None else 0)
    meta = provenance(section, condition=job.condition, block=job.block, seeds=seeds, split=dataset.split)
    write_table(table, out, meta)
    execution = {"device": settings.device, "engine": settings.engine, "streams": settings.streams,
                 "cuda_graph": settings.cuda_graph, "compile": settings.compile}
    write_sidecar(out, {**meta, **execution})
    if checkpoint is not None:
        remove_checkpoint(checkpoint)
    return Path(out)
