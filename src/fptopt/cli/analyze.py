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

import numpy as np

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
    parser.add_argument("--search-schedules", action="store_true",
                        help="search beyond periods: every two-phase schedule (first perturbation after s1, then "
                             "every tau) and a Poisson timer at every rate 1/tau, against the best period: "
                             "schedule_search.csv and summary.json's beyond_periods")
    parser.add_argument("--measured-schedule", action="append", default=[], metavar="E1,E2,...=PATH",
                        help="a run trained under a schedule beyond periods (explicit epochs, or poisson:RATE), e.g. "
                             "the one --search-schedules names as the next experiment (repeatable); it is the answer "
                             "when distinguishably faster than the chosen period")
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
    parser.add_argument("--no-explore-below", dest="explore_below", action="store_false",
                        help="stop without first measuring the untrusted periods below the shortest measured one "
                             "(adaptive.explore_below: false; docs/theory.md)")
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
        schedule_paths = dict(_parse_measured_schedule(item) for item in args.measured_schedule)
        if args.study is not None:
            if args.baseline is not None or args.perturbed:
                raise ValueError("--study DIR replaces --baseline and --perturbed: give one or the other")
            args.baseline, groups = study_protocols(args.study)
        elif args.baseline is None or not args.perturbed:
            raise ValueError("give --study DIR, or --baseline PATH and at least one --perturbed TAU=PATH")
        else:
            groups = {None: _perturbed_paths(args.perturbed, args.tau_star)}
        several = None not in groups
        if several and (sweep_paths or schedule_paths):
            raise ValueError("--sweep and --measured-schedule are for a one-protocol study (give them per "
                             "protocol, one analysis each)")
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
            print(f"  read {name}: {item} as {form} ({column}): {_plural(values.shape[0], 'replica')} x "
                  f"{_plural(values.shape[1], 'epoch')}", file=sys.stderr)
            return values

        baseline = read("baseline", args.baseline)
        sweeps = {tau: read(f"sweep_{tau}", item) for tau, item in sweep_paths.items()}
        measured_schedules = {label: read(f"schedule {label}", item) for label, item in schedule_paths.items()}
        design = DesignSettings(initial_replicas=args.block, block=args.block, max_replicas=args.max_replicas,
                                settle_replicas=min(max(args.settle_replicas, args.block), args.max_replicas),
                                tolerance=args.tolerance, confidence=args.confidence,
                                trust_ratio=args.trust_ratio, explore_below=args.explore_below)
        analyses = {}
        for protocol, perturbed_paths in groups.items():
            prefix = "perturbed" if protocol is None else f"{protocol}_perturbed"
            perturbed = {tau: read(f"{prefix}_{tau}", item) for tau, item in perturbed_paths.items()}
            named = {"--baseline " + str(args.baseline): baseline} | {
                f"--perturbed {tau}={path}": perturbed[tau] for tau, path in perturbed_paths.items()}
            _check_replica_counts(named, args.min_replicas)
            result = analyze(baseline, perturbed, tau_star=args.tau_star, target=args.target,
                             direction=args.direction, horizon=args.horizon, taus=taus, sweeps=sweeps,
                             bootstrap=args.bootstrap, seed=args.seed, trust_ratio=args.trust_ratio, design=design,
                             schedules=_schedules(args.schedule, args.poisson),
                             search_schedules=args.search_schedules,
                             measured_schedules=measured_schedules if protocol is None else None)
            items = {"baseline": args.baseline} | {f"{prefix}_{tau}": path for tau, path in perturbed_paths.items()}
            if protocol is None:
                items |= {f"sweep_{tau}": path for tau, path in sweep_paths.items()}
                items |= {f"schedule {label}": path for label, path in schedule_paths.items()}
            hashes = {name: {"path": str(item), "sha256": input_hash(_split_column(item, args.column)[0]),
                             **read_as[name]} for name, item in items.items()}
            analyses[protocol] = (result, perturbed, hashes)
        recommendation = _recommendation(analyses, baseline) if several else None

        def write(folder):
            for protocol, (result, perturbed, hashes) in analyses.items():
                into = folder if protocol is None else folder / protocol
                write_analysis(result, into, inputs_hashes=hashes)
                if not args.no_figures:
                    from ..pipeline.plots import analysis_figures

                    analysis_figures(result, baseline, perturbed[result.tau_star], args.column, into,
                                     ("png", "pdf") if args.pdf else ("png",))
            if recommendation is not None:
                recommendation.to_csv(folder / "recommendation.csv", index=False)

        replace_directory(args.out, write)
    except (ValueError, OSError) as error:
        print(f"fptopt analyze: error: {error}", file=sys.stderr)
        return 2
    print(f"fptopt analyze: wrote {args.out}")
    for protocol, (result, _, _) in analyses.items():
        label = "" if protocol is None else f"{protocol}: "
        print(f"  {label}{result.headline()}\n  {result.qss.message}")
        for best in result.summary()["beyond_periods"] or []:
            interval = "" if best["mfpt_low"] is None else f" [{best['mfpt_low']:.3g}, {best['mfpt_high']:.3g}]"
            verdict = {True: "better than the best period beyond its interval",
                       False: "not better than the best period beyond its interval",
                       None: "no interval (--bootstrap 0)"}[best["better_than_best_period"]]
            print(f"  beyond periods, best {best['kind']}: {best['schedule']}, <T ∧ {result.horizon}> = "
                  f"{best['mfpt']:.3g}{interval} ({'trusted' if best['trusted'] else 'NOT trusted'}; {verdict})")
        if result.next_schedule is not None:
            schedule, replicas, reason = result.next_schedule
            print(f"  next experiment: train {replicas} replicas perturbed after epochs {schedule.label} ({reason}), "
                  f"e.g. with PerturbationCallback(\"{protocol or '<protocol>'}\", epochs=[{schedule.label}]) "
                  f"(fptopt.callbacks), then add them as --measured-schedule {schedule.label}=PATH")
        answer = result.answer()
        if answer["kind"] == "schedule":
            print(f"  answer: the measured schedule {answer['schedule']}, <T ∧ {result.horizon}> = "
                  f"{answer['mfpt']:.3g} [{answer['mfpt_low']:.3g}, {answer['mfpt_high']:.3g}], distinguishably "
                  f"faster than tau = {result.multi.optimal_tau}")
        elif result.measured_schedules:
            print(f"  answer: tau = {result.multi.optimal_tau}; no measured schedule is distinguishably faster")
        decision = result.decision
        if decision.tau is not None:
            folder = Path(args.study or "") / (protocol or "") / f"tau={decision.tau}"
            where = (f"into {folder}/ (beside the replicas already there)" if args.study
                     else f"and add it as --perturbed {decision.tau}=PATH")
            print(f"  next experiment: train {decision.replicas} more replicas at tau = {decision.tau} {where}, "
                  f"e.g. with PerturbationCallback(\"{protocol or '<protocol>'}\", tau={decision.tau}) "
                  f"(fptopt.callbacks), then run the same fptopt analyze again")
    if recommendation is not None:
        from ..pipeline.tables import recommendation_headline

        horizon = next(iter(analyses.values()))[0].horizon
        print(f"  recommendation ({Path(args.out) / 'recommendation.csv'}): "
              f"{recommendation_headline(recommendation, horizon)}")
    return 0


