# Stage 3: the baseline's Kaplan–Meier survival, restricted MFPT and quasi-steady-state detection.


rule survival:
    input:
        baseline=baseline_blocks,
    output:
        **paths.survival_outputs(),
    log:
        paths.log_of(paths.survival_outputs()["qss"]),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    params:
        observable=config["observable"],
        analysis=config["analysis"],
    script:
        "../scripts/survival.py"
