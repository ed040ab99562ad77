"""Thin glue: the validate rule → fptopt.pipeline.stages.validate_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline import paths
from fptopt.pipeline.stages import validate_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    validate_stage(snakemake.config, snakemake.wildcards.protocol, prediction_path=snakemake.input.prediction,
                   prediction_survival_path=snakemake.input.survival,
                   sweep_paths=paths.by_tau_from_inputs(snakemake.input, "sweep"),
                   baseline_paths=list(snakemake.input.baseline), outputs=dict(snakemake.output.items()))
