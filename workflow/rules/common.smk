# Config loading and validation, and the input functions every stage uses.
import re
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target
from snakemake.utils import min_version

from fptopt.pipeline import paths
from fptopt.pipeline.config import parse_config
from fptopt.pipeline.jobs import (
    Job,
    condition_section,
    protocol_config,
    schedule_label,
)

min_version("9.0")


# The schema is the one source of truth: validated, every default filled in, then
# the checks a schema cannot express (fptopt.pipeline.config.parse_config, also used by the CLI).
parse_config(config, "config")


wildcard_constraints:
    block=r"\d+",
    tau=r"\d+",
    round=r"\d+",
    protocol="|".join(p["name"] for p in config["protocols"]),
    # the configured schedules' labels, and the two-phase schedules the design may ask for
    schedule="|".join(
        [
            re.escape(schedule_label(s))
            for p in config["protocols"]
            for s in p["schedules"]
        ]
        + [r"epochs\d+(?:-\d+)*"]
    ),


# With --software-deployment-method conda each rule kind runs in its own pinned
# environment (generated from requirements.lock by tools/lock.py): no torch for analysis.
ANALYSIS_ENV = "../envs/analysis.yaml"
TRAIN_ENV = "../envs/train.yaml"
PROTOCOL_NAMES = [p["name"] for p in config["protocols"]]
# The resources of each kind of job, declared once (config.yaml's `resources`) and
# unpacked by every rule of that kind. The SLURM plugin turns gpu + gpu_model into
# --gpus=<model>:<n>; never ask for a model of 0 GPUs.
_TRAIN = config["resources"]["train"]
TRAIN_RESOURCES = {
    "gpu": _TRAIN["gpu"],
    "gpu_model": _TRAIN.get("gpu_model", "") if _TRAIN["gpu"] > 0 else "",
    "mem_mb": _TRAIN["mem_mb"],
    "runtime": _TRAIN["runtime"],
}
ANALYSIS_RESOURCES = {
    key: config["resources"]["analysis"][key] for key in ("mem_mb", "runtime")
}
CHECKPOINT_DIR = config["checkpoint_dir"]
FIGURES = paths.figure_files()
TABLES = paths.table_files()
ROUNDS = config["adaptive"]["rounds"]


def baseline_blocks(wildcards=None):
    return paths.baseline_blocks(config)


def design_plan(protocol, rounds):
    """The periodic replicas and the schedule the adaptive design asked for in its
    first `rounds` rounds (fptopt.pipeline.paths.design_plan, design_schedule_plan),
    read from the checkpoint's outputs."""

    def record(round_index):
        path = checkpoints.design_round.get(
            protocol=protocol, round=round_index
        ).output[0]
        # Existed when the DAG was built but is being remade (--forcerun): .get() does not
        # raise for it (snakemake/snakemake#3879, #3283), so raise what it would have, the
        # workaround those threads give; without it the round reads a missing file.
        if not Path(path).exists():
            raise IncompleteCheckpointException(
                checkpoints.design_round.rule, checkpoint_target(path)
            )
        return path

    return (
        paths.design_plan(config, protocol, rounds=rounds, record=record),
        paths.design_schedule_plan(config, protocol, rounds=rounds, record=record),
    )


def design_inputs(rounds):
    """Named inputs (unpack) of a design round or of predict: baseline, τ* run and
    the design's blocks so far as design_tau{τ} (fptopt.pipeline.paths.design_inputs).
    """

    def inputs(wildcards):
        protocol = wildcards.protocol
        count = int(wildcards.round) if rounds is None else rounds
        periods, schedules = design_plan(protocol, count)
        return paths.design_inputs(config, protocol, periods, schedule_plan=schedules)

    return inputs


def condition(stage):
    """The part of the config a training job's result depends on (what its
    table's hash covers): as a rule's params, a change to it, and only to it,
    reruns the job. Execution settings (device, engine, …) are not in it."""

    def section(wildcards):
        protocol = wildcards.get("protocol")
        tau = None
        if stage == "train_single_frequency":
            tau = tau_star(wildcards)
        elif stage in ("train_sweep", "train_dense"):
            tau = int(wildcards.tau)
        return condition_section(
            config,
            Job(stage, protocol, tau, int(wildcards.block), wildcards.get("schedule")),
        )

    return section


def tau_star(wildcards):
    return protocol_config(config, wildcards.protocol)["tau_star"]


def protocol_entry(wildcards):
    return protocol_config(config, wildcards.protocol)
