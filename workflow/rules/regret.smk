# The dense truth (target `regret`, not part of `all`): every τ in 1..regret.max_tau
# for each protocol, trained by the train_sweep rule, against the design's choice.
# When regret.replicas asks for more replicas per period than a periodic run has,
# train_dense trains the rest: the next replicas of the same conditions (same seeds).


use rule train_baseline as train_dense with:
    output:
        paths.dense_block(),
    log:
        paths.log_of(paths.dense_block()),
    benchmark:
        paths.benchmark_of(paths.dense_block())
    params:
        stage="train_dense",
        protocol=lambda wildcards: wildcards.protocol,
        tau=lambda wildcards: int(wildcards.tau),
        schedule=None,
        condition=condition("train_dense"),
        checkpoint_dir=CHECKPOINT_DIR,


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
