# Stage 5: the answer. Measured and predicted ⟨T_τ ∧ H⟩ on the whole grid from the
# baseline, τ* and every frequency the adaptive design trained, with bootstrap
# intervals, the optimum, next_tau, the responses and the renewal check.


rule predict:
    input:
        baseline=baseline_blocks,
        single=lambda wildcards: single_frequency_blocks(wildcards.protocol),
        design=lambda wildcards: design_blocks(wildcards.protocol, ROUNDS),
        qss="results/survival/qss.json",
    output:
        **paths.predict_outputs(),
    log:
        "logs/predict/{protocol}.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    params:
        observable=config["observable"],
        analysis=config["analysis"],
        adaptive=config["adaptive"],
        protocol_entry=protocol_entry,
    script:
        "../scripts/predict.py"
