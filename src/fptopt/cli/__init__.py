"""The ``fptopt`` command: every pipeline stage, runnable without Snakemake.

    fptopt check-config --config config.yaml
    fptopt train --config config.yaml --stage train_baseline --block 0 --out results/train_baseline/block0.parquet
    fptopt survival|predict|validate|figures|tables --config config.yaml [--protocol NAME] [--results results]
    fptopt analyze --baseline PATH --perturbed PATH --tau-star N --target X ... --out DIR

Stage commands read and write the same paths as the Snakemake rules (under
``--results``). Bad input (a config, a file, an option) prints one line naming
the file or key and exits 2, as argparse does for a bad option; an interrupt exits 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .. import __version__
from ..pipeline import paths


def load_config(path) -> dict:
    """Read a YAML config, validate it against the schema with its defaults filled
    in, and check it (registries, horizon), naming the file and the bad key."""
    from ..pipeline.config import ConfigError, parse_config

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    return parse_config(config, str(path))


def _train(args, config):
    from ..pipeline.jobs import Job
    from ..pipeline.train_job import run_training_job

    job = Job(args.stage, args.protocol, args.tau, args.block, args.schedule)
    if args.stage == "train_single_frequency" and args.tau is None:
        from ..pipeline.jobs import protocol_config

        job = Job(args.stage, args.protocol, protocol_config(config, args.protocol)["tau_star"], args.block)
    run_training_job(config, job, args.out, checkpoint_dir=config["checkpoint_dir"])


def _survival(args, config):
    from ..pipeline.stages import survival_stage

    survival_stage(config, baseline_paths=paths.baseline_blocks(config, args.results),
                   outputs=paths.survival_outputs(args.results))


def _predict(args, config):
    from ..pipeline.stages import predict_stage

    plan = paths.design_plan(config, args.protocol, args.results)
    inputs = paths.design_inputs(config, args.protocol, plan, args.results,
                                 schedule_plan=paths.design_schedule_plan(config, args.protocol, args.results))
    predict_stage(config, args.protocol, **paths.design_from_inputs(inputs),
                  outputs=paths.predict_outputs(args.protocol, args.results))


def _validate(args, config):
    from ..pipeline.stages import validate_stage

    inputs = paths.validate_inputs(config, args.protocol, args.results)
    validate_stage(config, args.protocol, **paths.validate_from_inputs(config, args.protocol, inputs),
                   outputs=paths.validate_outputs(args.protocol, args.results))


def _figures(args, config):
    from ..pipeline.plots import figures_stage

    figures_stage(config, paths.figure_inputs(config, args.results), Path(args.results) / paths.FIGURES_DIR)


def _tables(args, config):
    from ..pipeline.tables import tables_stage

    inputs = paths.table_inputs(config, args.results)
    tables_stage(config, inputs["validations"], inputs["summaries"],
                 [r for r in inputs["rounds"] if Path(r).exists()], Path(args.results) / paths.TABLES_DIR)


STAGE_COMMANDS = {"survival": _survival, "predict": _predict, "validate": _validate,
                  "figures": _figures, "tables": _tables}


def build_parser() -> argparse.ArgumentParser:
    from ..pipeline.jobs import STAGES
    from .analyze import add_analyze_arguments

    parser = argparse.ArgumentParser(prog="fptopt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"fptopt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", default="config.yaml")
    train = commands.add_parser("train", help="train one block of replicas of one condition")
    train.add_argument("--config", default="config.yaml")
    train.add_argument("--stage", required=True, choices=list(STAGES))
    train.add_argument("--protocol", help="protocol name from the config (perturbed stages)")
    train.add_argument("--tau", type=int, help="period τ (train_sweep; default τ* for train_single_frequency)")
    train.add_argument("--schedule", help="a configured schedule's label, e.g. epochs8-18-28 or poisson0.1 "
                       "(train_schedule)")
    train.add_argument("--block", type=int, default=0)
    train.add_argument("--out", required=True, help="Parquet file to write")
    for name, function in STAGE_COMMANDS.items():
        stage = commands.add_parser(name, help=function.__module__ and f"run the {name} stage")
        stage.add_argument("--config", default="config.yaml")
        stage.add_argument("--results", default="results", help="results directory (default: results)")
        if name in ("predict", "validate"):
            stage.add_argument("--protocol", required=True)
    readme = commands.add_parser("results-doc", help="rewrite the generated block of docs/results.md from "
                                 "results/tables")
    readme.add_argument("--results", default="results")
    readme.add_argument("--doc", default="docs/results.md",
                        help="the Markdown file with the results markers ('' to skip it)")
    readme.add_argument("--headline-in", default=None, metavar="MARKDOWN",
                        help="also write the one-sentence answer (results/tables/recommendation.csv) between the "
                             "headline markers of this file (README.md)")
    readme.add_argument("--search-comparison", action="append", default=[], metavar="JSON",
                        help="a bench/compare_search.py result to show as a head-to-head table (repeatable)")
    add_analyze_arguments(commands.add_parser(
        "analyze", help="first-passage analysis and prediction from anyone's training logs"))
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "analyze":
            from .analyze import run_analyze

            return run_analyze(args)
        if args.command == "results-doc":
            from ..pipeline.tables import HEADLINE_BEGIN, HEADLINE_END, headline, results_block, splice_results

            if args.doc:
                splice_results(args.doc, results_block(args.results, args.search_comparison))
                print(f"{args.doc}: results block rewritten from {args.results}/tables")
            if args.headline_in:
                splice_results(args.headline_in, headline(args.results), markers=(HEADLINE_BEGIN, HEADLINE_END))
                print(f"{args.headline_in}: headline rewritten from {args.results}/tables/recommendation.csv")
            return 0
        config = load_config(args.config)
        if args.command == "train":
            if args.stage != "train_baseline" and not args.protocol:
                raise ValueError(f"--protocol is required for --stage {args.stage}")
            _train(args, config)
        elif args.command != "check-config":
            STAGE_COMMANDS[args.command](args, config)
        else:
            print(f"{args.config}: valid")
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as error:
        print(f"fptopt {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fptopt {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0

