"""Thin glue: the validate rule → fptopt.stages.validate_stage."""

import re
from collections import defaultdict
from pathlib import Path

from fptopt.stages import validate_stage
from fptopt.workflow_glue import logging_to

with logging_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    sweep = defaultdict(list)
    for path in snakemake.input.sweep:  # noqa: F821
        sweep[int(re.search(r"/tau(\d+)/", path).group(1))].append(path)
    validate_stage(snakemake.config, snakemake.wildcards.protocol, Path(snakemake.input.prediction).parent,  # noqa: F821
                   dict(sweep), list(snakemake.input.baseline), Path(snakemake.output.validation).parent)  # noqa: F821
