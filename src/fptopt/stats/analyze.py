"""Baseline + one or more measured frequencies -> the best perturbation period.

:func:`analyze` chains the pieces of docs/theory.md: first passages, the
baseline Kaplan–Meier ``Ψ``, QSS detection, the response of every measured
periodic run, the multi-frequency prediction on the whole grid of periods
(measured values where measured, the renewal closure with the response of
the nearest longer measured period elsewhere, :mod:`fptopt.stats.design`), the
optimum over the whole grid with ``next_tau`` (the frequency to measure next),
bootstrap intervals, the renewal check and optional validation against
measured sweeps. :func:`write_analysis` saves it; :func:`run_analyze` is the
``fptopt analyze`` command line::

    fptopt analyze --baseline PATH --perturbed TAU=PATH [--perturbed TAU=PATH ...] --target X
        [--direction above|below] [--column NAME] [--horizon H] [--trust-ratio R]
        [--taus 5,7,10,...] [--sweep TAU=PATH ...] [--bootstrap B] [--seed S]
        --out DIR
    fptopt analyze --baseline PATH --perturbed PATH --tau-star N ...   (one frequency)

Defaults: ``H`` = the longest recorded baseline trajectory (shorter replicas
are censored at their last epoch); ``taus`` = ``1..H−1`` plus the sweep
periods (every period is cheap to predict).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .design import (
    DEFAULT_TRUST_RATIO,
    Decision,
    DesignSettings,
    MultiFrequencyResult,
    decide,
    multi_frequency,
    renewal_check,
)
from .logs import FORMATS, file_sha256, parse_per_epoch_from, read_trajectories
from .qss import QSSResult, detect_qss
from .survival import DIRECTIONS, SurvivalCurve, first_passage, kaplan_meier
from .theory import Response, response_function
from .validation import Comparison, compare

__all__ = ["AnalysisResult", "analyze", "write_analysis", "add_analyze_arguments",
           "run_analyze", "input_hash"]


@dataclass(frozen=True)
class AnalysisResult:
    """Everything :func:`analyze` measured and predicted.

    ``multi`` holds the restricted MFPT on the whole grid (measured at the
    measured periods, predicted elsewhere, with ``source_tau``/``trusted``,
    and the pooled responses it used); ``response`` is the τ* run's response
    to its first perturbation (with pointwise intervals, for the figure) and
    ``renewal`` the per-cycle check of every measured run; ``tau_star`` is the
    first (or only) measured period given."""

    horizon: int
    tau_star: int
    target: float
    direction: str
    baseline: SurvivalCurve
    qss: QSSResult
    response: Response
    multi: MultiFrequencyResult
    renewal: pd.DataFrame
    validation: dict[int, Comparison] = field(default_factory=dict)
    censored_short: dict[str, int] = field(default_factory=dict)
    decision: Decision | None = None
    replicas: dict[str, int] = field(default_factory=dict)

    @property
    def outside_qss(self) -> np.ndarray:
        t_q = self.qss.t_q
        return self.multi.taus < t_q if t_q is not None else np.zeros(self.multi.taus.size, bool)

    def prediction_table(self) -> pd.DataFrame:
        m = self.multi
        return pd.DataFrame({
            "tau": m.taus, "mfpt": m.mfpt, "mfpt_low": m.mfpt_low, "mfpt_high": m.mfpt_high,
            "predicted": m.predicted, "run_low": m.run_low, "run_high": m.run_high,
            "measured": m.measured, "source_tau": m.source_tau,
            "trusted": m.trusted, "extrapolated": m.extrapolated, "outside_qss": self.outside_qss,
            "horizon": self.horizon})

    def survival_table(self) -> pd.DataFrame:
        curves = self.multi.curves
        return pd.DataFrame({"tau": np.repeat(self.multi.taus, curves.shape[1]),
                             "t": np.tile(np.arange(curves.shape[1]), curves.shape[0]),
                             "sf": curves.ravel(), "measured": np.repeat(self.multi.measured, curves.shape[1])})

    def validation_table(self) -> pd.DataFrame:
        rows = [{"tau": tau, "predicted": c.predicted_mfpt, "predicted_low": c.predicted_low,
                 "predicted_high": c.predicted_high, "measured": c.measured_mfpt,
                 "measured_low": c.measured_low, "measured_high": c.measured_high,
                 "rel_error": c.rel_error, "survival_gap": c.survival_gap,
                 "in_ci": pd.NA if c.in_ci is None else c.in_ci, "horizon": c.horizon}
                for tau, c in sorted(self.validation.items())]
        table = pd.DataFrame(rows)
        if not table.empty:
            table["in_ci"] = table["in_ci"].astype("boolean")
        return table

    def summary(self) -> dict:
        mean = self.baseline.restricted_mean(self.horizon)
        m = self.multi
        boot = m.n_resamples > 0
        return {
            "horizon": self.horizon, "tau_star": self.tau_star, "target": self.target,
            "direction": self.direction,
            "qss": {"found": self.qss.found, "t_q": self.qss.t_q, "hazard": self.qss.hazard,
                    "hazard_low": self.qss.hazard_low, "hazard_high": self.qss.hazard_high,
                    "tolerance": self.qss.tolerance, "lag": self.qss.lag, "message": self.qss.message},
            "baseline_mfpt_restricted": mean.estimate,
            "baseline_mfpt_low": mean.low, "baseline_mfpt_high": mean.high,
            "baseline_sf_at_horizon": float(self.baseline.sf[self.horizon]),
            "sum_phi": self.response.sum_phi, "phi_u_max": self.response.u_max,
            "phi_plateau_hazard": self.response.plateau_hazard,
            "measured_taus": m.measured_taus, "trust_ratio": m.trust_ratio,
            "optimal_tau": m.optimal_tau, "optimal_mfpt": m.optimal_mfpt,
            "optimal_measured": m.optimal_measured, "optimal_trusted": m.optimal_trusted,
            "optimal_tau_low": m.optimal_tau_low if boot else None,
            "optimal_tau_high": m.optimal_tau_high if boot else None,
            "speedup": m.speedup, "speedup_baseline_mfpt": m.baseline_mfpt,
            "speedup_low": m.speedup_low if boot else None,
            "speedup_high": m.speedup_high if boot else None,
            "next_tau": self.decision.tau,
            "next_replicas": self.decision.replicas if self.decision.tau is not None else None,
            "next_reason": self.decision.reason, "settled": self.decision.settled,
            "indifferent_taus": self.decision.indifferent_taus,
            "replicas": dict(self.replicas),
            "renewal_consistent": bool(self.renewal["consistent"].all()) if not self.renewal.empty else None,
            "censored_short_replicas": dict(self.censored_short),
            "bootstrap_resamples": m.n_resamples,
        }

    def headline(self) -> str:
        """One line for people: the answer, whether it was measured, and what to do next."""
        m = self.multi
        how = "measured" if m.optimal_measured else ("predicted, trusted" if m.optimal_trusted
                                                     else "predicted, NOT trusted")
        interval = f" [{m.speedup_low:.2f}, {m.speedup_high:.2f}]" if m.n_resamples else ""
        d = self.decision
        if d.tau is None:
            advice = f"no further experiment needed ({d.reason})"
        else:
            advice = (f"next: train {d.replicas} more replicas at tau = {d.tau} ({d.reason}; "
                      f"--perturbed {d.tau}=PATH with every replica of tau = {d.tau} so far)")
        if m.speedup <= 1:
            advice = "no period is expected to beat unperturbed training within the horizon; " + advice
        return (f"optimal tau = {m.optimal_tau} ({how}), <T ∧ {self.horizon}> = {m.optimal_mfpt:.3g} vs "
                f"{m.baseline_mfpt:.3g} unperturbed, speedup {m.speedup:.2f}{interval}; "
                f"indistinguishable from the best: tau in {d.indifferent_taus}; "
                f"measured taus {m.measured_taus}; {advice}")


def analyze(baseline, perturbed, tau_star: int | None = None, target: float = None, direction: str = "above",
            horizon: int | None = None, taus=None, sweeps=None, bootstrap: int = 0,
            seed: int = 0, confidence_level: float = 0.95, trust_ratio: float = DEFAULT_TRUST_RATIO,
            qss_options: dict | None = None, design: DesignSettings | None = None) -> AnalysisResult:
    """Full analysis of trajectory arrays (replicas x epochs); see module doc.

    ``perturbed`` is either one array measured at period ``tau_star`` or a
    dict ``{τ_m: array}`` of periodic runs (then ``tau_star`` is the first
    key unless given). The optimum is searched over the whole grid: measured
    periods count with their measured MFPT, the others with their prediction
    (flagged ``trusted`` or not, :mod:`fptopt.stats.design`). ``design``
    (default :class:`~fptopt.stats.design.DesignSettings` with ``trust_ratio``)
    decides the next experiment, a period and a replica count, and the
    periods indistinguishable from the best (:func:`~fptopt.stats.design.decide`).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if target is None:
        raise ValueError("target is required")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0 resamples, got {bootstrap}")
    if not isinstance(perturbed, dict):
        if tau_star is None:
            raise ValueError("tau_star is required when perturbed is a single run")
        perturbed = {int(tau_star): perturbed}
    if not perturbed:
        raise ValueError("perturbed must hold at least one run")
    perturbed = {int(tau): np.asarray(values, dtype=float) for tau, values in perturbed.items()}
    tau_star = int(next(iter(perturbed))) if tau_star is None else int(tau_star)
    if tau_star not in perturbed:
        raise ValueError(f"tau_star = {tau_star} is not among the measured periods {sorted(perturbed)}")
    baseline = np.asarray(baseline, dtype=float)
    base_fp = first_passage(baseline, target, direction)
    horizon = base_fp.horizon if horizon is None else int(horizon)
    if not 1 <= horizon <= base_fp.horizon:
        raise ValueError(f"horizon must be in 1..{base_fp.horizon} (baseline epochs), got {horizon}")
    for tau in perturbed:
        if not 1 <= tau < horizon:
            raise ValueError(f"perturbed period tau = {tau} must be in 1..{horizon - 1}: below the "
                             f"horizon H = {horizon}")
    base_fp = base_fp.restrict(horizon)
    if not base_fp.observed.any():
        raise ValueError(f"target {target} ({direction}) is never reached by any of the "
                         f"{base_fp.n_replicas} baseline replicas within {horizon} epochs")
    if np.all(base_fp.observed & (base_fp.times == 1)):
        raise ValueError(f"every one of the {base_fp.n_replicas} baseline replicas meets the target {target} "
                         f"({direction}) at the first epoch: nothing to speed up. Is the target right, and "
                         f"is the direction? (a loss or an error needs --direction below)")
    runs = {}
    for tau, values in perturbed.items():
        fp = first_passage(values, target, direction)
        if fp.horizon < horizon:
            raise ValueError(f"the perturbed run at tau = {tau} has {fp.horizon} epochs, fewer than the "
                             f"horizon {horizon}; pass --horizon {fp.horizon} or a longer run")
        runs[tau] = fp.restrict(horizon)
    sweeps = {} if sweeps is None else {int(k): v for k, v in sweeps.items()}
    taus = _tau_grid(taus, horizon, sweeps)
    censored_short = {"baseline": int(np.count_nonzero(base_fp.last_epoch < horizon))}
    censored_short |= {f"tau{tau}": int(np.count_nonzero(fp.last_epoch < horizon)) for tau, fp in runs.items()}
    qss = detect_qss(baseline[:, :horizon], base_fp, **(qss_options or {}))
    curve = kaplan_meier(base_fp, horizon, confidence_level)
    response = response_function(runs[tau_star], tau_star, confidence_level)
    multi = multi_frequency(base_fp, runs, taus, horizon, trust_ratio, bootstrap, confidence_level, seed)
    renewal = pd.concat([renewal_check(fp, tau, horizon, confidence_level) for tau, fp in sorted(runs.items())],
                        ignore_index=True)
    validation = {}
    for tau, trajectories in sorted(sweeps.items()):
        index = int(np.flatnonzero(multi.taus == tau)[0])
        measured = first_passage(trajectories, target, direction)
        if measured.horizon < horizon:
            raise ValueError(f"sweep tau={tau} has {measured.horizon} epochs, fewer than the "
                             f"horizon {horizon}")
        validation[tau] = compare(multi.curves[index], multi.predicted[index], multi.mfpt_low[index],
                                  multi.mfpt_high[index], measured, horizon, confidence_level)
    design = DesignSettings(trust_ratio=trust_ratio) if design is None else design
    replicas = {"baseline": base_fp.n_replicas} | {f"tau{tau}": fp.n_replicas for tau, fp in sorted(runs.items())}
    return AnalysisResult(horizon, tau_star, float(target), direction, curve, qss, response, multi,
                          renewal, validation, censored_short, decide(multi, runs, design), replicas)


