"""More than one frequency: the multi-frequency prediction and the adaptive design.

A periodic run at period ``τ_m`` measures how a network that is perturbed
every ``τ_m`` epochs recovers. Its hazards at each *age* ``u = 1..τ_m`` since
the last perturbation are pooled over every cycle after the first
perturbation (epochs ``t = nτ_m + u``, ``n >= 1``)::

    h_m(u) = Σ_n d(nτ_m + u) / Σ_n r(nτ_m + u),     φ_m(u) = Π_{v<=u} (1 − h_m(v)),

with ``d`` the first passages and ``r`` the replicas at risk (Kaplan–Meier
counts). Ages past ``u_max = min(τ_m, H − τ_m)`` are never observed; there
``φ_m`` is continued with the plateau hazard of its second half (as in
:mod:`fptopt.stats.theory`). The renewal closure with ``φ_m`` predicts any period ``τ``::

    Ψ_τ(t) = Ψ(t) for t <= τ,    Ψ_τ(nτ + u) = Ψ(τ) φ_m(τ)^{n−1} φ_m(u).

**The unperturbed survival** ``Ψ`` pools the baseline with epochs
``1..τ_m`` of every measured run, which are unperturbed training too (their
replicas leave the risk set at ``τ_m``, like administrative censoring): on
the default, 200 baseline replicas alone put ``Ψ(15)`` at 0.425 where 18,000
first cycles give 0.474, and every prediction inherits that error.

**Which response predicts which period** (``source_tau``): the shortest
measured period ``τ_m >= τ``, so that ``φ_m`` is measured at every age the
prediction needs; above the longest measured period, the longest one
(``extrapolated``: ages past ``τ_m`` use the continuation). A response
predicts nearby *shorter* periods well and says little far below them
(docs/theory.md, "The adaptive design"), hence:

* ``trusted``: measured, or ``trust_ratio · τ_m <= τ <= τ_m`` from a response
  that could be measured (default ``trust_ratio = 0.6``);
* measured periods report their **measured** restricted MFPT (Kaplan–Meier),
  never a prediction; the optimum is the argmin over measured and predicted
  values on the whole grid.

**The next frequency to measure** (:func:`next_period`): nothing when no
period is expected to beat unperturbed training; otherwise the optimum itself
when it is not measured yet; when it is measured and is the shortest
measured period while shorter periods are untrusted, an exploration at half
of it (the untrusted period closest to ``τ_o / 2``), because a response says
little far below its own period and a greedy "measure the predicted optimum"
loop stalls there; otherwise ``None`` (the optimum is measured and no
untrusted prediction could beat it). Before the design stops for good
(:func:`decide`), it also measures below the shortest measured period while
shorter periods are untrusted (:func:`unknown_below`), unless that period is
already distinguishably slower than unperturbed training.

Every quantity has a percentile bootstrap interval: baseline and every
measured run are resampled independently (multinomial weights on replicas),
and each resample is recomputed from its weighted counts in chunks, without a
Python loop over resamples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .survival import (
    FirstPassage,
    holm,
    logrank_counts,
    plateau_hazard,
    restricted_mean_standard_error,
    survival_matrix,
    weighted_counts,
)
from .theory import extend_response, periodic_survival, predict_poisson, predict_schedule

__all__ = ["MultiFrequencyResult", "pooled_response", "pooled_response_counts", "multi_frequency", "run_interval",
           "next_period", "renewal_check", "renewal_test", "renewal_tests", "RenewalTest",
           "replay_design", "DesignSettings", "Decision", "decide",
           "measured_means", "replica_epochs", "DEFAULT_TRUST_RATIO", "predict_schedules",
           "schedule_survival", "Schedule", "SCHEDULE_COLUMNS", "two_phase", "search_schedules",
           "next_schedule", "schedule_answer", "unknown_below", "grid_regret", "GridRegret"]

DEFAULT_TRUST_RATIO = 0.6


@dataclass(frozen=True)
class MultiFrequencyResult:
    """Restricted MFPT ``⟨T_τ ∧ H⟩`` on the grid ``taus``: measured where a run
    at ``τ`` exists, predicted from the response of ``source_tau`` elsewhere.

    ``predicted[i]`` is the closure's value even at measured periods (their
    own response), ``mfpt[i]`` the value that counts (measured where
    ``measured[i]``); ``mfpt_low/high`` its percentile bootstrap interval (NaN
    without bootstrap). ``curves[i]`` is ``Ψ_τ(t)``, ``t = 0..H`` (measured
    Kaplan–Meier curve at measured periods). ``unperturbed`` is the pooled
    unperturbed ``Ψ(t)`` and ``responses[τ_m]`` the continued pooled ``φ_m(u)``
    the closure used."""

    taus: np.ndarray
    mfpt: np.ndarray
    mfpt_low: np.ndarray
    mfpt_high: np.ndarray
    predicted: np.ndarray
    curves: np.ndarray
    measured: np.ndarray
    source_tau: np.ndarray
    trusted: np.ndarray
    extrapolated: np.ndarray
    horizon: int
    baseline_mfpt: float
    baseline_mfpt_low: float
    baseline_mfpt_high: float
    optimal_tau: int
    optimal_mfpt: float
    optimal_tau_low: float
    optimal_tau_high: float
    speedup: float
    speedup_low: float
    speedup_high: float
    trust_ratio: float
    n_resamples: int
    confidence_level: float
    unperturbed: np.ndarray | None = None
    responses: dict | None = None
    run_low: np.ndarray | None = None
    run_high: np.ndarray | None = None
    run_replicas: int | None = None
    baseline_standard_error: float = float("nan")  # Greenwood, of the pooled baseline's ⟨T ∧ H⟩

    def run_interval(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the measured ⟨T_τ ∧ H⟩ of a new run of ``run_replicas`` replicas
        at τ is expected to fall (:func:`run_interval`)."""
        return self.run_low, self.run_high

    @property
    def measured_taus(self) -> list[int]:
        return [int(t) for t in self.taus[self.measured]]

    @property
    def optimal_trusted(self) -> bool:
        return bool(self.trusted[self._index(self.optimal_tau)])

    @property
    def optimal_measured(self) -> bool:
        return bool(self.measured[self._index(self.optimal_tau)])

    @property
    def next_tau(self) -> int | None:
        return next_period(self.taus, self.mfpt, self.measured, self.trusted, self.baseline_mfpt)

    def confidence_interval(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mfpt_low, self.mfpt_high

    def _index(self, tau: int) -> int:
        return int(np.flatnonzero(self.taus == tau)[0])


def pooled_response_counts(n_events, n_at_risk, tau_m: int, horizon: int):
    """``(φ_m, k_φ)`` from Kaplan–Meier counts ``(..., >=H+1)`` of a run at
    period ``tau_m`` (module doc): ``φ_m`` on ages ``0..u_max`` (NaN where nobody
    was at risk at age 1) and the plateau hazard on ages ``⌈u_max/2⌉+1..u_max``."""
    tau_m, horizon = int(tau_m), int(horizon)
    if not 1 <= tau_m < horizon:
        raise ValueError(f"tau_m must be in 1..{horizon - 1} (below the horizon), got {tau_m}")
    u_max = min(tau_m, horizon - tau_m)
    by_cycle = _by_cycle((n_events, n_at_risk), tau_m, horizon, u_max)
    # age 0 (index 0) is never an event epoch: zero counts, as survival_matrix expects
    d, r = (np.concatenate([np.zeros(a.shape[:-2] + (1,)), a.sum(axis=-1)], axis=-1) for a in by_cycle)
    phi = survival_matrix(d, r)
    phi = np.where(r[..., 1:2] > 0, phi, np.nan)
    first = min(math.ceil(u_max / 2) + 1, u_max)
    k, _, _ = plateau_hazard(d, r, first, u_max)
    return phi, np.nan_to_num(k)


def _by_cycle(counts, tau_m: int, horizon: int, ages: int):
    """Each array of ``counts`` (``(..., H+1)`` by epoch) at epoch ``nτ_m + u``, as
    ``(..., ages, cycles)`` arrays for ages ``u = 1..ages`` and cycles ``n >= 1``;
    0 past the horizon."""
    cycles = np.arange(1, horizon // tau_m + 1)
    epochs = cycles[None, :] * tau_m + np.arange(1, ages + 1)[:, None]      # (ages, cycles)
    inside = epochs <= horizon
    index = np.where(inside, epochs, 0)
    return [np.where(inside, np.asarray(a, dtype=float)[..., index], 0.0) for a in counts]


def pooled_response(fp: FirstPassage, tau_m: int, horizon: int | None = None):
    """``(φ_m, k_φ)`` of one run (unit weights); see :func:`pooled_response_counts`.

    Examples
    --------
    Four replicas of a run perturbed every 10 epochs pass at epochs 3, 12 and
    25 or are censored at 40. Age 2 pools epochs 12, 22 and 32 (1 passage
    among 3 + 2 + 1 at risk), age 5 pools epochs 15, 25 and 35 (1 among
    2 + 2 + 1); the first cycle (epoch 3) is unperturbed and not pooled:

    >>> import numpy as np
    >>> from fptopt.stats.survival import FirstPassage
    >>> fp = FirstPassage(np.array([3, 12, 25, 40]), np.array([True, True, True, False]),
    ...                   np.full(4, 40), 40, 1.0, "above")
    >>> phi, k = pooled_response(fp, 10)
    >>> phi.round(3).tolist()
    [1.0, 1.0, 0.833, 0.833, 0.833, 0.667, 0.667, 0.667, 0.667, 0.667, 0.667]
    """
    horizon = fp.horizon if horizon is None else int(horizon)
    d, r = weighted_counts(fp, np.ones((1, fp.n_replicas)), horizon)
    phi, k = pooled_response_counts(d[0], r[0], tau_m, horizon)
    return phi, float(k)


def multi_frequency(baseline: FirstPassage, runs: dict, taus, horizon: int,
                    trust_ratio: float = DEFAULT_TRUST_RATIO, n_resamples: int = 0,
                    confidence_level: float = 0.95, seed=None, chunk_size: int = 50) -> MultiFrequencyResult:
    """Measured and predicted ``⟨T_τ ∧ H⟩`` on the grid ``taus`` (module doc).

    Parameters
    ----------
    baseline : FirstPassage
        Unperturbed replicas.
    runs : dict
        ``{τ_m: FirstPassage}`` of the periodic runs measured so far (at least one).
    taus : array_like of int
        Periods to report, in ``1..H−1``; the measured periods are added.
    horizon : int
        ``H``: every MFPT is restricted to it.
    trust_ratio : float
        A prediction from ``τ_m`` is trusted down to ``trust_ratio · τ_m``.
    n_resamples : int
        Bootstrap resamples (0: no intervals).

    Returns
    -------
    MultiFrequencyResult

    References
    ----------
    docs/theory.md, "The adaptive design"; Efron & Tibshirani (1993), *An
    Introduction to the Bootstrap*, ch. 13 (percentile intervals).
    """
    horizon = int(horizon)
    if not runs:
        raise ValueError("runs must hold at least one measured period {tau: FirstPassage}")
    if not 0 < trust_ratio <= 1:
        raise ValueError(f"trust_ratio must be in (0, 1], got {trust_ratio}")
    if n_resamples < 0:
        raise ValueError(f"n_resamples must be >= 0, got {n_resamples}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    measured_taus = np.array(sorted(int(t) for t in runs), dtype=int)
    for tau_m in measured_taus:
        if not 1 <= tau_m < horizon:
            raise ValueError(f"measured period {tau_m} must lie in 1..{horizon - 1} (below the horizon)")
        if runs[tau_m].horizon < horizon:
            raise ValueError(f"the run at tau = {tau_m} covers {runs[tau_m].horizon} epochs, fewer than the "
                             f"horizon {horizon}: its measured MFPT and response would be cut short")
    grid = np.union1d(np.asarray(list(taus), dtype=int), measured_taus)
    if grid.min() < 1 or grid.max() >= horizon:
        raise ValueError(f"taus must lie in 1..{horizon - 1} (below the horizon), got {grid.min()}..{grid.max()}")
    sources = _sources(grid, measured_taus)
    measured = np.isin(grid, measured_taus)
    extrapolated = grid > sources
    point = _evaluate(baseline, runs, grid, sources, measured, horizon, None)
    valid_source = {int(t): bool(np.isfinite(point["phi_start"][int(t)])) for t in measured_taus}
    trusted = measured | ((grid >= trust_ratio * sources) & ~extrapolated
                          & np.array([valid_source[int(s)] for s in sources]))
    value = np.where(measured, point["measured"], point["predicted"])[0]
    best = _argmin(value)
    low = high = np.full(grid.size, np.nan)
    interval = dict.fromkeys(("baseline", "tau", "speedup"), (np.nan, np.nan))
    if n_resamples:
        samples, base_samples = _bootstrap(baseline, runs, grid, sources, measured, horizon, n_resamples,
                                           seed, chunk_size)
        q = 100 * np.array([(1 - confidence_level) / 2, (1 + confidence_level) / 2])
        with np.errstate(invalid="ignore"):
            low, high = np.nanpercentile(samples, q, axis=0)
        finite = np.isfinite(samples).any(axis=1)
        best_b = np.array([_argmin(row) for row in samples[finite]])
        interval = {"baseline": tuple(np.percentile(base_samples, q)),
                    "tau": tuple(np.percentile(grid[best_b], q)) if best_b.size else (np.nan, np.nan),
                    "speedup": tuple(np.percentile(base_samples[finite] / samples[finite, best_b]
                                                   if best_b.size else [np.nan], q))}
    baseline_mfpt = float(point["baseline"][0])
    curves = np.where(measured[:, None], point["measured_curves"][0], point["curves"][0])
    run_replicas = int(np.median([fp.n_replicas for fp in runs.values()]))
    run_low, run_high = run_interval(point["predicted"][0], point["curves"][0], low, high, run_replicas,
                                     horizon, confidence_level)
    return MultiFrequencyResult(
        grid, value, low, high, point["predicted"][0], curves, measured, sources, trusted, extrapolated,
        horizon, baseline_mfpt, *map(float, interval["baseline"]), int(grid[best]), float(value[best]),
        *map(float, interval["tau"]), baseline_mfpt / float(value[best]), *map(float, interval["speedup"]),
        float(trust_ratio), int(n_resamples), float(confidence_level), point["psi"][0],
        {tau: phi[0] for tau, phi in point["responses"].items()}, run_low, run_high, run_replicas,
        float(point["baseline_se"]))


def run_interval(predicted, curves, low, high, replicas: int, horizon: int, confidence_level: float = 0.95):
    """Prediction interval for the restricted MFPT a new run of ``replicas``
    replicas at τ would measure: the prediction's own uncertainty (its
    bootstrap interval, as a normal standard error) plus the sampling noise of
    a restricted mean from ``replicas`` replicas whose survival is the
    predicted ``Ψ_τ``::

        Var(T ∧ H) = Σ_{t<H} (2t + 1) Ψ_τ(t) − (Σ_{t<H} Ψ_τ(t))²,
        half-width = z · sqrt(se_pred² + Var(T ∧ H) / replicas)

    (``E[(T∧H)²] = Σ_{t<H} (2t+1) P(T > t)``). This, not the prediction's
    interval, is what a measurement at τ should be compared with.
    NaN where the prediction has no bootstrap interval."""
    from scipy import special

    curves = np.asarray(curves, dtype=float)[..., :horizon]
    t = np.arange(horizon)
    mean = curves.sum(axis=-1)
    variance = np.maximum((curves * (2 * t + 1)).sum(axis=-1) - mean ** 2, 0.0)
    z = special.ndtri(0.5 + confidence_level / 2)
    se_prediction = (np.asarray(high) - np.asarray(low)) / (2 * z)
    half = z * np.sqrt(se_prediction ** 2 + variance / replicas)
    return np.asarray(predicted) - half, np.asarray(predicted) + half


def _sources(grid: np.ndarray, measured_taus: np.ndarray) -> np.ndarray:
    """The shortest measured period >= τ, else the longest measured one."""
    position = np.searchsorted(measured_taus, grid, side="left")
    return measured_taus[np.minimum(position, measured_taus.size - 1)]


def _argmin(values: np.ndarray) -> int:
    finite = np.where(np.isfinite(values), values, np.inf)
    return int(np.argmin(finite))


def _evaluate(baseline, runs, grid, sources, measured, horizon, weights):
    """Baseline MFPT, measured and predicted MFPTs (and curves) for a batch of
    replica weights (``None``: one batch of unit weights)."""
    def counts(fp, w):
        return weighted_counts(fp, np.ones((1, fp.n_replicas)) if w is None else w, horizon)

    run_counts = {int(tau_m): counts(fp, None if weights is None else weights[int(tau_m)])
                  for tau_m, fp in runs.items()}
    d, r = counts(baseline, None if weights is None else weights["baseline"])
    # Epochs 1..τ_m of a periodic run are unperturbed training: they join the
    # baseline's Kaplan–Meier counts (those replicas leave the risk set at τ_m).
    epochs = np.arange(horizon + 1)
    for tau_m, (d_m, r_m) in run_counts.items():
        before = epochs <= tau_m
        d, r = d + np.where(before, d_m, 0.0), r + np.where(before, r_m, 0.0)
    psi = survival_matrix(d, r)
    batch = psi.shape[0]
    predicted_curves = np.full((batch, grid.size, horizon + 1), np.nan)
    measured_curves = np.full((batch, grid.size, horizon + 1), np.nan)
    phi_start, responses = {}, {}
    length = max(int(grid.max()), horizon)
    for tau_m, (d_m, r_m) in run_counts.items():
        phi, k = pooled_response_counts(d_m, r_m, tau_m, horizon)
        phi_start[tau_m] = phi[0, 1] if weights is None else np.nan
        responses[tau_m] = extend_response(phi, k, length)
        served = np.flatnonzero(sources == tau_m)
        predicted_curves[:, served] = periodic_survival(psi, responses[tau_m], grid[served], horizon)
        measured_curves[:, grid == tau_m] = survival_matrix(d_m, r_m)[:, None, :]
    baseline_se = (restricted_mean_standard_error(psi[0], d[0], r[0], horizon) if weights is None else np.nan)
    return {"baseline": psi[:, :horizon].sum(axis=-1), "baseline_se": baseline_se,
            "predicted": predicted_curves[..., :horizon].sum(axis=-1),
            "measured": np.where(measured, measured_curves[..., :horizon].sum(axis=-1), np.nan),
            "curves": predicted_curves, "measured_curves": measured_curves, "phi_start": phi_start,
            "psi": psi, "responses": responses}


def _resampled_weights(baseline, runs, n_resamples, seed, chunk_size):
    """``(start, size, weights)`` chunks of multinomial bootstrap weights per input. One
    stream per input, so that the resamples do not depend on the chunk size."""
    ordered = sorted(runs)
    streams = np.random.default_rng(seed).spawn(1 + len(ordered))
    for start in range(0, n_resamples, chunk_size):
        size = min(chunk_size, n_resamples - start)
        weights = {"baseline": _multinomial(streams[0], baseline.n_replicas, size)}
        weights |= {int(t): _multinomial(stream, runs[t].n_replicas, size)
                    for t, stream in zip(ordered, streams[1:], strict=True)}
        yield start, size, weights


def _bootstrap(baseline, runs, grid, sources, measured, horizon, n_resamples, seed, chunk_size):
    samples = np.empty((n_resamples, grid.size))
    base_samples = np.empty(n_resamples)
    for start, size, weights in _resampled_weights(baseline, runs, n_resamples, seed, chunk_size):
        values = _evaluate(baseline, runs, grid, sources, measured, horizon, weights)
        samples[start: start + size] = np.where(measured, values["measured"], values["predicted"])
        base_samples[start: start + size] = values["baseline"]
    return samples, base_samples


def _multinomial(rng, n: int, size: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)


def next_period(taus, mfpt, measured, trusted, baseline_mfpt: float = np.inf) -> int | None:
    """The one period whose measurement would most change or confirm the answer
    (module doc): the unmeasured optimum; else, when the optimum is the
    shortest measured period and shorter periods are untrusted, the untrusted
    period closest to half of it; else ``None``. Also ``None`` when no period,
    measured or predicted, beats ``baseline_mfpt``: perturbing is not expected
    to help, and a period that barely acts before the horizon is no experiment."""
    taus = np.asarray(taus, dtype=int)
    measured = np.asarray(measured, dtype=bool)
    trusted = np.asarray(trusted, dtype=bool)
    values = np.asarray(mfpt, dtype=float)
    best = _argmin(values)
    if not values[best] < baseline_mfpt:
        return None
    optimum = int(taus[best])
    if not measured[best]:
        return optimum
    if optimum != int(taus[measured].min()):
        return None
    return _untrusted_near_half(taus, trusted, optimum)


def _untrusted_near_half(taus: np.ndarray, trusted: np.ndarray, shortest: int) -> int | None:
    """The untrusted period below ``shortest`` (the shortest measured one, so
    nothing below it is measured) closest to half of it, else ``None``."""
    below = (taus < shortest) & ~trusted
    if not below.any():
        return None
    candidates = taus[below]
    return int(candidates[np.argmin(np.abs(candidates - shortest / 2))])


def renewal_check(fp: FirstPassage, tau_m: int, horizon: int | None = None,
                  confidence_level: float = 0.95):
    """Does the response depend on which perturbation it follows? For every
    cycle ``n >= 1`` of a run at period ``τ_m`` (epochs ``nτ_m+1 .. (n+1)τ_m``):
    the replicas at risk when it starts, the probability to survive the whole
    cycle ``φ_n = Π_u (1 − d/r)`` with a Greenwood normal interval, and the
    pooled value over all cycles. The renewal assumption of the closure holds
    when every cycle's interval covers the pooled value.

    Returns a :class:`pandas.DataFrame` (one row per cycle: cycle, first_epoch,
    n_at_risk, cycle_survival, low, high, pooled, consistent).
    """
    import pandas as pd
    from scipy import special

    horizon = fp.horizon if horizon is None else int(horizon)
    tau_m = int(tau_m)
    if not 1 <= tau_m < horizon:
        raise ValueError(f"tau_m must be in 1..{horizon - 1}, got {tau_m}")
    d, r = (a[0] for a in weighted_counts(fp, np.ones((1, fp.n_replicas)), horizon))
    z = special.ndtri(0.5 + confidence_level / 2)
    phi, _ = pooled_response_counts(d, r, tau_m, horizon)
    u_max = min(tau_m, horizon - tau_m)
    pooled = float(phi[u_max])
    rows = []
    for cycle in range(1, horizon // tau_m + 1):
        epochs = np.arange(cycle * tau_m + 1, min((cycle + 1) * tau_m, horizon) + 1)
        if epochs.size < u_max or r[epochs[0]] == 0:
            continue
        epochs = epochs[:u_max]
        dd, rr = d[epochs], r[epochs]
        with np.errstate(divide="ignore", invalid="ignore"):
            survival = float(np.prod(1 - np.where(rr > 0, dd / rr, 0)))
            variance = survival ** 2 * np.sum(np.where(rr > dd, dd / (rr * (rr - dd)), 0))
        half = z * math.sqrt(variance)
        low, high = max(0.0, survival - half), min(1.0, survival + half)
        rows.append({"tau": tau_m, "cycle": cycle, "first_epoch": int(epochs[0]), "n_at_risk": float(rr[0]),
                     "cycle_survival": survival, "low": low, "high": high, "pooled": pooled,
                     "consistent": bool(low <= pooled <= high)})
    return pd.DataFrame(rows, columns=["tau", "cycle", "first_epoch", "n_at_risk", "cycle_survival", "low",
                                       "high", "pooled", "consistent"])


@dataclass(frozen=True)
class RenewalTest:
    """One run's renewal test (:func:`renewal_test`): ``cycles`` compared,
    the log-rank ``statistic`` with ``df`` degrees of freedom and its ``pvalue``."""

    tau: int
    cycles: int
    statistic: float
    df: int
    pvalue: float


def renewal_test(fp: FirstPassage, tau_m: int, horizon: int | None = None) -> RenewalTest:
    """One test of the closure's renewal assumption for a run at period ``τ_m``:
    do the cycles after the 1st, 2nd, … perturbation share one hazard by age
    since the perturbation? The cycles are the groups of a K-sample log-rank
    test on age (:func:`fptopt.stats.survival.logrank_counts`): cycle ``n``
    holds, at age ``u``, the passages and replicas at risk at epoch ``nτ_m + u``
    (``u = 1..τ_m``, epochs up to ``H``). A replica that survives a cycle enters
    the next one, a delayed entry the log-rank test allows: under renewal its
    contributions to different cycles are uncorrelated martingale increments.

    Unlike :func:`renewal_check`, which sets every cycle's interval against a
    pooled value that contains it, one statistic answers for the whole run, so
    its p-value means what it says.

    Examples
    --------
    A run at period 10 whose replicas pass at a rate that halves after the
    second perturbation is not a renewal process:

    >>> import numpy as np
    >>> from fptopt.stats.survival import FirstPassage
    >>> rng = np.random.default_rng(0)
    >>> t = rng.geometric(0.02, 4000) + 10          # nobody passes before the first perturbation
    >>> t = np.where(t > 20, 20 + rng.geometric(0.01, t.size), t)
    >>> fp = FirstPassage(np.minimum(t, 60), t <= 60, np.full(t.size, 60), 60, 1.0, "above")
    >>> renewal_test(fp, 10).pvalue < 1e-6
    True
    """
    horizon = fp.horizon if horizon is None else int(horizon)
    tau_m = int(tau_m)
    if not 1 <= tau_m < horizon:
        raise ValueError(f"tau_m must be in 1..{horizon - 1}, got {tau_m}")
    d, r = _by_cycle((a[0] for a in weighted_counts(fp, np.ones((1, fp.n_replicas)), horizon)), tau_m, horizon,
                     tau_m)
    result = logrank_counts(d, r)
    started = int(np.sum(r.sum(axis=0) > 0))
    return RenewalTest(tau_m, started, result.statistic, result.df, result.pvalue)


def renewal_tests(runs: dict, horizon: int, confidence_level: float = 0.95):
    """:func:`renewal_test` of every measured run, with Holm-adjusted p-values
    across the runs (:func:`fptopt.stats.survival.holm`) and ``consistent``
    (adjusted p-value at least ``1 − confidence_level``; None when a run has
    fewer than two cycles with anyone at risk). Returns a
    :class:`pandas.DataFrame`: ``tau, cycles, statistic, df, p_value, p_holm, consistent``."""
    import pandas as pd

    tests = [renewal_test(fp, tau, horizon) for tau, fp in sorted(runs.items())]
    adjusted = holm([t.pvalue for t in tests])
    alpha = 1 - confidence_level
    return pd.DataFrame([{"tau": t.tau, "cycles": t.cycles, "statistic": t.statistic, "df": t.df,
                          "p_value": t.pvalue, "p_holm": float(a),
                          "consistent": None if not np.isfinite(a) else bool(a >= alpha)}
                         for t, a in zip(tests, adjusted, strict=True)],
                        columns=["tau", "cycles", "statistic", "df", "p_value", "p_holm", "consistent"])


@dataclass(frozen=True)
class DesignSettings:
    """How the adaptive design spends replicas (docs/theory.md, "Replicas
    where the decision is uncertain").

    ``initial_replicas``: replicas of the baseline, of τ* and of every newly
    measured period; ``block``: replicas a round adds to an already measured
    period; ``max_replicas``: the most any one period gets; ``rounds``: the
    most rounds after baseline + τ*; ``tolerance``: the relative regret the
    answer may carry; ``confidence``: the one-sided confidence with which no
    measured period may beat the choice by more than ``tolerance`` once the
    design stops, and with which the indifferent set is drawn."""

    initial_replicas: int = 50
    block: int = 50
    max_replicas: int = 200
    settle_replicas: int = 200
    rounds: int = 12
    tolerance: float = 0.1
    confidence: float = 0.9
    trust_ratio: float = DEFAULT_TRUST_RATIO
    # Before stopping, measure the untrusted periods below the shortest measured one
    # (:func:`unknown_below`): an untrusted prediction is no evidence (adaptive.explore_below).
    explore_below: bool = True

    def __post_init__(self):
        for name in ("initial_replicas", "block", "max_replicas"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.initial_replicas <= self.settle_replicas <= self.max_replicas:
            raise ValueError(f"settle_replicas ({self.settle_replicas}) must lie between initial_replicas "
                             f"({self.initial_replicas}) and max_replicas ({self.max_replicas})")
        if self.max_replicas < self.initial_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) must be >= initial_replicas "
                             f"({self.initial_replicas})")
        if self.rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {self.rounds}")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence}")


@dataclass(frozen=True)
class Decision:
    """What the design does next: ``tau`` and ``replicas`` (None when the
    answer is settled or nothing helps), why (``reason``), and the periods
    indistinguishable from the best (``indifferent_taus``)."""

    tau: int | None
    replicas: int
    reason: str
    settled: bool
    indifferent_taus: list


def measured_means(runs: dict, horizon: int) -> dict:
    """``{τ: (⟨T_τ ∧ H⟩, its standard error)}`` of every measured run (Kaplan–Meier, Greenwood)."""
    from .survival import kaplan_meier

    out = {}
    for tau, fp in runs.items():
        mean = kaplan_meier(fp, horizon).restricted_mean(horizon)
        out[int(tau)] = (mean.estimate, mean.standard_error)
    return out


def decide(result: MultiFrequencyResult, runs: dict, settings: DesignSettings = DesignSettings()) -> Decision:
    """The next experiment of the adaptive design (module doc and docs/theory.md):

    1. the next *period* when :func:`next_period` names one (the unmeasured
       optimum, or an exploration below it), with ``initial_replicas``;
    2. otherwise a *block of replicas* for the measured period that most
       plausibly beats the choice ``c`` by more than the tolerance: for every
       other measured τ the one-sided upper bound of the regret of ``c``
       against τ, ``(m_c − m_τ) + z·sqrt(se_c² + se_τ²) − tol·m_τ``; the
       largest positive one is the threat, and the block goes to whichever of
       ``c`` and that τ has the larger standard error (and room below
       ``max_replicas``);
    3. otherwise ``None``: settled (no threat left) or nothing left to add;
       but before any ``None`` (also "nothing helps"), an untrusted period
       below the shortest measured one (:func:`unknown_below`), with
       ``initial_replicas``, while ``explore_below`` is on.

    ``indifferent_taus``: the measured periods whose difference from ``c`` is
    within ``z`` standard errors (not distinguishably worse), plus the trusted
    predicted periods whose prediction is below ``m_c + z·se_c``, and ``c``
    itself (also when it is an unmeasured prediction)."""
    from scipy import special

    z = float(special.ndtri(settings.confidence))
    horizon = result.horizon
    means = measured_means(runs, horizon)
    chosen = result.optimal_tau
    m_c, se_c = means.get(chosen, (result.optimal_mfpt, 0.0))
    indifferent = []
    for tau, value, measured, trusted in zip(result.taus, result.mfpt, result.measured, result.trusted,
                                             strict=True):
        tau = int(tau)
        if measured:
            m, se = means[tau]
            if m - m_c <= z * math.hypot(se, se_c):
                indifferent.append(tau)
        elif tau == chosen or (trusted and value <= m_c + z * se_c):
            indifferent.append(tau)
    next_tau = result.next_tau
    if next_tau is not None:
        reason = "unmeasured optimum" if next_tau == chosen else "explore below the shortest measured period"
        return Decision(int(next_tau), settings.initial_replicas, reason, False, indifferent)
    if not result.optimal_measured or not np.isfinite(m_c) or not result.optimal_mfpt < result.baseline_mfpt:
        return _unless_unknown_below(result, means, z, settings, Decision(
            None, 0, "no period is expected to beat unperturbed training", True, indifferent))
    threats = {}
    for tau, (m, se) in means.items():
        if tau != chosen:
            threat = (m_c - m) + z * math.hypot(se, se_c) - settings.tolerance * m
            if threat > 0:
                threats[tau] = threat
    room = {tau: settings.max_replicas - runs[tau].n_replicas for tau in means}
    short = settings.settle_replicas - runs[chosen].n_replicas
    if short > 0:
        return Decision(int(chosen), int(min(settings.block, short)),
                        f"confirm tau = {chosen} (settle_replicas = {settings.settle_replicas})", False, indifferent)
    for tau in sorted(threats, key=lambda t: (-threats[t], t)):
        options = [t for t in (chosen, tau) if room[t] > 0]
        if options:
            target = max(options, key=lambda t: (means[t][1], t == chosen))
            return Decision(int(target), int(min(settings.block, room[target])),
                            f"tau = {tau} may beat tau = {chosen} by more than {settings.tolerance:.0%}", False,
                            indifferent)
    if threats:
        return _unless_unknown_below(result, means, z, settings, Decision(
            None, 0, "unsettled, but every period that could change the answer has max_replicas", False, indifferent))
    return _unless_unknown_below(result, means, z, settings, Decision(
        None, 0, f"settled: no measured period beats tau = {chosen} by more than {settings.tolerance:.0%} "
                 f"(one-sided {settings.confidence:.0%})", True, indifferent))


def _unless_unknown_below(result: MultiFrequencyResult, means: dict, z: float, settings: DesignSettings,
                          stop: Decision) -> Decision:
    """``stop`` (a decision to measure nothing more), unless an untrusted period
    below the shortest measured one is still unknown (:func:`unknown_below`)
    and the shortest measured period is not distinguishably slower than
    unperturbed training (``m − m₀ > z·sqrt(se² + se₀²)``, ``m₀`` the pooled
    baseline's ``⟨T ∧ H⟩``: perturbing that often already hurts, as full reset
    and shrink-and-perturb do at short periods): then that period, with
    ``initial_replicas``."""
    below = unknown_below(result.taus, result.measured, result.trusted) if settings.explore_below else None
    if below is None:
        return stop
    mean, se = means[min(means)]
    if mean - result.baseline_mfpt > z * math.hypot(se, result.baseline_standard_error):
        return stop
    return Decision(below, settings.initial_replicas, "explore below the shortest measured period before "
                    f"stopping (nothing below it is trusted; was: {stop.reason})", False, stop.indifferent_taus)


def unknown_below(taus, measured, trusted) -> int | None:
    """The untrusted period below the shortest measured one closest to half of
    it (as :func:`next_period` explores below a shortest measured optimum),
    else ``None``. An untrusted prediction is no evidence either way, and short
    periods are where the closure fails and where the reference data's optima
    lie (docs/theory.md), so the design does not stop while one is unknown;
    halving bounds the extra periods by log2 of the shortest measured one."""
    taus = np.asarray(taus, dtype=int)
    shortest = int(taus[np.asarray(measured, dtype=bool)].min())
    return _untrusted_near_half(taus, np.asarray(trusted, dtype=bool), shortest)


@dataclass(frozen=True)
class GridRegret:
    """The regret of a chosen period on a measured grid and a simultaneous
    confidence interval for its true value (:func:`grid_regret`)."""

    chosen_tau: int
    best_tau: int
    regret: float
    low: float
    high: float
    confidence_level: float

    def confidence_interval(self) -> tuple[float, float]:
        return self.low, self.high


def grid_regret(runs: dict, chosen_tau: int, horizon: int, confidence_level: float = 0.95) -> GridRegret:
    """Regret of choosing ``chosen_tau`` on a grid of measured periods
    (``{τ: FirstPassage}``): ``r = m_c / min_τ m_τ − 1`` with ``m`` the
    Kaplan–Meier ``⟨T_τ ∧ H⟩``, and an interval for the true ``r``.

    The plug-in is biased high: the minimum over many noisy periods is biased
    low (the winner's curse), and a percentile bootstrap inherits that bias (on
    30 periods of one distribution, 200 replicas each, it put the truly optimal
    median period's regret at [5 %, 46 %]). The interval is therefore built from
    simultaneous normal intervals ``m_τ ± z·se_τ`` (Greenwood standard errors,
    Bonferroni ``z`` over the ``k`` periods, two-sided): while they all hold,
    which they do with probability at least ``confidence_level``, the true regret
    lies in ``[max(0, m_c⁻ / min_τ m_τ⁺ − 1), m_c⁺ / min_τ m_τ⁻ − 1]``. It is
    conservative, and says how much regret the grid's own noise cannot rule out.
    """
    from scipy import special

    chosen_tau = int(chosen_tau)
    if chosen_tau not in runs:
        raise ValueError(f"chosen_tau = {chosen_tau} is not a measured period of the grid ({sorted(runs)})")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    means = measured_means(runs, horizon)
    taus = sorted(means)
    m = np.array([means[t][0] for t in taus])
    se = np.array([means[t][1] for t in taus])
    z = float(special.ndtri(1 - (1 - confidence_level) / (2 * len(taus))))
    upper, lower = m + z * se, np.maximum(m - z * se, 0.0)
    c = taus.index(chosen_tau)
    high = float(upper[c] / lower.min() - 1) if lower.min() > 0 else math.inf
    return GridRegret(chosen_tau, taus[int(np.argmin(m))], float(m[c] / m.min() - 1),
                      max(0.0, float(lower[c] / upper.min() - 1)), high, float(confidence_level))


def replica_epochs(fp: FirstPassage, epoch: int | None = None) -> int:
    """Replica-epochs a run cost when every replica stops at its first passage
    and the run is followed to ``epoch`` (default: the horizon H):
    ``Σ_i min(T_i, epoch)`` (a censored replica's time is its last epoch)."""
    return int(np.minimum(fp.times, fp.horizon if epoch is None else int(epoch)).sum())


def replay_design(baseline: FirstPassage, runs: dict, *, tau_star: int, taus, horizon: int,
                  settings: DesignSettings = DesignSettings()) -> list[dict]:
    """Run the adaptive design against recorded runs, replicas stopping at
    their first passage. ``baseline`` and ``runs[τ]`` (every period the design
    may ask for) are pools of recorded replicas: the design uses the first
    ``n`` of a pool when it has measured ``n`` replicas of that condition (as
    the pipeline's blocks do). Round 0 knows ``initial_replicas`` of the
    baseline and of ``tau_star``; each round trains what the previous round's
    :func:`decide` asked for, until it asks for nothing or ``rounds`` rounds
    ran. Returns one record per round (the last one is the answer):
    measured_taus, replicas ({τ: n}), baseline_replicas, optimal_tau,
    optimal_mfpt, optimal_measured, optimal_trusted, indifferent_taus,
    next_tau, next_replicas, reason, settled and replica_epochs (cumulative
    ``Σ min(T_i, H)`` of every replica used, baseline included)."""
    tau_star = int(tau_star)
    counts = {tau_star: settings.initial_replicas}
    n_baseline = min(settings.initial_replicas, baseline.n_replicas)
    base = baseline.subset(np.arange(n_baseline))
    records = []
    for round_index in range(settings.rounds + 1):
        measured = {}
        for tau, n in counts.items():
            if tau not in runs:
                raise ValueError(f"the design asks for tau = {tau}, which the recorded runs do not have "
                                 f"(recorded: {sorted(runs)})")
            if runs[tau].n_replicas < n:
                raise ValueError(f"the design asks for {n} replicas at tau = {tau}; the pool holds "
                                 f"{runs[tau].n_replicas}")
            measured[tau] = runs[tau].subset(np.arange(n))
        result = multi_frequency(base, measured, taus, horizon, settings.trust_ratio)
        decision = decide(result, measured, settings)
        cost = replica_epochs(base) + sum(replica_epochs(fp) for fp in measured.values())
        records.append({"round": round_index, "measured_taus": result.measured_taus,
                        "replicas": {int(t): int(n) for t, n in sorted(counts.items())},
                        "baseline_replicas": int(n_baseline), "optimal_tau": result.optimal_tau,
                        "optimal_mfpt": result.optimal_mfpt, "optimal_measured": result.optimal_measured,
                        "optimal_trusted": result.optimal_trusted, "indifferent_taus": decision.indifferent_taus,
                        "next_tau": decision.tau, "next_replicas": decision.replicas, "reason": decision.reason,
                        "settled": decision.settled, "replica_epochs": cost})
        if decision.tau is None or round_index == settings.rounds:
            break
        counts[decision.tau] = counts.get(decision.tau, 0) + decision.replicas
    return records


SCHEDULE_COLUMNS = ("schedule", "mfpt", "mfpt_low", "mfpt_high", "trusted", "source_tau", "outside_qss")


@dataclass(frozen=True)
class Schedule:
    """A perturbation regime beyond one period: explicit epochs (perturb after
    each) or a Poisson timer (perturb after every epoch with probability ``rate``)."""

    epochs: tuple[int, ...] = ()
    rate: float | None = None

    def __post_init__(self):
        if (self.rate is None) == (not self.epochs):
            raise ValueError("a schedule is either explicit epochs or a Poisson rate")
        increasing = all(b > a for a, b in zip(self.epochs, self.epochs[1:], strict=False))  # pairs of neighbours
        if self.epochs and (self.epochs[0] < 1 or not increasing):
            raise ValueError(f"schedule epochs must be strictly increasing epochs >= 1, got {list(self.epochs)}")
        if self.rate is not None and not 0 < self.rate <= 1:
            raise ValueError(f"a Poisson rate must be in (0, 1], got {self.rate}")

    @property
    def label(self) -> str:
        return ",".join(map(str, self.epochs)) if self.epochs else f"poisson:{self.rate:g}"

    @classmethod
    def from_label(cls, label: str) -> "Schedule":
        """The inverse of :attr:`label` (``"7,22,37"`` or ``"poisson:0.1"``)."""
        try:
            if label.startswith("poisson:"):
                return cls(rate=float(label.split(":", 1)[1]))
            return cls(epochs=tuple(int(e) for e in label.split(",")))
        except ValueError as error:
            raise ValueError(f"schedule label {label!r}: expected 'E1,E2,...' or 'poisson:RATE' ({error})") from None

    def typical_gap(self, horizon: int) -> float:
        """The gap between perturbations the response must describe: the longest gap of
        an explicit schedule (before the horizon), or the Poisson timer's mean gap 1/rate."""
        if self.rate is not None:
            return 1.0 / self.rate
        epochs = [e for e in self.epochs if e < horizon]
        gaps = np.diff(epochs) if len(epochs) > 1 else np.array([horizon - epochs[0]] if epochs else [0])
        return float(np.max(gaps))

    def acts_before(self, epoch: int) -> bool:
        """Whether a perturbation can come after an epoch before ``epoch`` (a timer
        can act after any epoch ≥ 1)."""
        return bool(self.epochs[0] < epoch) if self.epochs else epoch > 1

    def shortest_gap(self, horizon: int) -> float:
        if self.rate is not None:
            return 1.0 / self.rate
        epochs = [e for e in self.epochs if e < horizon]
        return float(np.min(np.diff(epochs))) if len(epochs) > 1 else self.typical_gap(horizon)

    def survival(self, psi: np.ndarray, phi: np.ndarray, horizon: int) -> np.ndarray:
        if self.rate is not None:
            return predict_poisson(psi, phi, self.rate, horizon)
        return predict_schedule(psi, phi, list(self.epochs), horizon)


def predict_schedules(baseline: FirstPassage, runs: dict, schedules, horizon: int, *,
                      trust_ratio: float = DEFAULT_TRUST_RATIO, n_resamples: int = 0,
                      confidence_level: float = 0.95, seed=None, chunk_size: int = 50, t_q: int | None = None):
    """``⟨T_S ∧ H⟩`` of each :class:`Schedule` by the renewal closure, with percentile intervals.

    The unperturbed ``Ψ`` is the pooled one of :func:`multi_frequency`; the
    response is that of the shortest measured period ``τ_m`` at least as long as
    the schedule's typical gap (its longest gap, or ``1/rate`` for a Poisson
    timer), else the longest measured period — the rule for periods, with the
    gap in place of τ. A prediction is ``trusted`` when every gap lies in
    ``[trust_ratio·τ_m, τ_m]``, as for a period; a Poisson timer never is (its
    geometric gaps fall outside any such window with probability near one:
    short ones hit a state a perturbation has just left, long ones need the
    response continued past τ_m). ``outside_qss`` (with ``t_q``): a perturbation
    can come before the QSS onset (an explicit schedule's first epoch is
    below ``t_q``; a timer can act after any epoch), as ``τ < t_q`` for a period.
    The bootstrap resamples the same replicas, with one stream per input, as
    :func:`multi_frequency` does.

    Returns a :class:`pandas.DataFrame`: ``schedule, mfpt, mfpt_low, mfpt_high,
    trusted, source_tau, outside_qss`` (``outside_qss`` missing without ``t_q``).

    References
    ----------
    docs/theory.md, "Any schedule"; the closure is exact for a renewal process
    (full reset), tested against it in tests/test_design.py.
    """
    import pandas as pd

    schedules = list(schedules)
    source_taus = _schedule_sources(schedules, runs, horizon)

    def values(weights):
        return _schedule_curves(baseline, runs, schedules, source_taus, horizon, weights)[..., :horizon].sum(axis=-1)

    estimate = values(None)[0]
    low = high = np.full(len(schedules), np.nan)
    if n_resamples:
        samples = np.empty((n_resamples, len(schedules)))
        for start, size, weights in _resampled_weights(baseline, runs, n_resamples, seed, chunk_size):
            samples[start: start + size] = values(weights)
        q = 100 * np.array([(1 - confidence_level) / 2, (1 + confidence_level) / 2])
        low, high = np.nanpercentile(samples, q, axis=0)
    rows = []
    for j, (schedule, tau_m) in enumerate(zip(schedules, source_taus, strict=True)):
        gap, shortest = schedule.typical_gap(horizon), schedule.shortest_gap(horizon)
        trusted = schedule.rate is None and gap <= tau_m and shortest >= trust_ratio * tau_m
        rows.append({"schedule": schedule.label, "mfpt": float(estimate[j]), "mfpt_low": float(low[j]),
                     "mfpt_high": float(high[j]), "trusted": bool(trusted), "source_tau": int(tau_m),
                     "outside_qss": None if t_q is None else schedule.acts_before(int(t_q))})
    return pd.DataFrame(rows, columns=list(SCHEDULE_COLUMNS))


def schedule_survival(baseline: FirstPassage, runs: dict, schedules, horizon: int):
    """The point survival curves ``Ψ_S(t)``, ``t = 0..H``, behind
    :func:`predict_schedules`' ``mfpt`` (the same Ψ, responses and source rule),
    as a tidy :class:`pandas.DataFrame`: ``schedule, t, sf``."""
    import pandas as pd

    schedules = list(schedules)
    curves = _schedule_curves(baseline, runs, schedules, _schedule_sources(schedules, runs, horizon), horizon, None)[0]
    return pd.DataFrame({"schedule": np.repeat([s.label for s in schedules], horizon + 1),
                         "t": np.tile(np.arange(horizon + 1), len(schedules)), "sf": curves.ravel()})


def _schedule_sources(schedules, runs: dict, horizon: int) -> list[int]:
    """The measured period whose response each schedule is predicted from (the
    shortest at least as long as its typical gap, else the longest)."""
    measured_taus = np.array(sorted(int(t) for t in runs), dtype=int)
    sources = []
    for schedule in schedules:
        longer = measured_taus[measured_taus >= schedule.typical_gap(horizon)]
        sources.append(int(longer.min() if longer.size else measured_taus.max()))
    return sources


def _schedule_curves(baseline, runs, schedules, source_taus, horizon, weights) -> np.ndarray:
    """``Ψ_S(0..H)`` of each schedule for a batch of replica weights: (batch, schedules, H + 1)."""
    grid = np.array(sorted(int(t) for t in runs), dtype=int)
    point = _evaluate(baseline, runs, grid, _sources(grid, grid), np.ones(grid.size, bool), horizon, weights)
    out = np.empty((point["psi"].shape[0], len(schedules), horizon + 1))
    for j, (schedule, tau_m) in enumerate(zip(schedules, source_taus, strict=True)):
        phi = point["responses"][tau_m]  # continued past τ_m to the horizon (extend_response)
        for b in range(out.shape[0]):
            out[b, j] = schedule.survival(point["psi"][b], phi[b], horizon)[: horizon + 1]
    return out


def two_phase(first: int, tau: int, horizon: int) -> Schedule:
    """A first perturbation after epoch ``first``, then one every ``tau`` epochs
    (the period ``tau`` when ``first == tau``), up to the horizon."""
    if first < 1 or tau < 1 or first >= horizon:
        raise ValueError(f"two_phase: expected 1 <= first < horizon = {horizon} and tau >= 1, got {first}, {tau}")
    return Schedule(epochs=tuple(range(first, horizon, tau)))


def search_schedules(baseline: FirstPassage, runs: dict, horizon: int, *, taus, rates, best_period_mfpt: float,
                     t_q: int | None = None, trust_ratio: float = DEFAULT_TRUST_RATIO, n_resamples: int = 0,
                     confidence_level: float = 0.95, seed=None):
    """Search beyond periods with the closure: every two-phase schedule (first
    perturbation after ``s₁``, then every ``τ``; ``s₁ ≠ τ``, ``τ`` in ``taus``)
    and every Poisson timer in ``rates``, each predicted as
    :func:`predict_schedules` does.

    The best of each kind is chosen among the trusted candidates whose first
    perturbation falls in the QSS (``s₁ ≥ t_q``), or among all of its kind when
    none is (always for timers, never trusted: :func:`predict_schedules`); those
    two get bootstrap intervals and
    ``better_than_best_period``: their upper bound lies below
    ``best_period_mfpt`` (better than the best period by more than their own
    uncertainty).

    Returns a :class:`pandas.DataFrame`, one row per candidate: ``kind``
    (``two_phase`` | ``poisson``), ``schedule``, ``first``, ``tau``, ``rate``,
    ``mfpt``, ``trusted``, ``outside_qss``, ``source_tau``, ``best`` and, on the
    best rows, ``mfpt_low``, ``mfpt_high``, ``better_than_best_period``.
    """
    import pandas as pd

    t_q = 1 if t_q is None else int(t_q)
    entries = [("two_phase", first, int(tau), np.nan, two_phase(first, int(tau), horizon))
               for tau in sorted(set(int(t) for t in taus)) for first in range(1, horizon) if first != tau]
    entries += [("poisson", np.nan, np.nan, float(rate), Schedule(rate=float(rate))) for rate in sorted(set(rates))]
    schedules = [entry[-1] for entry in entries]
    points = predict_schedules(baseline, runs, schedules, horizon, trust_ratio=trust_ratio, t_q=t_q)
    table = pd.DataFrame({"kind": [e[0] for e in entries], "schedule": points["schedule"],
                          "first": pd.array([e[1] for e in entries], dtype="Int64"),
                          "tau": pd.array([e[2] for e in entries], dtype="Int64"), "rate": [e[3] for e in entries],
                          "mfpt": points["mfpt"], "trusted": points["trusted"], "source_tau": points["source_tau"]})
    table["outside_qss"] = points["outside_qss"].astype(bool)
    table["best"] = False
    best = []
    for kind in ("two_phase", "poisson"):
        rows = table[table["kind"] == kind]
        eligible = rows[rows["trusted"] & ~rows["outside_qss"]]
        pool = eligible if not eligible.empty else rows
        if not pool.empty:
            best.append(int(pool["mfpt"].idxmin()))
    table.loc[best, "best"] = True
    table["mfpt_low"] = table["mfpt_high"] = np.nan
    table["better_than_best_period"] = pd.array([pd.NA] * len(table), dtype="boolean")
    if best:
        intervals = predict_schedules(baseline, runs, [schedules[i] for i in best], horizon, trust_ratio=trust_ratio,
                                      n_resamples=n_resamples, confidence_level=confidence_level, seed=seed)
        table.loc[best, "mfpt_low"] = intervals["mfpt_low"].to_numpy()
        table.loc[best, "mfpt_high"] = intervals["mfpt_high"].to_numpy()
        if n_resamples:
            table.loc[best, "better_than_best_period"] = intervals["mfpt_high"].to_numpy() < best_period_mfpt
    return table


def next_schedule(search, measured_schedules: dict, settings: DesignSettings = DesignSettings()):
    """The schedule the design measures once its periods are settled, or None.

    It is the search's best two-phase schedule (:func:`search_schedules`) when it
    is trusted, its perturbations fall in the QSS, and it is
    ``better_than_best_period`` (its interval's upper end below the best
    period's ⟨T ∧ H⟩). It gets ``settle_replicas`` in all; ``measured_schedules``
    (``{label: FirstPassage}``) says what it has already. A timer is never
    trusted, so it is never measured on its own.

    Returns ``(Schedule, replicas, reason)`` or None."""
    import pandas as pd

    best = search[search["best"] & (search["kind"] == "two_phase") & search["trusted"] & ~search["outside_qss"]]
    better = None if best.empty else best["better_than_best_period"].iloc[0]
    if better is None or better is pd.NA or not bool(better):
        return None
    row = best.iloc[0]
    have = measured_schedules.get(row["schedule"])
    short = settings.settle_replicas - (0 if have is None else have.n_replicas)
    if short <= 0:
        return None
    return (Schedule.from_label(row["schedule"]), int(short),
            f"schedule {row['schedule']} is predicted at {row['mfpt']:.3g} [{row['mfpt_low']:.3g}, "
            f"{row['mfpt_high']:.3g}], better than the best period beyond its interval")


def schedule_answer(period_mfpt: float, period_se: float, measured_schedules: dict, horizon: int,
                    confidence: float = 0.9) -> dict | None:
    """The measured schedule that beats the chosen period, or None.

    A schedule replaces the period only when it is distinguishably faster: its
    measured ⟨T ∧ H⟩ plus ``z·√(se_s² + se_c²)`` (``z`` the one-sided normal
    quantile of ``confidence``) is still below the period's. Otherwise the
    simpler regime, the period, stays. Returns the winner as
    ``{schedule, mfpt, mfpt_low, mfpt_high, standard_error, replicas}``."""
    from scipy import special

    from .survival import kaplan_meier

    z = float(special.ndtri(confidence))
    best = None
    for label, fp in measured_schedules.items():
        mean = kaplan_meier(fp, horizon).restricted_mean(horizon)
        if mean.estimate + z * math.hypot(mean.standard_error, period_se) < period_mfpt and (
                best is None or mean.estimate < best["mfpt"]):
            best = {"schedule": label, "mfpt": mean.estimate, "mfpt_low": mean.low, "mfpt_high": mean.high,
                    "standard_error": mean.standard_error, "replicas": int(fp.n_replicas)}
    return best
