"""Thin glue: the predict rule → fptopt.pipeline.stages.predict_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline.stages import group_sweep_blocks, predict_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    predict_stage(snakemake.config, snakemake.wildcards.protocol, list(snakemake.input.baseline),  # noqa: F821
                  list(snakemake.input.single), dict(snakemake.output.items()),  # noqa: F821
                  group_sweep_blocks(snakemake.input.design))  # noqa: F821
