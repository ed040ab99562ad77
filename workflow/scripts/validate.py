"""Thin glue: the validate rule → fptopt.pipeline.stages.validate_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline import paths
from fptopt.pipeline.stages import validate_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    config, protocol = snakemake.config, snakemake.wildcards.protocol
    validate_stage(config, protocol, **paths.validate_from_inputs(config, protocol, snakemake.input),
                   outputs=dict(snakemake.output.items()))
