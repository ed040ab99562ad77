# Stage 7: every figure, drawn from the saved results only.


rule figures:
    input:
        unpack(lambda wildcards: paths.figure_inputs(config)),
    output:
        [
            report(
                path,
                caption=f"../report/{Path(path).stem}.rst",
                category="Figures",
            )
            for path in paths.figure_files(formats=["png"])
        ],
        paths.figure_files(formats=["pdf"]),
    log:
        paths.log_of(paths.figure_files()[0]),
    conda:
        ANALYSIS_ENV
    resources:
        **ANALYSIS_RESOURCES,
    script:
        "../scripts/figures.py"
