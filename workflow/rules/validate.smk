# Stage 6: predicted vs measured at every swept period.


rule validate:
    input:
        unpack(lambda wildcards: paths.validate_inputs(config, wildcards.protocol)),
    output:
        **paths.validate_outputs(),
    log:
        paths.log_of(paths.validate_outputs()["validation"]),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    params:
        observable=config["observable"],
        protocol_entry=protocol_entry,
    script:
        "../scripts/validate.py"