def _recommendation(analyses: dict, baseline: np.ndarray):
    """recommendation.csv of a several-protocol study: each protocol's answer, and the final
    observable at its chosen period (all its replicas: logs from elsewhere stopped none)
    against the baseline's (:func:`fptopt.pipeline.tables.recommendation_table`)."""
    from ..pipeline.stages import accuracy_summary
    from ..pipeline.tables import recommendation_table

    summaries, horizon = {}, next(iter(analyses.values()))[0].horizon
    for protocol, (result, perturbed, _) in analyses.items():
        tau = result.multi.optimal_tau
        accuracy = accuracy_summary(perturbed[tau], horizon) if tau in perturbed else None
        summaries[protocol] = result.summary() | {"optimal_accuracy": accuracy}
    return recommendation_table({"protocols": [{"name": name} for name in analyses]}, summaries,
                                accuracy_summary(baseline, horizon))


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


def _parse_measured_schedule(item: str) -> tuple[str, str]:
    label, sep, path = item.partition("=")
    if not sep or not path:
        raise ValueError(f"--measured-schedule must look like E1,E2,...=PATH or poisson:RATE=PATH, got {item!r}")
    try:
        return Schedule.from_label(label.strip()).label, path
    except ValueError as error:
        raise ValueError(f"--measured-schedule {item}: {error}") from None


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


def study_protocols(folder) -> tuple[str, dict]:
    """``(baseline, {protocol: {τ: path}})`` of a study folder; the protocol is ``None`` for the
    one-protocol layout (``baseline/`` + ``tau=N/`` folders, :func:`study_inputs`), else each
    subfolder ``<protocol>/`` holds that protocol's ``tau=N/`` folders (and its own
    ``columns.yaml``) beside the shared ``baseline/`` (whose column a top ``columns.yaml`` may name)."""
    folder = Path(folder)
    if not folder.is_dir() or any(STUDY_FOLDER.fullmatch(entry.name) for entry in folder.iterdir()):
        baseline, perturbed = study_inputs(folder)
        return baseline, {None: perturbed}
    entries = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    stray = [p.name for p in entries if not p.is_dir() and p.name != "columns.yaml"]
    if stray or not (folder / "baseline").is_dir():
        raise ValueError(f"--study {folder}: expected baseline/ and tau=N/ folders, or baseline/ and one folder "
                         f"per protocol holding its tau=N/ folders; found {[p.name for p in entries]}")
    baseline = str(folder / "baseline")
    columns = _study_columns(folder)
    if "baseline" in columns:
        baseline = f"{baseline}::{columns['baseline']}"
    protocols = {entry.name: study_inputs(entry, baseline=baseline)[1]
                 for entry in entries if entry.is_dir() and entry.name != "baseline"}
    if not protocols:
        raise ValueError(f"--study {folder}: needs tau=N/ folders, or one folder per protocol holding them")
    return baseline, protocols


def _study_columns(folder: Path) -> dict:
    columns_file = folder / "columns.yaml"
    if not columns_file.exists():
        return {}
    import yaml

    columns = yaml.safe_load(columns_file.read_text()) or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ValueError(f"{columns_file}: expected a mapping of folder name to column, e.g. "
                         f"{{baseline: val_accuracy, 'tau=15': val_acc}}")
    return columns


def study_inputs(folder, baseline=None) -> tuple[str, dict[int, str]]:
    """``(baseline, {τ: path})`` of a study folder: ``baseline/`` and one ``tau=N/`` (or ``tauN/``)
    per measured period; ``columns.yaml`` (``{folder name: column}``) gives a folder its own column
    (``PATH::COLUMN``). Any other entry is an error, so nothing is left out unnoticed. ``baseline``:
    the shared baseline of a protocol's folder in a several-protocol study."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--study {folder}: not a directory")
    columns_file = folder / "columns.yaml"
    columns = _study_columns(folder)

    def item(entry: Path) -> str:
        return f"{entry}::{columns[entry.name]}" if entry.name in columns else str(entry)

    baseline, perturbed, unknown = (None if baseline is None else str(baseline)), {}, []
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

