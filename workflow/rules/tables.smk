# Stage 8: the summary tables (CSV + Markdown) at fixed paths.


rule tables:
    input:
        validations=expand("results/validate/{protocol}/validation.parquet", protocol=PROTOCOL_NAMES),
        summaries=expand("results/predict/{protocol}/summary.json", protocol=PROTOCOL_NAMES),
    output:
        report(
            expand("results/tables/{name}.csv", name=["validation", "optimum"]),
            caption="../report/tables.rst",
            category="Tables",
        ),
        expand("results/tables/{name}.md", name=["validation", "optimum"]),
    log:
        "logs/tables/tables.log",
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    conda:
        CONDA_ENV
    script:
        "../scripts/tables.py"
