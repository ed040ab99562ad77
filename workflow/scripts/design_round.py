"""Thin glue: one round of the adaptive design → fptopt.pipeline.stages.design_round_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline.stages import design_round_stage, group_sweep_blocks
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    design_round_stage(snakemake.config, snakemake.wildcards.protocol, snakemake.params.round,  # noqa: F821
                       list(snakemake.input.baseline), list(snakemake.input.single),  # noqa: F821
                       group_sweep_blocks(snakemake.input.design), snakemake.output[0])  # noqa: F821
