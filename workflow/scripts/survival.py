"""Thin glue: the survival rule → fptopt.pipeline.stages.survival_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline.stages import survival_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    survival_stage(snakemake.config, list(snakemake.input.baseline), dict(snakemake.output.items()))  # noqa: F821
