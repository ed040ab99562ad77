"""Thin glue: the survival rule → fptopt.stages.survival_stage."""

from pathlib import Path

from fptopt.stages import survival_stage
from fptopt.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    config = snakemake.config  # noqa: F821
    blocks = len(snakemake.input.baseline)  # noqa: F821
    single = list(snakemake.input.single)  # noqa: F821
    by_protocol = {p["name"]: single[i * blocks:(i + 1) * blocks] for i, p in enumerate(config["protocols"])}
    survival_stage(config, list(snakemake.input.baseline), by_protocol, Path(snakemake.output.qss).parent)  # noqa: F821
