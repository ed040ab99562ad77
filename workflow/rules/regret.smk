# The dense truth (target `regret`, not part of `all`): every τ in 1..regret.max_tau
# for each protocol, trained by the train_sweep rule, against the design's choice.


rule regret_table:
    input:
        unpack(lambda wildcards: paths.regret_inputs(config)),
    output:
        **{
            name: (
                report(path, caption="../report/tables.rst", category="Tables")
                if name == "table"
                else path
            )
            for name, path in paths.regret_outputs().items()
        },
    log:
        paths.log_of(paths.regret_outputs()["first_passage"]),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    script:
        "../scripts/regret.py"


rule regret:
    input:
        rules.regret_table.output,
