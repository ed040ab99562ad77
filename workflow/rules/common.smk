# Config loading and validation, and the input functions every stage uses.
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target
from snakemake.utils import min_version

from fptopt.pipeline import paths
from fptopt.pipeline.config import parse_config
from fptopt.pipeline.jobs import Job, condition_section, protocol_config

min_version("9.0")


# The schema is the one source of truth: validated, every default filled in, then
# the checks a schema cannot express (fptopt.pipeline.config.parse_config, also used by the CLI).
parse_config(config, "config")


wildcard_constraints:
    block=r"\d+",
    tau=r"\d+",
    protocol="|".join(p["name"] for p in config["protocols"]),


# With --software-deployment-method conda each rule kind runs in its own pinned
# environment (generated from requirements.lock by tools/lock.py): no torch for analysis.
ANALYSIS_ENV = "../envs/analysis.yaml"
TRAIN_ENV = "../envs/train.yaml"
PROTOCOL_NAMES = [p["name"] for p in config["protocols"]]
TRAIN_RESOURCES = config["resources"]["train"]
ANALYSIS_RESOURCES = config["resources"]["analysis"]
# The SLURM plugin turns gpu + gpu_model into --gpus=<model>:<n>; never ask for a model of 0 GPUs.
GPU_MODEL = TRAIN_RESOURCES.get("gpu_model", "") if TRAIN_RESOURCES["gpu"] > 0 else ""
CHECKPOINT_DIR = config["checkpoint_dir"]
FIGURE_NAMES = [
    "trajectories",
    "survival",
    "qss_evidence",
    "response",
    "mfpt_vs_tau",
    "accuracy_vs_tau",
]
FIGURES = expand("results/figures/{name}.{ext}", name=FIGURE_NAMES, ext=["png", "pdf"])
TABLE_NAMES = ["validation", "optimum", "design"]
TABLES = expand("results/tables/{name}.{ext}", name=TABLE_NAMES, ext=["csv", "md"])
ROUNDS = config["adaptive"]["rounds"]


def baseline_blocks(wildcards=None):
    return paths.baseline_blocks(config)


def single_frequency_blocks(protocol):
    return paths.single_frequency_blocks(config, protocol)


def sweep_blocks(protocol, taus=None):
    return [
        path
        for blocks in paths.sweep_blocks(config, protocol, taus=taus).values()
        for path in blocks
    ]


def design_plan(protocol, rounds):
    """The periodic replicas the adaptive design asked for in its first `rounds`
    rounds (fptopt.pipeline.paths.design_plan), read from the checkpoint's outputs."""

    def record(round_index):
        path = checkpoints.design_round.get(
            protocol=protocol, round=round_index
        ).output[0]
        if not Path(
            path
        ).exists():  # existed when the DAG was built, but is being remade (--forcerun)
            raise IncompleteCheckpointException(
                checkpoints.design_round.rule, checkpoint_target(path)
            )
        return path

    return paths.design_plan(config, protocol, rounds=rounds, record=record)


def design_blocks(protocol, rounds):
    by_tau = paths.design_blocks(config, protocol, design_plan(protocol, rounds))
    return [path for blocks in by_tau.values() for path in blocks]


def dense_blocks(protocol):
    return sweep_blocks(protocol, range(1, config["regret"]["max_tau"] + 1))


def condition(stage):
    """The part of the config a training job's result depends on (what its
    table's hash covers): as a rule's params, a change to it, and only to it,
    reruns the job. Execution settings (device, engine, …) are not in it."""

    def section(wildcards):
        protocol = wildcards.get("protocol")
        tau = None
        if stage == "train_single_frequency":
            tau = tau_star(wildcards)
        elif stage == "train_sweep":
            tau = int(wildcards.tau)
        return condition_section(
            config, Job(stage, protocol, tau, int(wildcards.block))
        )

    return section


def tau_star(wildcards):
    return protocol_config(config, wildcards.protocol)["tau_star"]


def protocol_entry(wildcards):
    return protocol_config(config, wildcards.protocol)
