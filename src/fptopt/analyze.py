"""Baseline + one perturbation frequency -> prediction at every frequency.

:func:`analyze` chains the pieces of THEORY §1–5: first passages, the baseline
Kaplan–Meier ``Ψ``, QSS detection, the response ``φ`` at ``τ*``, the renewal
prediction for every period ``τ`` (restricted to the horizon ``H``), the
optimal period, optional bootstrap intervals and optional validation against
measured sweeps.  :func:`write_analysis` saves it; :func:`run_analyze` is the
``fptopt analyze`` command line::

    fptopt analyze --baseline PATH --perturbed PATH --tau-star N --target X
        [--direction above|below] [--column NAME] [--horizon H]
        [--taus 5,7,10,...] [--sweep TAU=PATH ...] [--bootstrap B] [--seed S]
        --out DIR

Defaults: ``H`` = the shortest recorded baseline trajectory; ``taus`` =
``1..H−1`` plus the sweep periods (every period is cheap to predict).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .bootstrap import BootstrapResult, bootstrap_prediction
from .logs import read_trajectories
from .provenance import file_sha256
from .qss import QSSResult, detect_qss
from .survival import DIRECTIONS, SurvivalCurve, first_passage, kaplan_meier
from .theory import (OptimalPeriod, PeriodicPrediction, Response, optimal_period,
                     predict_periodic, response_function)
from .validation import Comparison, compare

__all__ = ["AnalysisResult", "analyze", "write_analysis", "add_analyze_arguments",
           "run_analyze", "input_hash"]


@dataclass(frozen=True)
class AnalysisResult:
    horizon: int
    tau_star: int
    target: float
    direction: str
    baseline: SurvivalCurve
    qss: QSSResult
    response: Response
    prediction: PeriodicPrediction
    optimal: OptimalPeriod
    bootstrap: BootstrapResult | None
    validation: dict[int, Comparison] = field(default_factory=dict)

    def prediction_table(self) -> pd.DataFrame:
        nan = np.full(self.prediction.taus.size, np.nan)
        boot = self.bootstrap
        return pd.DataFrame({
            "tau": self.prediction.taus, "mfpt": self.prediction.mfpt,
            "mfpt_low": nan if boot is None else boot.mfpt_low,
            "mfpt_high": nan if boot is None else boot.mfpt_high,
            "extrapolated": self.prediction.extrapolated,
            "outside_qss": self.prediction.outside_qss, "horizon": self.horizon})

    def survival_table(self) -> pd.DataFrame:
        curves = self.prediction.curves
        return pd.DataFrame({"tau": np.repeat(self.prediction.taus, curves.shape[1]),
                             "t": np.tile(np.arange(curves.shape[1]), curves.shape[0]),
                             "sf": curves.ravel()})

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
        boot = self.bootstrap
        return {
            "horizon": self.horizon, "tau_star": self.tau_star, "target": self.target,
            "direction": self.direction,
            "qss": {"found": self.qss.found, "t_q": self.qss.t_q, "hazard": self.qss.hazard,
                    "hazard_low": self.qss.hazard_low, "hazard_high": self.qss.hazard_high,
                    "message": self.qss.message},
            "baseline_mfpt_restricted": mean.estimate,
            "baseline_mfpt_low": mean.low, "baseline_mfpt_high": mean.high,
            "baseline_sf_at_horizon": float(self.baseline.sf[self.horizon]),
            "sum_phi": self.response.sum_phi, "phi_u_max": self.response.u_max,
            "phi_plateau_hazard": self.response.plateau_hazard,
            "optimal_tau": self.optimal.tau, "optimal_mfpt": self.optimal.mfpt,
            "optimal_tau_low": None if boot is None else boot.tau_opt_low,
            "optimal_tau_high": None if boot is None else boot.tau_opt_high,
            "speedup": self.optimal.speedup,
            "speedup_low": None if boot is None else boot.speedup_low,
            "speedup_high": None if boot is None else boot.speedup_high,
            "bootstrap_resamples": 0 if boot is None else boot.n_resamples,
        }


def analyze(baseline, perturbed, tau_star: int, target: float, direction: str = "above",
            horizon: int | None = None, taus=None, sweeps=None, bootstrap: int = 0,
            seed: int = 0, confidence_level: float = 0.95,
            restrict_to_qss: bool = True) -> AnalysisResult:
    """Full analysis of trajectory arrays (replicas x epochs); see module doc.

    With ``restrict_to_qss`` (default) the optimal period is searched only
    among periods τ ≥ t_q, where the theory's assumptions hold (THEORY §4:
    "the admissible grid"); predictions for τ < t_q are still reported,
    flagged ``outside_qss``. Without a detected QSS every τ is admissible.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0 resamples, got {bootstrap}")
    baseline = np.asarray(baseline, dtype=float)
    base_fp = first_passage(baseline, target, direction)
    horizon = int(base_fp.last_epoch.min()) if horizon is None else int(horizon)
    if not 1 <= horizon <= base_fp.horizon:
        raise ValueError(f"horizon must be in 1..{base_fp.horizon} (baseline epochs), got {horizon}")
    if not 1 <= tau_star < horizon:
        raise ValueError(f"tau_star = {tau_star} must be in 1..{horizon - 1}: below the "
                         f"horizon H = {horizon}")
    base_fp = base_fp.restrict(horizon)
    if not base_fp.observed.any():
        raise ValueError(f"target {target} ({direction}) is never reached by any of the "
                         f"{base_fp.n_replicas} baseline replicas within {horizon} epochs")
    pert_fp = first_passage(perturbed, target, direction)
    pert_fp = pert_fp.restrict(min(horizon, pert_fp.horizon))
    sweeps = {} if sweeps is None else {int(k): v for k, v in sweeps.items()}
    taus = _tau_grid(taus, horizon, sweeps)
    qss = detect_qss(baseline[:, :horizon], base_fp)
    curve = kaplan_meier(base_fp, horizon, confidence_level)
    response = response_function(pert_fp, tau_star, confidence_level)
    prediction = predict_periodic(curve.sf, response, taus, horizon, t_q=qss.t_q)
    admissible = None
    if restrict_to_qss and qss.t_q is not None and (taus >= qss.t_q).any():
        admissible = taus >= qss.t_q
    boot = None
    if bootstrap:
        boot = bootstrap_prediction(base_fp, pert_fp, tau_star, taus, horizon, bootstrap,
                                    confidence_level, seed, admissible=admissible)
    validation = {}
    for tau, trajectories in sorted(sweeps.items()):
        index = int(np.flatnonzero(taus == tau)[0])
        low, high = (np.nan, np.nan) if boot is None else (boot.mfpt_low[index], boot.mfpt_high[index])
        measured = first_passage(trajectories, target, direction)
        if measured.horizon < horizon:
            raise ValueError(f"sweep tau={tau} has {measured.horizon} epochs, fewer than the "
                             f"horizon {horizon}")
        validation[tau] = compare(prediction.curves[index], prediction.mfpt[index], low, high,
                                  measured, horizon, confidence_level)
    return AnalysisResult(horizon, int(tau_star), float(target), direction, curve, qss, response,
                          prediction, optimal_period(prediction, admissible), boot, validation)


