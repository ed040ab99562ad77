"""Thin glue: one round of the adaptive design → fptopt.pipeline.stages.design_round_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline import paths
from fptopt.pipeline.stages import design_round_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    design_round_stage(snakemake.config, snakemake.wildcards.protocol, round_index=int(snakemake.wildcards.round),
                       **paths.design_from_inputs(snakemake.input), out_json=snakemake.output[0])
