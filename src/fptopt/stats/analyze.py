"""Baseline + one or more measured frequencies -> the best perturbation period.

:func:`analyze` chains the pieces of docs/theory.md: first passages, the
baseline Kaplan–Meier ``Ψ``, QSS detection, the response of every measured
periodic run, the multi-frequency prediction on the whole grid of periods
(measured values where measured, the renewal closure with the response of
the nearest longer measured period elsewhere, :mod:`fptopt.stats.design`), the
optimum over the whole grid with ``next_tau`` (the frequency to measure next),
bootstrap intervals, the renewal check and optional validation against
measured sweeps. :func:`write_analysis` saves it. The command line around
it (options, reading the logs, figures) is :mod:`fptopt.cli.analyze`::

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

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..storage import jsonable, write_texts
from .design import (
    DEFAULT_TRUST_RATIO,
    Decision,
    DesignSettings,
    MultiFrequencyResult,
    Schedule,
    decide,
    measured_means,
    multi_frequency,
    next_schedule,
    predict_schedules,
    renewal_check,
    renewal_tests,
    schedule_answer,
    schedule_survival,
)
from .design import search_schedules as search_beyond_periods  # a name free for analyze's flag
from .qss import QSSResult, detect_qss
from .survival import DIRECTIONS, SurvivalCurve, first_passage, kaplan_meier
from .theory import Response, response_function
from .validation import Comparison, compare

__all__ = ["AnalysisResult", "analyze", "write_analysis"]


@dataclass(frozen=True)
class AnalysisResult:
    """Everything :func:`analyze` measured and predicted.

    ``multi`` holds the restricted MFPT on the whole grid (measured at the
    measured periods, predicted elsewhere, with ``source_tau``/``trusted``,
    and the pooled responses it used); ``response`` is the τ* run's response
    to its first perturbation (with pointwise intervals, for the figure) and
    ``renewal`` the per-cycle check of every measured run and ``renewal_tests``
    one log-rank test per run (Holm-adjusted across runs); ``tau_star`` is the
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
    renewal_tests: pd.DataFrame
    decision: Decision
    validation: dict[int, Comparison] = field(default_factory=dict)
    censored_short: dict[str, int] = field(default_factory=dict)
    missing_values: dict[str, int] = field(default_factory=dict)
    schedules: pd.DataFrame | None = None  # predict_schedules' table, when schedules were asked for
    schedule_survival: pd.DataFrame | None = None  # and their point survival curves (schedule, t, sf)
    schedule_search: pd.DataFrame | None = None  # two-phase schedules and timers searched (search_schedules)
    measured_schedules: dict = field(default_factory=dict)  # {label: FirstPassage} of runs under schedules
    schedule_answer: dict | None = None  # a measured schedule distinguishably faster than the chosen period
    next_schedule: tuple | None = None  # (Schedule, replicas, reason): the schedule to measure next
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
                 "in_ci": pd.NA if c.in_ci is None else c.in_ci,
                 "agree": pd.NA if c.agree is None else c.agree, "horizon": c.horizon}
                for tau, c in sorted(self.validation.items())]
        table = pd.DataFrame(rows)
        if not table.empty:
            table[["in_ci", "agree"]] = table[["in_ci", "agree"]].astype("boolean")
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
            "optimal_mfpt_low": self._at_optimum(m.mfpt_low) if boot else None,
            "optimal_mfpt_high": self._at_optimum(m.mfpt_high) if boot else None,
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
            "renewal_consistent": self._renewal_consistent(),
            "renewal_tests": [{key: (None if pd.isna(value) else value) for key, value in row.items()}
                              for row in self.renewal_tests.astype(object).to_dict("records")],
            "censored_short_replicas": dict(self.censored_short),
            "missing_values": dict(self.missing_values),
            "bootstrap_resamples": m.n_resamples,
            "beyond_periods": self._beyond_periods(),
            "answer": self.answer(),
            "next_schedule": None if self.next_schedule is None else self.next_schedule[0].label,
            "next_schedule_replicas": None if self.next_schedule is None else self.next_schedule[1],
            "next_schedule_reason": None if self.next_schedule is None else self.next_schedule[2],
        }

    def answer(self) -> dict:
        """What to use: the chosen period, or the measured schedule that is
        distinguishably faster than it (``kind`` says which)."""
        if self.schedule_answer is not None:
            return {"kind": "schedule", "tau": None, **self.schedule_answer,
                    "baseline_mfpt": float(self.multi.baseline_mfpt)}
        return {"kind": "period", "tau": int(self.multi.optimal_tau), "schedule": None,
                "mfpt": float(self.multi.optimal_mfpt)}

    def _beyond_periods(self) -> list | None:
        """The best two-phase schedule and the best timer of the search (None without it)."""
        if self.schedule_search is None:
            return None
        best = self.schedule_search[self.schedule_search["best"]]
        columns = ["kind", "schedule", "first", "tau", "rate", "mfpt", "mfpt_low", "mfpt_high", "trusted",
                   "outside_qss", "source_tau", "better_than_best_period"]
        return [{key: (None if pd.isna(value) else value) for key, value in row.items()}
                for row in best[columns].astype(object).to_dict("records")]

    def _renewal_consistent(self) -> bool | None:
        """Whether no measured run rejects renewal (Holm-adjusted log-rank
        tests, :func:`~fptopt.stats.design.renewal_tests`); None when no run
        has two cycles to compare."""
        verdicts = self.renewal_tests["consistent"].dropna()
        return bool(verdicts.all()) if not verdicts.empty else None

    def _at_optimum(self, values: np.ndarray) -> float:
        return float(values[int(np.flatnonzero(self.multi.taus == self.multi.optimal_tau)[0])])

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


