"""Thin glue: the survival rule → fptopt.pipeline.stages.survival_stage."""

from pathlib import Path

from fptopt.pipeline.stages import survival_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    survival_stage(snakemake.config, list(snakemake.input.baseline), Path(snakemake.output.qss).parent)  # noqa: F821
