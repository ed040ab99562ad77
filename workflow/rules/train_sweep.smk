# The protocol at any period τ: the adaptive design's frequencies, the validation
# sweep and the dense grid of the regret target all come from this rule (and share
# its outputs: a period trained once serves all three).


use rule train_baseline as train_sweep with:
    output:
        paths.sweep_block(),
    log:
        paths.log_of(paths.sweep_block()),
    benchmark:
        paths.benchmark_of(paths.sweep_block())
    params:
        stage="train_sweep",
        protocol=lambda wildcards: wildcards.protocol,
        tau=lambda wildcards: int(wildcards.tau),
        schedule=None,
        condition=condition("train_sweep"),
        checkpoint_dir=CHECKPOINT_DIR,
