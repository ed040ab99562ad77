# Stage 2: each protocol at its single frequency τ*, the theory's first perturbed input.
# The same job as train_baseline (workflow/rules/train_baseline.smk), for another condition.


use rule train_baseline as train_single_frequency with:
    output:
        paths.single_frequency_block(),
    log:
        paths.log_of(paths.single_frequency_block()),
    benchmark:
        paths.benchmark_of(paths.single_frequency_block())
    params:
        stage="train_single_frequency",
        protocol=lambda wildcards: wildcards.protocol,
        tau=tau_star,
        schedule=None,
        condition=condition("train_single_frequency"),
        checkpoint_dir=CHECKPOINT_DIR,
