# Stage 1: unperturbed training replicas, one block of replicas per job.


rule train_baseline:
    output:
        paths.baseline_block(),
    log:
        paths.log_of(paths.baseline_block()),
    benchmark:
        paths.benchmark_of(paths.baseline_block())
    conda:
        TRAIN_ENV
    threads: config["training"]["threads"]
    resources:
        **TRAIN_RESOURCES,
    params:
        stage="train_baseline",
        protocol=None,
        tau=None,
        schedule=None,
        condition=condition("train_baseline"),
        checkpoint_dir=CHECKPOINT_DIR,
    script:
        "../scripts/train.py"