def _tau_grid(taus, horizon: int, sweeps: dict) -> np.ndarray:
    grid = np.arange(1, horizon) if taus is None else np.asarray(list(taus), dtype=int)
    grid = np.union1d(grid, np.fromiter(sweeps, dtype=int, count=len(sweeps)))
    if grid.size == 0 or grid.min() < 1 or grid.max() >= horizon:
        raise ValueError(f"taus (and sweep periods) must lie in 1..{horizon - 1} (below the "
                         f"horizon), got {grid.tolist()[:10]}")
    return grid


def write_analysis(result: AnalysisResult, out_dir, inputs_hashes: dict | None = None) -> list[Path]:
    """Write ``prediction.csv``, ``prediction_survival.csv``, ``summary.json`` and
    (with sweeps) ``validation.csv`` into ``out_dir``.  Every file is rendered in
    memory, written to a temporary file, then renamed (``os.replace``)."""
    summary = result.summary() | {"inputs": dict(inputs_hashes or {}),
                                  "fptopt_version": __version__}
    contents = {"prediction.csv": result.prediction_table().to_csv(index=False),
                "prediction_survival.csv": result.survival_table().to_csv(index=False),
                "summary.json": json.dumps(_jsonable(summary), indent=2) + "\n"}
    if result.validation:
        contents["validation.csv"] = result.validation_table().to_csv(index=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = {}
    try:
        for name, text in contents.items():
            handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
            with os.fdopen(handle, "w") as stream:
                stream.write(text)
            temporary[name] = temp_name
        for name, temp_name in temporary.items():
            os.replace(temp_name, out_dir / name)
    finally:
        for temp_name in temporary.values():
            if os.path.exists(temp_name):
                os.remove(temp_name)
    return [out_dir / name for name in contents]


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
    parser.add_argument("--perturbed", required=True, help="logs of the single-frequency run at tau*")
    parser.add_argument("--tau-star", required=True, type=int, help="period of the perturbed run")
    parser.add_argument("--target", required=True, type=float, help="threshold theta")
    parser.add_argument("--direction", default="above", help="above (a >= theta) or below (a <= theta)")
    parser.add_argument("--column", default="test_acc", help="observable column in the logs")
    parser.add_argument("--horizon", type=int, default=None, help="H (default: shortest baseline run)")
    parser.add_argument("--taus", default=None, help="comma-separated periods (default 1..H-1)")
    parser.add_argument("--sweep", action="append", default=[], metavar="TAU=PATH",
                        help="measured run at period TAU for validation (repeatable)")
    parser.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG/PDF figures")
    return parser


def run_analyze(args: argparse.Namespace) -> int:
    """Run ``fptopt analyze``; returns 0, or 2 after printing the error (nothing written)."""
    try:
        taus = _parse_taus(args.taus)
        sweep_paths = dict(_parse_sweep(item) for item in args.sweep)
        paths = {"baseline": args.baseline, "perturbed": args.perturbed} | {
            f"sweep_{tau}": path for tau, path in sweep_paths.items()}
        _, baseline = read_trajectories(args.baseline, args.column)
        _, perturbed = read_trajectories(args.perturbed, args.column)
        sweeps = {tau: read_trajectories(path, args.column)[1] for tau, path in sweep_paths.items()}
        result = analyze(baseline, perturbed, args.tau_star, args.target, args.direction,
                         args.horizon, taus, sweeps, args.bootstrap, args.seed)
        hashes = {name: {"path": str(path), "sha256": input_hash(path)} for name, path in paths.items()}
        write_analysis(result, args.out, hashes)
        if not args.no_figures:
            from .plots import analysis_figures

            analysis_figures(result, baseline, perturbed, args.column, args.out)
    except (ValueError, OSError) as error:
        print(f"fptopt analyze: error: {error}", file=sys.stderr)
        return 2
    print(f"fptopt analyze: wrote {args.out} (optimal tau = {result.optimal.tau}, "
          f"predicted speedup {result.optimal.speedup:.2f}; {result.qss.message})")
    return 0


def _parse_taus(text):
    if text is None:
        return None
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError as error:
        raise ValueError(f"--taus must be comma-separated integers, got {text!r}") from error


def _parse_sweep(item: str):
    tau, sep, path = item.partition("=")
    if not sep or not tau.strip().isdigit() or not path:
        raise ValueError(f"--sweep must look like TAU=PATH, got {item!r}")
    return int(tau), path


def main(argv=None) -> int:
    parser = add_analyze_arguments(argparse.ArgumentParser(prog="fptopt analyze"))
    return run_analyze(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
