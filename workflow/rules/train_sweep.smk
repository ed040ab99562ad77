# Stage 5: the same protocols at many periods τ, only to validate the predictions.


rule train_sweep:
    output:
        "results/train_sweep/{protocol}/tau{tau}/block{block}.parquet",
    log:
        "logs/train_sweep/{protocol}/tau{tau}/block{block}.log",
    params:
        stage="train_sweep",
        protocol=lambda wildcards: wildcards.protocol,
        tau=lambda wildcards: int(wildcards.tau),
        condition=condition("train_sweep"),
        checkpoint_dir=CHECKPOINT_DIR,
    threads: config["training"].get("threads", 1)
    resources:
        gpu=TRAIN_RESOURCES.get("gpu", 0),
        gpu_model=GPU_MODEL,
        mem_mb=TRAIN_RESOURCES["mem_mb"],
        runtime=TRAIN_RESOURCES["runtime"],
    conda:
        CONDA_ENV
    script:
        "../scripts/train.py"
