"""Thin glue: the figures rule → fptopt.pipeline.plots.figures_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from pathlib import Path

from fptopt.pipeline.plots import figures_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    inputs = {key: snakemake.input[key] for key in snakemake.input.keys()}
    figures_stage(snakemake.config, inputs, Path(snakemake.output[0]).parent)
