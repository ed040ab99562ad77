"""``fptopt analyze``: the command line around :func:`fptopt.stats.analyze.analyze`.

Options, reading the logs (:mod:`fptopt.stats.logs`), the replica-count
guard, writing the output folder at once and the figures
(:mod:`fptopt.pipeline.plots`). Bad input prints one line naming the option
or file and exits 2 (argparse's convention, used by every ``fptopt`` command).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..stats.analyze import analyze, write_analysis
from ..stats.design import DEFAULT_TRUST_RATIO, DesignSettings, Schedule
from ..stats.logs import FORMATS, detect_format, parse_per_epoch_from, read_trajectories
from ..storage import input_hash, replace_directory

__all__ = ["add_analyze_arguments", "main", "run_analyze"]

DEFAULT_MIN_REPLICAS = 30  # below it a survival curve's interval is mostly noise


def add_analyze_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``fptopt analyze``."""
    parser.add_argument("--study", default=None, metavar="DIR",
                        help="one folder per study: DIR/baseline/ and DIR/tau=N/ per measured period (any supported "
                             "format each; DIR/columns.yaml may name a column per folder); replaces --baseline "
                             "and --perturbed")
    parser.add_argument("--baseline", default=None, help="unperturbed logs (any supported format)")
    parser.add_argument("--perturbed", default=[], action="append", metavar="TAU=PATH",
                        help="logs of a periodic run at period TAU (repeatable: one per measured frequency); "
                             "a bare PATH needs --tau-star")
    parser.add_argument("--tau-star", type=int, default=None, help="period of a bare --perturbed PATH")
    parser.add_argument("--trust-ratio", type=float, default=DEFAULT_TRUST_RATIO,
                        help="a response measured at tau_m is trusted down to this fraction of tau_m (default 0.6)")
    parser.add_argument("--target", required=True, type=float, help="threshold theta")
    parser.add_argument("--direction", default="above", help="above (a >= theta) or below (a <= theta)")
    parser.add_argument("--column", default="test_acc",
                        help="observable column in the logs; one input's own column: PATH::COLUMN")
    parser.add_argument("--format", default="auto", choices=FORMATS,
                        help="log format (default auto: detected from the files; see fptopt.stats.logs)")
    parser.add_argument("--per-epoch-from", default=None, metavar="steps=N",
                        help="logs indexed by optimizer step: N steps make one epoch")
    parser.add_argument("--any-evaluation", action="store_true",
                        help="Hugging Face logs evaluated within epochs: a replica passes at the first evaluation "
                             "that meets the target (at the epoch it falls in), not only at an epoch's end")
    parser.add_argument("--horizon", type=int, default=None,
                        help="H (default: the longest baseline run; shorter replicas are censored)")
    parser.add_argument("--taus", default=None, help="comma-separated periods (default 1..H-1)")
    parser.add_argument("--schedule", action="append", default=[], metavar="E1,E2,...",
                        help="predict perturbing after these epochs (repeatable): schedules.csv")
    parser.add_argument("--poisson", action="append", default=[], type=float, metavar="RATE",
                        help="predict perturbing after each epoch with probability RATE (repeatable): schedules.csv")
    parser.add_argument("--sweep", action="append", default=[], metavar="TAU=PATH",
                        help="measured run at period TAU for validation (repeatable)")
    parser.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples (0: none)")
    defaults = DesignSettings()
    parser.add_argument("--block", type=int, default=defaults.block,
                        help=f"replicas the next experiment adds: a new period's first run, or a block more of a "
                             f"measured one (default {defaults.block})")
    parser.add_argument("--max-replicas", type=int, default=defaults.max_replicas,
                        help=f"the most replicas one period gets (default {defaults.max_replicas})")
    parser.add_argument("--settle-replicas", type=int, default=defaults.settle_replicas,
                        help=f"replicas the chosen period needs before the answer is settled "
                             f"(default {defaults.settle_replicas})")
    parser.add_argument("--tolerance", type=float, default=defaults.tolerance,
                        help=f"relative regret the answer may carry (default {defaults.tolerance})")
    parser.add_argument("--confidence", type=float, default=defaults.confidence,
                        help=f"one-sided confidence that no measured period beats the answer by more than the "
                             f"tolerance (default {defaults.confidence})")
    parser.add_argument("--min-replicas", type=int, default=DEFAULT_MIN_REPLICAS,
                        help=f"stop when the baseline or a perturbed run has fewer replicas (default "
                             f"{DEFAULT_MIN_REPLICAS}; below it a warning)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.add_argument("--pdf", action="store_true", help="also write every figure as PDF (PNG only by default)")
    return parser


def run_analyze(args: argparse.Namespace) -> int:
    """Run ``fptopt analyze``; returns 0, 2 after printing the error (nothing
    written), or 130 when interrupted (the old ``--out`` left as it was)."""
    try:
        return _run_analyze(args)
    except KeyboardInterrupt:
        print("fptopt analyze: interrupted; nothing written", file=sys.stderr)
        return 130


def _run_analyze(args: argparse.Namespace) -> int:
    try:
        taus = _parse_taus(args.taus)
        per_epoch = parse_per_epoch_from(args.per_epoch_from)
        sweep_paths = dict(_parse_sweep(item, "--sweep") for item in args.sweep)
        if args.study is not None:
            if args.baseline is not None or args.perturbed:
                raise ValueError("--study DIR replaces --baseline and --perturbed: give one or the other")
            args.baseline, perturbed_paths = study_inputs(args.study)
        elif args.baseline is None or not args.perturbed:
            raise ValueError("give --study DIR, or --baseline PATH and at least one --perturbed TAU=PATH")
        else:
            perturbed_paths = _perturbed_paths(args.perturbed, args.tau_star)
        paths = {"baseline": args.baseline} | {f"perturbed_{tau}": path for tau, path in perturbed_paths.items()} | {
            f"sweep_{tau}": path for tau, path in sweep_paths.items()}
        read_as: dict[str, dict] = {}
        # A pass at any evaluation: the best evaluation of each epoch (the highest for "above").
        within_epoch = ("max" if args.direction == "above" else "min") if args.any_evaluation else "last"

        def read(name, item):
            path, column = _split_column(item, args.column)
            form = detect_format(path) if args.format == "auto" else args.format
            notes: list[str] = []
            values = read_trajectories(path, column, form, per_epoch, within_epoch=within_epoch, notes=notes)[1]
            for note in notes:
                print(f"fptopt analyze: note: {note}", file=sys.stderr)
            read_as[name] = {"format": form, "column": column, "replicas": int(values.shape[0]),
                             "epochs": int(values.shape[1])}
            return values

        baseline = read("baseline", args.baseline)
        perturbed = {tau: read(f"perturbed_{tau}", item) for tau, item in perturbed_paths.items()}
        sweeps = {tau: read(f"sweep_{tau}", item) for tau, item in sweep_paths.items()}
        named = {"--baseline " + str(args.baseline): baseline} | {
            f"--perturbed {tau}={path}": perturbed[tau] for tau, path in perturbed_paths.items()}
        _check_replica_counts(named, args.min_replicas)
        for name, item in paths.items():
            seen = read_as[name]
            print(f"  read {name}: {item} as {seen['format']} ({seen['column']}): "
                  f"{_plural(seen['replicas'], 'replica')} x {_plural(seen['epochs'], 'epoch')}", file=sys.stderr)
        design = DesignSettings(initial_replicas=args.block, block=args.block, max_replicas=args.max_replicas,
                                settle_replicas=min(max(args.settle_replicas, args.block), args.max_replicas),
                                tolerance=args.tolerance, confidence=args.confidence,
                                trust_ratio=args.trust_ratio)
        result = analyze(baseline, perturbed, tau_star=args.tau_star, target=args.target,
                         direction=args.direction, horizon=args.horizon, taus=taus, sweeps=sweeps,
                         bootstrap=args.bootstrap, seed=args.seed, trust_ratio=args.trust_ratio, design=design,
                         schedules=_schedules(args.schedule, args.poisson))
        hashes = {name: {"path": str(item), "sha256": input_hash(_split_column(item, args.column)[0]), **read_as[name]}
                  for name, item in paths.items()}

        def write(folder):
            write_analysis(result, folder, inputs_hashes=hashes)
            if not args.no_figures:
                from ..pipeline.plots import analysis_figures

                analysis_figures(result, baseline, perturbed[result.tau_star], args.column, folder,
                                 ("png", "pdf") if args.pdf else ("png",))

        replace_directory(args.out, write)
    except (ValueError, OSError) as error:
        print(f"fptopt analyze: error: {error}", file=sys.stderr)
        return 2
    print(f"fptopt analyze: wrote {args.out}\n  {result.headline()}\n  {result.qss.message}")
    decision = result.decision
    if decision.tau is not None:
        where = (f"into {Path(args.study) / f'tau={decision.tau}'}/ (beside the replicas already there)"
                 if args.study else f"and add it as --perturbed {decision.tau}=PATH")
        print(f"  next experiment: train {decision.replicas} more replicas at tau = {decision.tau} {where}, e.g. with "
              f"PerturbationCallback(\"<protocol>\", tau={decision.tau}) (fptopt.callbacks), then run the same "
              f"fptopt analyze again")
    return 0


def _check_replica_counts(runs: dict, minimum: int) -> None:
    """Too few replicas give a confident-looking answer from noise (one replica
    gives a bootstrap interval of width 0): stop, naming the input; warn when a
    lowered ``--min-replicas`` lets fewer than the default through."""
    for name, values in runs.items():
        count = _plural(values.shape[0], "replica")
        if values.shape[0] < minimum:
            raise ValueError(f"{name}: {count}, fewer than --min-replicas {minimum}: a survival "
                             f"curve and its interval need many seeds (lower --min-replicas to go on anyway)")
        if values.shape[0] < DEFAULT_MIN_REPLICAS:
            print(f"fptopt analyze: warning: {name}: only {count} (--min-replicas {minimum} let it through; the "
                  f"default is {DEFAULT_MIN_REPLICAS}): the answer and its intervals are dominated by noise",
                  file=sys.stderr)


def _schedules(explicit: list[str], rates: list[float]) -> list[Schedule]:
    schedules = []
    for text in explicit:
        try:
            epochs = tuple(int(item) for item in text.split(",") if item.strip())
        except ValueError as error:
            raise ValueError(f"--schedule must be comma-separated epochs, got {text!r}") from error
        try:
            schedules.append(Schedule(epochs=epochs))
        except ValueError as error:
            raise ValueError(f"--schedule {text}: {error}") from error
    for rate in rates:
        try:
            schedules.append(Schedule(rate=rate))
        except ValueError as error:
            raise ValueError(f"--poisson {rate}: {error}") from error
    return schedules


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _split_column(item: str, default: str) -> tuple[str, str]:
    """``PATH::COLUMN`` (a column for this input only, e.g. Keras's ``val_accuracy`` beside
    Lightning's ``val_acc``) or a plain ``PATH`` (``--column``)."""
    path, sep, column = str(item).rpartition("::")
    if not sep:
        return str(item), default
    if not path or not column:
        raise ValueError(f"{item!r}: expected PATH::COLUMN")
    return path, column


def _parse_taus(text):
    if text is None:
        return None
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError as error:
        raise ValueError(f"--taus must be comma-separated integers, got {text!r}") from error


def _parse_sweep(item: str, option: str):
    tau, sep, path = item.partition("=")
    if not sep or not tau.strip().isdigit() or not path:
        raise ValueError(f"{option} must look like TAU=PATH, got {item!r}")
    return int(tau), path


def _perturbed_paths(items: list[str], tau_star: int | None) -> dict[int, str]:
    """``--perturbed TAU=PATH`` (repeatable) or one bare ``--perturbed PATH --tau-star N``."""
    bare = [item for item in items if not _looks_like_tau_path(item)]
    if bare and (len(items) > 1 or tau_star is None):
        raise ValueError(f"--perturbed {bare[0]!r}: give the period as TAU=PATH (repeatable), or one bare "
                         "PATH together with --tau-star N")
    if bare:
        return {int(tau_star): bare[0]}
    paths = dict(_parse_sweep(item, "--perturbed") for item in items)
    if len(paths) < len(items):
        raise ValueError("--perturbed: each period may be given once")
    if tau_star is not None and tau_star not in paths:
        raise ValueError(f"--tau-star {tau_star} is not among the --perturbed periods {sorted(paths)}")
    return paths


STUDY_FOLDER = re.compile(r"tau=?(\d+)")


def study_inputs(folder) -> tuple[str, dict[int, str]]:
    """``(baseline, {τ: path})`` of a study folder: ``baseline/`` and one ``tau=N/`` (or ``tauN/``)
    per measured period; ``columns.yaml`` (``{folder name: column}``) gives a folder its own column
    (``PATH::COLUMN``). Any other entry is an error, so nothing is left out unnoticed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--study {folder}: not a directory")
    columns_file = folder / "columns.yaml"
    columns = {}
    if columns_file.exists():
        import yaml

        columns = yaml.safe_load(columns_file.read_text()) or {}
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise ValueError(f"{columns_file}: expected a mapping of folder name to column, e.g. "
                             f"{{baseline: val_accuracy, 'tau=15': val_acc}}")

    def item(entry: Path) -> str:
        return f"{entry}::{columns[entry.name]}" if entry.name in columns else str(entry)

    baseline, perturbed, unknown = None, {}, []
    for entry in sorted(folder.iterdir()):
        match = STUDY_FOLDER.fullmatch(entry.name)
        if entry.name == "baseline":
            baseline = item(entry)
        elif match and entry.is_dir():
            tau = int(match.group(1))
            if tau in perturbed:
                raise ValueError(f"--study {folder}: two folders for tau = {tau}")
            perturbed[tau] = item(entry)
        elif entry.name != "columns.yaml" and not entry.name.startswith("."):
            unknown.append(entry.name)
    if unknown:
        raise ValueError(f"--study {folder}: {unknown} is neither baseline/, tau=N/ nor columns.yaml")
    stray = sorted(set(columns) - {"baseline", *(Path(p.split('::')[0]).name for p in perturbed.values())})
    if stray:
        raise ValueError(f"{columns_file}: no folder {stray} in the study")
    if baseline is None or not perturbed:
        raise ValueError(f"--study {folder}: needs baseline/ and at least one tau=N/ folder, found "
                         f"{sorted(p.name for p in folder.iterdir())}")
    return baseline, dict(sorted(perturbed.items()))


def _looks_like_tau_path(item: str) -> bool:
    tau, sep, path = item.partition("=")
    return bool(sep) and tau.strip().isdigit() and bool(path) and not Path(item).exists()


def main(argv=None) -> int:
    parser = add_analyze_arguments(argparse.ArgumentParser(prog="fptopt analyze"))
    return run_analyze(parser.parse_args(argv))

