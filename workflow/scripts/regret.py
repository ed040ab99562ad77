"""Thin glue: the regret rule → fptopt.pipeline.stages.regret_stage."""

import sys
from pathlib import Path

# The package from this checkout, also inside a rule's conda environment (workflow/envs/).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from fptopt.pipeline.stages import group_sweep_blocks, regret_stage
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    protocols = [entry["name"] for entry in snakemake.config["protocols"]]  # noqa: F821
    dense = {name: group_sweep_blocks([p for p in snakemake.input.dense if f"/{name}/" in p])  # noqa: F821
             for name in protocols}
    single = {name: [p for p in snakemake.input.single if f"/{name}/" in p] for name in protocols}  # noqa: F821
    regret_stage(snakemake.config, list(snakemake.input.baseline), single, dense,  # noqa: F821
                 list(snakemake.input.summaries), list(snakemake.input.predictions),  # noqa: F821
                 Path(snakemake.output.first_passage).parent,  # noqa: F821
                 Path(snakemake.output.table).parent)  # noqa: F821
