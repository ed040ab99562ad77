"""Thin glue: the figures rule → fptopt.pipeline.plots.figures_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline.plots import figures_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    inputs = {key: snakemake.input[key] for key in snakemake.input.keys()}  # noqa: F821
    figures_stage(snakemake.config, inputs, Path(snakemake.output[0]).parent)  # noqa: F821
