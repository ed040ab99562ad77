# Config loading and validation, and the input functions every stage uses.
from snakemake.utils import min_version, validate

from fptopt import paths
from fptopt.config import check_config
from fptopt.jobs import n_blocks, protocol_config

min_version("9.0")


validate(config, schema="../schemas/config.schema.yaml")
check_config(config)


wildcard_constraints:
    block=r"\d+",
    tau=r"\d+",
    protocol="|".join(p["name"] for p in config["protocols"]),


PROTOCOL_NAMES = [p["name"] for p in config["protocols"]]
BLOCKS = list(range(n_blocks(config)))
TRAIN_RESOURCES = config["resources"]["train"]
ANALYSIS_RESOURCES = config["resources"]["analysis"]
CHECKPOINT_DIR = config.get("checkpoint_dir", "checkpoints")
FIGURE_NAMES = [
    "trajectories",
    "survival",
    "qss_evidence",
    "response",
    "mfpt_vs_tau",
    "accuracy_vs_tau",
]
FIGURES = expand("results/figures/{name}.{ext}", name=FIGURE_NAMES, ext=["png", "pdf"])
TABLES = expand("results/tables/{name}.{ext}", name=["validation", "optimum"], ext=["csv", "md"])


def baseline_blocks(wildcards=None):
    return paths.baseline_blocks(config)


def single_frequency_blocks(protocol):
    return paths.single_frequency_blocks(config, protocol)


def all_single_frequency_blocks(wildcards=None):
    return [path for name in PROTOCOL_NAMES for path in single_frequency_blocks(name)]


def sweep_blocks(protocol):
    return [path for blocks in paths.sweep_blocks(config, protocol).values() for path in blocks]


def tau_star(wildcards):
    return protocol_config(config, wildcards.protocol)["tau_star"]


def protocol_entry(wildcards):
    return protocol_config(config, wildcards.protocol)
