"""Thin glue: the tables rule → fptopt.pipeline.tables.tables_stage."""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from pathlib import Path

from fptopt.pipeline.tables import tables_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    tables_stage(snakemake.config, list(snakemake.input.validations), list(snakemake.input.summaries),
                 list(snakemake.input.rounds), Path(snakemake.output[0]).parent)
