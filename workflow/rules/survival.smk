# Stage 3: the baseline's Kaplan–Meier survival, restricted MFPT and quasi-steady-state detection.


rule survival:
    input:
        baseline=baseline_blocks,
    output:
        first_passage="results/survival/first_passage.parquet",
        survival="results/survival/survival.parquet",
        distance="results/survival/qss_distance.parquet",
        qss="results/survival/qss.json",
    log:
        "logs/survival/survival.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    params:
        observable=config["observable"],
        analysis=config["analysis"],
    script:
        "../scripts/survival.py"