def _tau_grid(taus, horizon: int, sweeps: dict) -> np.ndarray:
    grid = np.arange(1, horizon) if taus is None else np.asarray(list(taus), dtype=int)
    grid = np.union1d(grid, np.fromiter(sweeps, dtype=int, count=len(sweeps)))
    if grid.size == 0 or grid.min() < 1 or grid.max() >= horizon:
        raise ValueError(f"taus (and sweep periods) must lie in 1..{horizon - 1} (below the "
                         f"horizon), got {grid.tolist()[:10]}")
    return grid


def write_analysis(result: AnalysisResult, out_dir=None, inputs_hashes: dict | None = None,
                   extra_summary: dict | None = None, destinations: dict | None = None) -> list[Path]:
    """Write ``prediction.csv``, ``prediction_survival.csv``, ``summary.json`` and
    (with sweeps) ``validation.csv`` into ``out_dir``, or each to the path
    ``destinations[name]`` gives (the pipeline's explicit outputs). Every file
    is rendered in memory, written to a temporary file, then renamed (``os.replace``)."""
    summary = result.summary() | dict(extra_summary or {}) | {"inputs": dict(inputs_hashes or {}),
                                                              "fptopt_version": __version__}
    contents = {"prediction.csv": result.prediction_table().to_csv(index=False),
                "prediction_survival.csv": result.survival_table().to_csv(index=False),
                "summary.json": json.dumps(_jsonable(summary), indent=2) + "\n"}
    if result.validation:
        contents["validation.csv"] = result.validation_table().to_csv(index=False)
    if destinations is None:
        if out_dir is None:
            raise ValueError("write_analysis needs out_dir or destinations")
        destinations = {name: Path(out_dir) / name for name in contents}
    targets = {name: Path(destinations[name]) for name in contents if name in destinations}
    temporary = {}
    try:
        for name, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(handle, "w") as stream:
                stream.write(contents[name])
            os.chmod(temp_name, _FILE_MODE)
            temporary[name] = temp_name
        for name, temp_name in temporary.items():
            os.replace(temp_name, targets[name])
    finally:
        for temp_name in temporary.values():
            if os.path.exists(temp_name):
                os.remove(temp_name)
    return list(targets.values())


