"""Thin glue: the tables rule → fptopt.pipeline.tables.tables_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline.tables import tables_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    tables_stage(snakemake.config, list(snakemake.input.validations), list(snakemake.input.summaries),  # noqa: F821
                 list(snakemake.input.rounds), Path(snakemake.output[0]).parent)  # noqa: F821
