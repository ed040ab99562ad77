"""Thin glue: the survival rule → fptopt.pipeline.stages.survival_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline.stages import survival_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    survival_stage(snakemake.config, baseline_paths=list(snakemake.input.baseline),
                   outputs=dict(snakemake.output.items()))
