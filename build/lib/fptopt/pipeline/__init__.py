"""The pipeline layer: the config (parsed once, against the schema), paths,
jobs, the analysis stages, tables, figures and provenance. Importing it loads
no torch; only :mod:`fptopt.pipeline.train_job` (a training job) does.
"""
