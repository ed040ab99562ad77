"""Thin glue: the validate rule → fptopt.pipeline.stages.validate_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline import paths
from fptopt.pipeline.stages import validate_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    config, protocol = snakemake.config, snakemake.wildcards.protocol  # noqa: F821
    validate_stage(config, protocol, snakemake.input.prediction, snakemake.input.survival,  # noqa: F821
                   paths.sweep_blocks(config, protocol), list(snakemake.input.baseline),  # noqa: F821
                   dict(snakemake.output.items()))  # noqa: F821
