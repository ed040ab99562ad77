# Stage 4: the response φ(u) at τ* → predicted survival and MFPT for every τ.


rule predict:
    input:
        baseline=baseline_blocks,
        single=lambda wildcards: single_frequency_blocks(wildcards.protocol),
        qss="results/survival/qss.json",
    output:
        prediction="results/predict/{protocol}/prediction.csv",
        survival="results/predict/{protocol}/prediction_survival.csv",
        summary="results/predict/{protocol}/summary.json",
        response="results/predict/{protocol}/response.parquet",
        single_survival="results/predict/{protocol}/single_frequency_survival.parquet",
        single_summary="results/predict/{protocol}/single_frequency.json",
    log:
        "logs/predict/{protocol}.log",
    params:
        observable=config["observable"],
        analysis=config["analysis"],
        protocol_entry=protocol_entry,
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    conda:
        CONDA_ENV
    script:
        "../scripts/predict.py"
