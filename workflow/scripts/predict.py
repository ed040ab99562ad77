"""Thin glue: the predict rule → fptopt.pipeline.stages.predict_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline import paths
from fptopt.pipeline.stages import predict_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    predict_stage(snakemake.config, snakemake.wildcards.protocol, **paths.design_from_inputs(snakemake.input),
                  outputs=dict(snakemake.output.items()))