def analyze(baseline, perturbed, *, target: float, tau_star: int | None = None, direction: str = "above",
            horizon: int | None = None, taus=None, sweeps=None, bootstrap: int = 0,
            seed: int = 0, confidence_level: float = 0.95, trust_ratio: float = DEFAULT_TRUST_RATIO,
            qss_options: dict | None = None, design: DesignSettings | None = None,
            schedules=None, search_schedules: bool = False, search_resamples: int | None = None,
            search_when_settled: bool = False, measured_schedules: dict | None = None) -> AnalysisResult:
    """Full analysis of trajectory arrays (replicas x epochs); see module doc.

    ``perturbed`` is either one array measured at period ``tau_star`` or a
    dict ``{τ_m: array}`` of periodic runs (then ``tau_star`` is the first
    key unless given). The optimum is searched over the whole grid: measured
    periods count with their measured MFPT, the others with their prediction
    (flagged ``trusted`` or not, :mod:`fptopt.stats.design`). ``design``
    (default :class:`~fptopt.stats.design.DesignSettings` with ``trust_ratio``)
    decides the next experiment, a period and a replica count, and the
    periods indistinguishable from the best (:func:`~fptopt.stats.design.decide`).
    ``schedules`` (:class:`~fptopt.stats.design.Schedule`: explicit perturbation
    epochs or a Poisson rate) are predicted too (:func:`~fptopt.stats.design.predict_schedules`).
    ``search_schedules`` searches beyond periods with the closure: every
    two-phase schedule (first perturbation after s₁, then every τ of the grid)
    and a Poisson timer at every rate 1/τ of the grid, against the best period
    (:func:`~fptopt.stats.design.search_schedules`; ``result.schedule_search``),
    its best candidates' intervals from ``search_resamples`` resamples (default ``bootstrap``);
    ``search_when_settled`` runs it only once the design asks for no period and is settled.
    Once the periods are settled, the search's schedule worth measuring is
    ``result.next_schedule`` (:func:`~fptopt.stats.design.next_schedule`).
    ``measured_schedules`` (``{label: array}``, labels as ``"10,16,22"`` or
    ``"poisson:0.1"``) are runs trained under such schedules; one that is
    distinguishably faster than the chosen (measured) period is the answer
    (``result.schedule_answer``, :func:`~fptopt.stats.design.schedule_answer`).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
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
    known = base_fp.known_until
    if horizon is not None and not 1 <= int(horizon) <= base_fp.horizon:
        raise ValueError(f"horizon must be in 1..{base_fp.horizon} (baseline epochs), got {horizon}")
    if horizon is not None and int(horizon) > known:
        raise ValueError(f"horizon {horizon}: no baseline replica is observed after epoch {known} (every log ends, "
                         f"or its values turn NaN/inf, by then), so Ψ and ⟨T ∧ H⟩ are unknowable beyond it; "
                         f"pass --horizon {known} or less")
    # The longest baseline run, cut where the last replica still at risk stops being observed.
    horizon = known if horizon is None else int(horizon)
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
        if fp.known_until < horizon:
            raise ValueError(f"the perturbed run at tau = {tau}: no replica is observed after epoch "
                             f"{fp.known_until} (its logs end, or its values turn NaN/inf, by then), fewer than the "
                             f"horizon {horizon}; pass --horizon {fp.known_until} or a longer run")
        runs[tau] = fp.restrict(horizon)
    sweeps = {} if sweeps is None else {int(k): v for k, v in sweeps.items()}
    taus = _tau_grid(taus, horizon, sweeps)
    censored_short = {"baseline": _censored_early(base_fp, horizon)}
    censored_short |= {f"tau{tau}": _censored_early(fp, horizon) for tau, fp in runs.items()}
    gaps = {"baseline": _gaps(baseline, horizon)} | {f"tau{tau}": _gaps(perturbed[tau], horizon) for tau in runs}
    qss = detect_qss(baseline[:, :horizon], base_fp, **(qss_options or {}))
    curve = kaplan_meier(base_fp, horizon, confidence_level)
    response = response_function(runs[tau_star], tau_star, confidence_level)
    multi = multi_frequency(base_fp, runs, taus, horizon, trust_ratio, bootstrap, confidence_level, seed)
    tests = renewal_tests(runs, horizon, confidence_level)
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
    schedule_table = schedule_curves = None
    if schedules:
        schedule_table = predict_schedules(base_fp, runs, schedules, horizon, trust_ratio=trust_ratio,
                                           n_resamples=bootstrap, confidence_level=confidence_level, seed=seed,
                                           t_q=qss.t_q)
        schedule_curves = schedule_survival(base_fp, runs, schedules, horizon)
    decision = decide(multi, runs, design)
    search = None
    if search_schedules or (search_when_settled and decision.tau is None and decision.settled):
        search = search_beyond_periods(base_fp, runs, horizon, taus=multi.taus,
                                       rates=sorted({1.0 / t for t in multi.taus}),
                                       best_period_mfpt=float(multi.optimal_mfpt), t_q=qss.t_q,
                                       trust_ratio=trust_ratio,
                                       n_resamples=bootstrap if search_resamples is None else search_resamples,
                                       confidence_level=confidence_level, seed=seed)
    measured = {}
    for label, values in (measured_schedules or {}).items():
        fp = first_passage(np.asarray(values, dtype=float), target, direction)
        if fp.horizon < horizon:
            raise ValueError(f"the run under schedule {label} has {fp.horizon} epochs, fewer than the horizon "
                             f"{horizon}")
        measured[Schedule.from_label(label).label] = fp.restrict(horizon)
    answer = None
    if measured and multi.optimal_measured:
        period_mfpt, period_se = measured_means({multi.optimal_tau: runs[multi.optimal_tau]}, horizon)[
            multi.optimal_tau]
        answer = schedule_answer(period_mfpt, period_se, measured, horizon, confidence=design.confidence)
    chosen = None
    if search is not None and decision.tau is None and decision.settled:
        chosen = next_schedule(search, measured, design)
    return AnalysisResult(horizon=horizon, tau_star=tau_star, target=float(target), direction=direction,
                          baseline=curve, qss=qss, response=response, multi=multi, renewal=renewal,
                          renewal_tests=tests,
                          decision=decision, validation=validation,
                          censored_short=censored_short, missing_values=gaps, schedules=schedule_table,
                          schedule_survival=schedule_curves, schedule_search=search,
                          replicas=replicas | {f"schedule {label}": fp.n_replicas for label, fp in measured.items()},
                          measured_schedules=measured, schedule_answer=answer, next_schedule=chosen)


def _censored_early(fp, horizon: int) -> int:
    """Replicas that never pass and whose last finite value comes before the horizon
    (a shorter log, or NaN/inf from there on): censored at that last finite epoch."""
    return int(np.count_nonzero(~fp.observed & (fp.times < horizon)))


def _gaps(values: np.ndarray, horizon: int) -> int:
    """NaN/inf cells between a replica's first and last finite epoch within the horizon:
    epochs without a measurement, at which the replica stays at risk and cannot pass."""
    finite = np.isfinite(values[:, :horizon])
    epochs = np.arange(finite.shape[1])
    first = np.where(finite.any(axis=1), np.argmax(finite, axis=1), finite.shape[1])
    last = np.where(finite.any(axis=1), finite.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1), -1)
    inside = (epochs >= first[:, None]) & (epochs <= last[:, None])
    return int(np.count_nonzero(inside & ~finite))


def _tau_grid(taus, horizon: int, sweeps: dict) -> np.ndarray:
    grid = np.arange(1, horizon) if taus is None else np.asarray(list(taus), dtype=int)
    grid = np.union1d(grid, np.fromiter(sweeps, dtype=int, count=len(sweeps)))
    if grid.size == 0 or grid.min() < 1 or grid.max() >= horizon:
        raise ValueError(f"taus (and sweep periods) must lie in 1..{horizon - 1} (below the "
                         f"horizon), got {grid.tolist()[:10]}")
    return grid


def write_analysis(result: AnalysisResult, out_dir=None, *, inputs_hashes: dict | None = None,
                   extra_summary: dict | None = None, destinations: dict | None = None) -> list[Path]:
    """Write ``prediction.csv``, ``prediction_survival.csv``, ``summary.json``,
    (with sweeps) ``validation.csv``, (with schedules) ``schedules.csv`` and
    ``schedules_survival.csv`` and (with the search) ``schedule_search.csv`` into ``out_dir``, or each to the path
    ``destinations[name]`` gives (the pipeline's explicit outputs). Every file
    is rendered in memory first, then all are written together
    (:func:`fptopt.storage.write_texts`)."""
    summary = result.summary() | dict(extra_summary or {}) | {"inputs": dict(inputs_hashes or {}),
                                                              "fptopt_version": __version__}
    contents = {"prediction.csv": result.prediction_table().to_csv(index=False),
                "prediction_survival.csv": result.survival_table().to_csv(index=False),
                "summary.json": json.dumps(jsonable(summary), indent=2) + "\n"}
    if result.validation:
        contents["validation.csv"] = result.validation_table().to_csv(index=False)
    if result.schedules is not None:
        contents["schedules.csv"] = result.schedules.to_csv(index=False)
        contents["schedules_survival.csv"] = result.schedule_survival.to_csv(index=False)
    if result.schedule_search is not None:
        contents["schedule_search.csv"] = result.schedule_search.to_csv(index=False)
    if destinations is None:
        if out_dir is None:
            raise ValueError("write_analysis needs out_dir or destinations")
        destinations = {name: Path(out_dir) / name for name in contents}
    return write_texts({Path(destinations[name]): text for name, text in contents.items() if name in destinations})
