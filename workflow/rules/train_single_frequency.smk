# Stage 2: each protocol at its single frequency τ*, the theory's only perturbed input.


rule train_single_frequency:
    output:
        "results/train_single_frequency/{protocol}/block{block}.parquet",
    log:
        "logs/train_single_frequency/{protocol}/block{block}.log",
    params:
        stage="train_single_frequency",
        protocol=lambda wildcards: wildcards.protocol,
        tau=tau_star,
        condition=condition("train_single_frequency"),
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
