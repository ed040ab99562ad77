# The first-passage study, stage by stage (read workflow/rules/ in this order).
# `--configfile FILE` replaces the default config.yaml (it is not merged into it).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train_baseline.smk"
include: "workflow/rules/train_single_frequency.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/design.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/train_sweep.smk"
include: "workflow/rules/train_schedule.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/regret.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        TABLES,
        FIGURES,
