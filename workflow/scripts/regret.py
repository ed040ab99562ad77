"""Thin glue: the regret rule → fptopt.pipeline.stages.regret_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline import paths
from fptopt.pipeline.stages import regret_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    regret_stage(snakemake.config, **paths.regret_from_inputs(snakemake.config, snakemake.input),
                 outputs=dict(snakemake.output.items()))
