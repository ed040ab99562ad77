"""Thin glue: the survival rule → fptopt.stages.survival_stage."""

from pathlib import Path

from fptopt import paths
from fptopt.stages import survival_stage
from fptopt.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    config = snakemake.config  # noqa: F821
    single = {p["name"]: paths.single_frequency_blocks(config, p["name"]) for p in config["protocols"]}
    survival_stage(config, list(snakemake.input.baseline), single, Path(snakemake.output.qss).parent)  # noqa: F821
