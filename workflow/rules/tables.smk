# Stage 8: the summary tables (CSV + Markdown) at fixed paths.


rule tables:
    input:
        unpack(lambda wildcards: paths.table_inputs(config)),
    output:
        report(
            paths.table_files(formats=["csv"]),
            caption="../report/tables.rst",
            category="Tables",
        ),
        paths.table_files(formats=["md"]),
    log:
        paths.log_of(paths.table_files()[0]),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    script:
        "../scripts/tables.py"
