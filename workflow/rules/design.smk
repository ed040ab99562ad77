# Stage 4: the adaptive design. Round r predicts every period from the baseline,
# τ* and the frequencies of rounds < r, and names next_tau; round r+1 trains it
# (the train_sweep rule) before predicting again. A checkpoint, because which
# frequency is trained next is known only once the previous round has run.


checkpoint design_round:
    input:
        unpack(design_inputs(rounds=None)),
    output:
        paths.design_round(),
    log:
        paths.log_of(paths.design_round()),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    script:
        "../scripts/design_round.py"
