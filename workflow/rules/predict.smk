# Stage 5: the answer. Measured and predicted ⟨T_τ ∧ H⟩ on the whole grid from the
# baseline, τ* and every frequency the adaptive design trained, with bootstrap
# intervals, the optimum, next_tau, the responses and the renewal check.


rule predict:
    input:
        unpack(design_inputs(rounds=ROUNDS)),
        qss=paths.survival_outputs()["qss"],
    output:
        **paths.predict_outputs(),
    log:
        paths.log_of(paths.predict_outputs()["summary"]),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    params:
        observable=config["observable"],
        analysis=config["analysis"],
        adaptive=config["adaptive"],
        protocol_entry=protocol_entry,
    script:
        "../scripts/predict.py"
