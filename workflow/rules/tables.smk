# Stage 8: the summary tables (CSV + Markdown) at fixed paths.


rule tables:
    input:
        unpack(lambda wildcards: paths.table_inputs(config)),
    output:
        report(
            expand("results/tables/{name}.csv", name=TABLE_NAMES),
            caption="../report/tables.rst",
            category="Tables",
        ),
        expand("results/tables/{name}.md", name=TABLE_NAMES),
    log:
        "logs/tables/tables.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    script:
        "../scripts/tables.py"
