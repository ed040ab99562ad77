# Stage 1: unperturbed training replicas, one block of replicas per job.


rule train_baseline:
    output:
        "results/train_baseline/block{block}.parquet",
    log:
        "logs/train_baseline/block{block}.log",
    conda:
        TRAIN_ENV
    threads: config["training"]["threads"]
    resources:
        gpu=TRAIN_RESOURCES["gpu"],
        gpu_model=GPU_MODEL,
        mem_mb=TRAIN_RESOURCES["mem_mb"],
        runtime=TRAIN_RESOURCES["runtime"],
    params:
        stage="train_baseline",
        protocol=None,
        tau=None,
        condition=condition("train_baseline"),
        checkpoint_dir=CHECKPOINT_DIR,
    script:
        "../scripts/train.py"
