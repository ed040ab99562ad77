# The protocol under each configured schedule beyond a period (explicit
# perturbation epochs, or a Poisson timer drawn per replica): validation
# conditions, trained by the same job as every other condition.


use rule train_baseline as train_schedule with:
    output:
        paths.schedule_block(),
    log:
        paths.log_of(paths.schedule_block()),
    benchmark:
        paths.benchmark_of(paths.schedule_block())
    params:
        stage="train_schedule",
        protocol=lambda wildcards: wildcards.protocol,
        tau=None,
        schedule=lambda wildcards: wildcards.schedule,
        condition=condition("train_schedule"),
        checkpoint_dir=CHECKPOINT_DIR,
