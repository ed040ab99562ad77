# Stage 7: every figure, drawn from the saved results only.


rule figures:
    input:
        baseline=baseline_blocks,
        single=single_frequency_blocks(PROTOCOL_NAMES[0]),
        survival="results/survival/survival.parquet",
        single_survivals=expand(
            "results/predict/{protocol}/single_frequency_survival.parquet",
            protocol=PROTOCOL_NAMES,
        ),
        qss="results/survival/qss.json",
        distance="results/survival/qss_distance.parquet",
        predictions=expand(
            "results/predict/{protocol}/prediction.csv", protocol=PROTOCOL_NAMES
        ),
        summaries=expand(
            "results/predict/{protocol}/summary.json", protocol=PROTOCOL_NAMES
        ),
        responses=expand(
            "results/predict/{protocol}/response.parquet", protocol=PROTOCOL_NAMES
        ),
        validations=expand(
            "results/validate/{protocol}/validation.parquet", protocol=PROTOCOL_NAMES
        ),
    output:
        [
            report(
                f"results/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in FIGURE_NAMES
        ],
        expand("results/figures/{name}.pdf", name=FIGURE_NAMES),
    log:
        "logs/figures/figures.log",
    conda:
        ANALYSIS_ENV
    resources:
        mem_mb=ANALYSIS_RESOURCES["mem_mb"],
        runtime=ANALYSIS_RESOURCES["runtime"],
    script:
        "../scripts/figures.py"
