# Stage 6: predicted vs measured at every swept period.


rule validate:
    input:
        prediction="results/predict/{protocol}/prediction.csv",
        survival="results/predict/{protocol}/prediction_survival.csv",
        sweep=lambda wildcards: sweep_blocks(wildcards.protocol),
        baseline=baseline_blocks,
    output:
        **paths.validate_outputs(),
    log:
        "logs/validate/{protocol}.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    params:
        observable=config["observable"],
        protocol_entry=protocol_entry,
    script:
        "../scripts/validate.py"
