# Stage 4: the adaptive design. Round r predicts every period from the baseline,
# τ* and the frequencies of rounds < r, and names next_tau; round r+1 trains it
# (the train_sweep rule) before predicting again. A checkpoint, because which
# frequency is trained next is known only once the previous round has run.


checkpoint design_round:
    input:
        baseline=baseline_blocks,
        single=lambda wildcards: single_frequency_blocks(wildcards.protocol),
        design=lambda wildcards: design_blocks(wildcards.protocol, int(wildcards.round)),
    output:
        "results/design/{protocol}/round{round}.json",
    log:
        "logs/design/{protocol}/round{round}.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    params:
        round=lambda wildcards: int(wildcards.round),
    script:
        "../scripts/design_round.py"
