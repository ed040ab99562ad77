# The dense truth (target `regret`, not part of `all`): every τ in 1..regret.max_tau
# for each protocol, trained by the train_sweep rule, against the design's choice.


rule regret_table:
    input:
        baseline=baseline_blocks,
        single=[
            block
            for protocol in PROTOCOL_NAMES
            for block in single_frequency_blocks(protocol)
        ],
        dense=[block for protocol in PROTOCOL_NAMES for block in dense_blocks(protocol)],
        summaries=expand(
            "results/predict/{protocol}/summary.json", protocol=PROTOCOL_NAMES
        ),
        predictions=expand(
            "results/predict/{protocol}/prediction.csv", protocol=PROTOCOL_NAMES
        ),
    output:
        first_passage="results/regret/first_passage.parquet",
        dense_mfpt="results/regret/dense_mfpt.parquet",
        table=report(
            "results/tables/regret.csv",
            caption="../report/tables.rst",
            category="Tables",
        ),
        markdown="results/tables/regret.md",
        check=expand("results/tables/prediction_check.{ext}", ext=["csv", "md"]),
    log:
        "logs/regret/regret.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    script:
        "../scripts/regret.py"


rule regret:
    input:
        rules.regret_table.output,
