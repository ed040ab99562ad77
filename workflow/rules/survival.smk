# Stage 3: the baseline's Kaplan–Meier survival, restricted MFPT and quasi-steady-state detection.


rule survival:
    input:
        baseline=baseline_blocks,
    output:
        **paths.survival_outputs(),
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
