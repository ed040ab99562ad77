"""From a config to training jobs: stages, blocks, replicas, and what a job's result depends on.

Pure config logic (no torch): the rules' input functions, the analysis stages
and the provenance checks all use it. Running a job is
:func:`fptopt.pipeline.train_job.run_training_job`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

STAGES = ("train_baseline", "train_single_frequency", "train_sweep", "train_schedule", "train_dense")
# The regret target's dense grid may want more replicas per period than a
# periodic run has (``regret.replicas`` > ``training.sweep_replicas``): the
# extra ones are the next replicas of the same train_sweep condition, trained
# by the train_dense stage in its own blocks so the design's blocks stay valid.
DENSE_STAGE, DENSE_OF = "train_dense", "train_sweep"
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
    schedule: str | None = None  # train_schedule: the schedule's label (:func:`schedule_label`)

    @property
    def condition(self) -> str:
        """The name that seeds this condition's replicas (independent across stages)."""
        if self.stage == "train_baseline":
            return "baseline"
        if self.stage == "train_schedule":
            return f"{self.stage}/{self.protocol}/{self.schedule}"
        # A dense block's replicas are more replicas of the periodic condition: the same seeds.
        stage = DENSE_OF if self.stage == DENSE_STAGE else self.stage
        return f"{stage}/{self.protocol}/tau{self.tau}"


def schedule_label(schedule: dict) -> str:
    """A configured schedule's name in paths, seeds and tables: ``epochs8-18-28``
    or ``poisson0.1``."""
    if "epochs" in schedule:
        return "epochs" + "-".join(str(int(e)) for e in schedule["epochs"])
    return f"poisson{float(schedule['poisson']):g}"


def protocol_schedule(config: dict, protocol: str, label: str) -> dict:
    """The schedule named ``label``: the protocol's configured one, or, for a
    schedule the adaptive design chose (not configured), the one the label
    spells (:func:`schedule_from_label`)."""
    for schedule in protocol_config(config, protocol)["schedules"]:
        if schedule_label(schedule) == label:
            return schedule
    return schedule_from_label(label)


def schedule_from_label(label: str) -> dict:
    """The inverse of :func:`schedule_label`."""
    epochs = re.fullmatch(r"epochs(\d+(?:-\d+)*)", label)
    if epochs:
        return {"epochs": [int(e) for e in epochs.group(1).split("-")]}
    rate = re.fullmatch(r"poisson(\d*\.?\d+(?:e-?\d+)?)", label)
    if rate:
        return {"poisson": float(rate.group(1))}
    raise ValueError(f"schedule {label!r}: expected epochsE1-E2-... or poissonRATE")


# A schedule's label as the name of a rule's input (``schedule_label`` has '-' and '.').
def schedule_input_key(label: str) -> str:
    return label.replace("-", "_").replace(".", "p")


def schedule_from_input_key(key: str) -> str:
    """The inverse of :func:`schedule_input_key`."""
    if key.startswith("epochs"):
        return key.replace("_", "-")
    return "poisson" + key[len("poisson"):].replace("p", ".").replace("_", "-")


def exempt_replicas(config: dict) -> frozenset:
    """Replica ids that train to the horizon even with ``training.stop_at_target``."""
    return frozenset(range(int(config["training"]["full_horizon_replicas"])))


def stage_replicas(config: dict, stage: str) -> int:
    """Replicas per condition of a stage: ``training.sweep_replicas`` for the
    validation sweep and schedules when set (``training.schedule_replicas`` for
    the schedules, when set), ``training.replicas`` otherwise;
    for train_dense, the dense grid's replicas per period (:func:`dense_replicas`)."""
    training = config["training"]
    if stage == DENSE_STAGE:
        return dense_replicas(config)
    if stage == "train_schedule" and training.get("schedule_replicas") is not None:
        return int(training["schedule_replicas"])
    if stage in ("train_sweep", "train_schedule") and training["sweep_replicas"] is not None:
        return int(training["sweep_replicas"])
    return int(training["replicas"])


def dense_replicas(config: dict) -> int:
    """Replicas per period of the regret target's dense grid: ``regret.replicas``,
    or a periodic run's (``training.sweep_replicas``) when unset."""
    wanted = config["regret"].get("replicas")
    return stage_replicas(config, DENSE_OF) if wanted is None else int(wanted)


def _first_replica(config: dict, stage: str) -> int:
    """The first replica id of a stage's block 0: train_dense continues after the periodic run's."""
    return stage_replicas(config, DENSE_OF) if stage == DENSE_STAGE else 0


def _replicas_per_job(config: dict, stage: str) -> int:
    if stage == DENSE_STAGE and config["regret"].get("replicas_per_job") is not None:
        return int(config["regret"]["replicas_per_job"])
    return int(config["training"]["replicas_per_job"])


def n_blocks(config: dict, stage: str) -> int:
    """Blocks of one condition of a stage (0 for train_dense when the grid wants no more than a periodic run has)."""
    extra = stage_replicas(config, stage) - _first_replica(config, stage)
    return max(0, math.ceil(extra / _replicas_per_job(config, stage)))


def block_replicas(config: dict, block: int, stage: str) -> list[int]:
    if not 0 <= block < n_blocks(config, stage):
        raise ValueError(f"block: expected 0 ≤ block < {n_blocks(config, stage)} for {stage}, got {block}")
    per_job = _replicas_per_job(config, stage)
    start = _first_replica(config, stage) + block * per_job
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
                           if k not in EXECUTION_KEYS and k not in ("sweep_replicas", "schedule_replicas")}
    section["training"]["replicas"] = stage_replicas(config, job.stage)
    if job.stage == DENSE_STAGE:  # which replica ids a dense block holds depends on both
        section["training"]["first_replica"] = _first_replica(config, job.stage)
        section["training"]["dense_replicas_per_job"] = _replicas_per_job(config, job.stage)
    if config["training"]["stop_at_target"]:  # the target decides where replicas stop
        section["observable"] = {k: config["observable"][k] for k in ("column", "target", "direction")}
    if job.protocol is not None:
        entry = protocol_config(config, job.protocol)
        section["protocol"] = {"kind": entry["kind"], "options": entry["options"], "tau": job.tau}
        if job.schedule is not None:
            section["protocol"]["schedule"] = protocol_schedule(config, job.protocol, job.schedule)
    return section
