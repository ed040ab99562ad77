"""Thin glue: one training block of a Snakemake job → fptopt.pipeline.train_job.run_training_job.

A job that asks for GPUs (``resources: gpu``) first claims its own devices, so
parallel jobs on a multi-GPU machine never share one (fptopt.pipeline.gpu_slots).
"""
# ruff: noqa: F821  (Snakemake injects the `snakemake` object into every rule script)

from fptopt.pipeline.gpu_slots import gpu_slot
from fptopt.pipeline.jobs import Job
from fptopt.pipeline.train_job import run_training_job
from fptopt.pipeline.workflow_glue import logging_to

with logging_to(snakemake.log[0]):
    params = snakemake.params
    job = Job(stage=params.stage, protocol=params.protocol, tau=params.tau, block=int(snakemake.wildcards.block),
              schedule=params.schedule)
    with gpu_slot(n_wanted=int(snakemake.resources.get("gpu", 0))):
        run_training_job(snakemake.config, job, snakemake.output[0], checkpoint_dir=params.checkpoint_dir)