_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o644 & ~_UMASK  # what a plain open() would give; mkstemp's 0600 would hide results from others


def replace_directory(out_dir, write) -> None:
    """Write a whole output folder at once: ``write(folder)`` fills a fresh
    hidden folder beside ``out_dir``, which then replaces ``out_dir`` (no stale
    file of an earlier run survives; an interrupted run leaves the old folder)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: exists and is not a directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    old = out_dir.parent / f"{fresh.name}.old"
    try:
        write(fresh)
        fresh.chmod(0o777 & ~_UMASK)
        if out_dir.exists():
            out_dir.rename(old)
        fresh.rename(out_dir)
    finally:
        for leftover in (fresh, old):
            if leftover.exists():
                shutil.rmtree(leftover)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def input_hash(path) -> str:
    """SHA-256 of a file, or of the sorted (name, file hash) list of a directory."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{child.relative_to(path)}\0{input_hash(child)}\n".encode())
    return digest.hexdigest()


def add_analyze_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``fptopt analyze``."""
    parser.add_argument("--baseline", required=True, help="unperturbed logs: CSV directory or long table")
    parser.add_argument("--perturbed", required=True, action="append", metavar="TAU=PATH",
                        help="logs of a periodic run at period TAU (repeatable: one per measured frequency); "
                             "a bare PATH needs --tau-star")
    parser.add_argument("--tau-star", type=int, default=None, help="period of a bare --perturbed PATH")
    parser.add_argument("--trust-ratio", type=float, default=DEFAULT_TRUST_RATIO,
                        help="a response measured at tau_m is trusted down to this fraction of tau_m (default 0.6)")
    parser.add_argument("--target", required=True, type=float, help="threshold theta")
    parser.add_argument("--direction", default="above", help="above (a >= theta) or below (a <= theta)")
    parser.add_argument("--column", default="test_acc", help="observable column in the logs")
    parser.add_argument("--format", default="auto", choices=FORMATS,
                        help="log format (default auto: detected from the files; see fptopt.stats.logs)")
    parser.add_argument("--per-epoch-from", default=None, metavar="steps=N",
                        help="logs indexed by optimizer step: N steps make one epoch")
    parser.add_argument("--horizon", type=int, default=None,
                        help="H (default: the longest baseline run; shorter replicas are censored)")
    parser.add_argument("--taus", default=None, help="comma-separated periods (default 1..H-1)")
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
    parser.add_argument("--min-replicas", type=int, default=30,
                        help="stop when the baseline or a perturbed run has fewer replicas (default 30)")
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
        perturbed_paths = _perturbed_paths(args.perturbed, args.tau_star)
        paths = {"baseline": args.baseline} | {f"perturbed_{tau}": path for tau, path in perturbed_paths.items()} | {
            f"sweep_{tau}": path for tau, path in sweep_paths.items()}
        def read(path):
            return read_trajectories(path, args.column, args.format, per_epoch)[1]

        baseline = read(args.baseline)
        perturbed = {tau: read(path) for tau, path in perturbed_paths.items()}
        sweeps = {tau: read(path) for tau, path in sweep_paths.items()}
        named = {"--baseline " + str(args.baseline): baseline} | {
            f"--perturbed {tau}={path}": perturbed[tau] for tau, path in perturbed_paths.items()}
        _check_replica_counts(named, args.min_replicas)
        design = DesignSettings(initial_replicas=args.block, block=args.block, max_replicas=args.max_replicas,
                                settle_replicas=min(max(args.settle_replicas, args.block), args.max_replicas),
                                tolerance=args.tolerance, confidence=args.confidence,
                                trust_ratio=args.trust_ratio)
        result = analyze(baseline, perturbed, args.tau_star, args.target, args.direction,
                         args.horizon, taus, sweeps, args.bootstrap, args.seed, trust_ratio=args.trust_ratio,
                         design=design)
        hashes = {name: {"path": str(path), "sha256": input_hash(path)} for name, path in paths.items()}

        def write(folder):
            write_analysis(result, folder, hashes)
            if not args.no_figures:
                from ..pipeline.plots import analysis_figures

                analysis_figures(result, baseline, perturbed[result.tau_star], args.column, folder,
                                 ("png", "pdf") if args.pdf else ("png",))

        replace_directory(args.out, write)
    except (ValueError, OSError) as error:
        print(f"fptopt analyze: error: {error}", file=sys.stderr)
        return 2
    print(f"fptopt analyze: wrote {args.out}\n  {result.headline()}\n  {result.qss.message}")
    return 0


def _check_replica_counts(runs: dict, minimum: int) -> None:
    """Too few replicas give a confident-looking answer from noise (one replica
    gives a bootstrap interval of width 0): stop, naming the input."""
    for name, values in runs.items():
        if values.shape[0] < minimum:
            raise ValueError(f"{name}: {values.shape[0]} replicas, fewer than --min-replicas {minimum}: a survival "
                             f"curve and its interval need many seeds (lower --min-replicas to go on anyway)")


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


def _looks_like_tau_path(item: str) -> bool:
    tau, sep, path = item.partition("=")
    return bool(sep) and tau.strip().isdigit() and bool(path) and not Path(item).exists()


def main(argv=None) -> int:
    parser = add_analyze_arguments(argparse.ArgumentParser(prog="fptopt analyze"))
    return run_analyze(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
