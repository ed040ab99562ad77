# Stage 7: every figure, drawn from the saved results only.


rule figures:
    input:
        unpack(lambda wildcards: paths.figure_inputs(config)),
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
