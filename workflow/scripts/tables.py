"""Thin glue: the tables rule → fptopt.pipeline.tables.tables_stage."""

from pathlib import Path

from fptopt.pipeline.tables import tables_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    tables_stage(snakemake.config, list(snakemake.input.validations), list(snakemake.input.summaries),  # noqa: F821
                 list(snakemake.input.rounds), Path(snakemake.output[0]).parent)  # noqa: F821
