"""First-passage times and their survival function (docs/theory.md, "First passage and survival").

Notation: a replica records an observable ``a(t)`` after every epoch
``t = 1..H``.  Its first-passage time is ``T = min{t >= 1 : a(t) meets θ}``;
a replica that never meets the target is right-censored.  The survival is
``Ψ(t) = P(T > t)`` with ``Ψ(0) = 1``, estimated by Kaplan–Meier::

    Ψ(t) = Π_{s=1}^{t} (1 − d(s) / n(s)),

where ``d(s)`` counts first passages at epoch ``s`` and ``n(s)`` the replicas
at risk at ``s`` (time, event or censoring, ``>= s``).  The restricted mean
first-passage time is ``⟨T ∧ H⟩ = Σ_{t=0}^{H-1} Ψ(t)``.

``kaplan_meier`` uses :func:`scipy.stats.ecdf`; ``survival_matrix`` is a
separately written, vectorized version of the same product for many weighted
resamples at once (used by the bootstrap of :mod:`fptopt.stats.design`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "FirstPassage", "SurvivalCurve", "RestrictedMean", "first_passage",
    "kaplan_meier", "restricted_mfpt", "event_counts", "weighted_counts",
    "survival_matrix", "plateau_hazard", "logrank_counts", "LogRankResult", "holm", "DIRECTIONS",
]

DIRECTIONS = ("above", "below")


@dataclass(frozen=True)
class FirstPassage:
    """First-passage (or censoring) epoch of every replica.

    ``times[i]`` is the epoch of first passage when ``observed[i]``, else the
    censoring epoch.  ``last_epoch[i]`` is the last recorded (non-NaN, possibly
    infinite) epoch, 0 when nothing was recorded; ``horizon`` is the number of
    columns of the input.
    """

    times: np.ndarray
    observed: np.ndarray
    last_epoch: np.ndarray
    horizon: int
    target: float
    direction: str

    @property
    def n_replicas(self) -> int:
        return int(self.times.size)

    @property
    def censored_fraction(self) -> float:
        return float(1.0 - self.observed.mean())

    @property
    def known_until(self) -> int:
        """The last epoch up to which ``Ψ`` is determined by these replicas.

        Kaplan–Meier knows ``Ψ(t)`` while some replica is still at risk, and
        for good once every replica has passed (``Ψ = 0``). When the replica
        with the latest time is censored there (its log ends, or its values
        turn NaN/inf), nothing is known after that epoch; otherwise ``Ψ`` is
        known to the end of the input (``horizon``).

        >>> fp = FirstPassage(np.array([3, 30]), np.array([True, False]), np.array([200, 30]), 200, 1.0, "above")
        >>> fp.known_until
        30
        """
        latest = int(self.times.max())
        if np.any(~self.observed & (self.times == latest)):
            return latest
        return int(self.horizon)

    def restrict(self, horizon: int) -> "FirstPassage":
        """Censor every replica at ``horizon`` (passages after it become censored)."""
        horizon = int(horizon)
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        late = self.times > horizon
        return FirstPassage(np.minimum(self.times, horizon), self.observed & ~late,
                            np.minimum(self.last_epoch, horizon), horizon,
                            self.target, self.direction)

    def subset(self, mask: np.ndarray, shift: int = 0) -> "FirstPassage":
        """Replicas selected by ``mask`` with time re-origined: ``t -> t - shift``."""
        return FirstPassage(self.times[mask] - shift, self.observed[mask],
                            np.maximum(self.last_epoch[mask] - shift, 0),
                            self.horizon - shift, self.target, self.direction)


@dataclass(frozen=True)
class RestrictedMean:
    """Restricted mean ``⟨T ∧ H⟩`` with a normal-approximation interval."""

    estimate: float
    low: float
    high: float
    horizon: int
    confidence_level: float
    standard_error: float = float("nan")


@dataclass(frozen=True)
class SurvivalCurve:
    """Kaplan–Meier survival ``sf = Ψ(t)`` at ``t = 0..horizon`` with a
    pointwise log-log interval ``[low, high]``."""

    t: np.ndarray
    sf: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    confidence_level: float

    @property
    def horizon(self) -> int:
        return int(self.t[-1])

    def confidence_interval(self) -> tuple[np.ndarray, np.ndarray]:
        return self.low, self.high

    def restricted_mean(self, horizon: int | None = None) -> RestrictedMean:
        """``⟨T ∧ H⟩ = Σ_{t<H} Ψ(t)`` with the Greenwood-type variance of the
        restricted mean, ``Var = Σ_{s<=H} A(s)² d(s) / (n(s)(n(s) − d(s)))``
        where ``A(s) = Σ_{t=s}^{H-1} Ψ(t)`` is the area after event epoch ``s``.
        """
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ValueError(f"horizon must be in 1..{self.horizon}, got {horizon}")
        sf = self.sf[: horizon + 1]
        se = restricted_mean_standard_error(sf, self.n_events, self.n_at_risk, horizon)
        estimate = restricted_mfpt(sf, horizon)
        z = special.ndtri(0.5 + self.confidence_level / 2)
        return RestrictedMean(float(estimate), max(0.0, estimate - z * se),
                              min(float(horizon), estimate + z * se), horizon,
                              self.confidence_level, se)


def restricted_mean_standard_error(sf, n_events, n_at_risk, horizon: int) -> float:
    """Greenwood-type standard error of ``⟨T ∧ H⟩ = Σ_{t<H} Ψ(t)`` from a
    Kaplan–Meier curve ``sf`` (``t = 0..``) and its counts (also weighted or
    pooled ones): ``Var = Σ_{s<H} A(s)² d(s) / (n(s)(n(s) − d(s)))``, with
    ``A(s) = Σ_{t=s}^{H-1} Ψ(t)`` the area after event epoch ``s``."""
    horizon = int(horizon)
    sf = np.asarray(sf, dtype=float)[: horizon + 1]
    area_after = np.cumsum(sf[:horizon][::-1])[::-1]  # A(s) for s = 0..H-1
    d = np.asarray(n_events, dtype=float)[1: horizon]
    n = np.asarray(n_at_risk, dtype=float)[1: horizon]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(d > 0, area_after[1:] ** 2 * d / (n * (n - d)), 0.0)
    return float(np.sqrt(np.sum(terms[np.isfinite(terms)])))


def first_passage(trajectories, target: float, direction: str = "above") -> FirstPassage:
    """First-passage epochs of every replica (row) of ``trajectories``.

    Parameters
    ----------
    trajectories : array_like, shape (replicas, epochs)
        Column ``j`` holds ``a(j + 1)``.  NaN marks an epoch not recorded.
    target : float
        The threshold θ.
    direction : {"above", "below"}
        ``"above"``: the target is met when ``a >= θ``; ``"below"``: ``a <= θ``.

    Notes
    -----
    Only finite values can meet the target.  Censoring rule: a replica that
    never meets it is right-censored at its **last finite** epoch.  This covers
    shorter runs padded with NaN and diverged runs (±inf, or NaN followed by
    nothing finite): both are censored where the last finite value was
    recorded.  A replica with no finite value at all is censored at 0.
    """
    values = np.asarray(trajectories, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"trajectories must be 2-D (replicas x epochs), got {values.ndim}-D")
    if values.shape[0] < 1 or values.shape[1] < 1:
        raise ValueError(f"trajectories must have >= 1 replica and >= 1 epoch, got shape {values.shape}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if not np.isfinite(target):
        raise ValueError(f"target must be finite, got {target!r}")
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        met = finite & ((values >= target) if direction == "above" else (values <= target))
    epochs = np.arange(1, values.shape[1] + 1)
    observed = met.any(axis=1)
    first_met = epochs[np.argmax(met, axis=1)]
    last_finite = np.where(finite.any(axis=1), np.max(np.where(finite, epochs, 0), axis=1), 0)
    recorded = ~np.isnan(values)
    last_recorded = np.max(np.where(recorded, epochs, 0), axis=1)
    times = np.where(observed, first_met, last_finite).astype(int)
    return FirstPassage(times, observed, last_recorded.astype(int), int(values.shape[1]),
                        float(target), direction)


def kaplan_meier(fp: FirstPassage, horizon: int | None = None,
                 confidence_level: float = 0.95) -> SurvivalCurve:
    """Kaplan–Meier ``Ψ(t)`` at ``t = 0..horizon`` via :func:`scipy.stats.ecdf`.

    The pointwise interval uses scipy's log-log method.  It is undefined where
    ``Ψ = 1`` (no event yet: Greenwood variance 0, we report ``[1, 1]``) and
    where ``Ψ = 0`` (we report ``low = 0`` and carry the last defined ``high``
    forward).  With no event at all ``Ψ ≡ 1``.
    """
    horizon = fp.horizon if horizon is None else int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    t = np.arange(horizon + 1)
    data = stats.CensoredData(uncensored=fp.times[fp.observed],
                              right=fp.times[~fp.observed])
    result = stats.ecdf(data)
    sf = result.sf.evaluate(t)
    sf[0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = result.sf.confidence_interval(confidence_level, method="log-log")
        low, high = ci.low.evaluate(t), ci.high.evaluate(t)
    low, high = _fill_undefined_interval(sf, low, high)
    n_events, n_at_risk = event_counts(fp, horizon)
    return SurvivalCurve(t, sf, low, high, n_at_risk, n_events, confidence_level)


def _fill_undefined_interval(sf, low, high):
    low, high = low.copy(), high.copy()
    at_one = sf >= 1.0
    low[at_one], high[at_one] = 1.0, 1.0
    undefined = ~np.isfinite(high)
    if undefined.any():
        defined_index = np.maximum.accumulate(np.where(~undefined, np.arange(sf.size), 0))
        high = np.where(undefined, high[defined_index], high)
    low = np.where(np.isfinite(low), low, 0.0)
    return low, np.maximum(high, sf)


def restricted_mfpt(sf, horizon: int) -> np.ndarray | float:
    """``⟨T ∧ H⟩ = Σ_{t=0}^{H-1} Ψ(t)`` along the last axis of ``sf``."""
    sf = np.asarray(sf, dtype=float)
    horizon = int(horizon)
    if not 1 <= horizon <= sf.shape[-1]:
        raise ValueError(f"horizon must be in 1..{sf.shape[-1]} for sf of length "
                         f"{sf.shape[-1]}, got {horizon}")
    total = sf[..., :horizon].sum(axis=-1)
    return float(total) if total.ndim == 0 else total


def event_counts(fp: FirstPassage, horizon: int | None = None):
    """``(d(t), n(t))`` for ``t = 0..horizon``: passages at ``t`` and replicas at
    risk at ``t`` (time >= t; censoring at ``t`` counts as at risk at ``t``)."""
    weights = np.ones((1, fp.n_replicas))
    d, n = weighted_counts(fp, weights, horizon)
    return d[0], n[0]


def weighted_counts(fp: FirstPassage, weights, horizon: int | None = None):
    """Weighted ``d(t)`` and ``n(t)`` for a batch of replica weights.

    ``weights`` has shape (B, replicas) (e.g. multinomial bootstrap counts);
    returns two arrays of shape (B, horizon + 1).  Times beyond ``horizon`` are
    censored at ``horizon``.
    """
    horizon = fp.horizon if horizon is None else int(horizon)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if weights.shape[-1] != fp.n_replicas:
        raise ValueError(f"weights must have {fp.n_replicas} columns, got {weights.shape[-1]}")
    times = np.minimum(fp.times, horizon)
    events = fp.observed & (fp.times <= horizon)
    exits = np.zeros((fp.n_replicas, horizon + 1))
    exits[np.arange(fp.n_replicas), times] = 1.0
    exit_counts = weights @ exits
    n_at_risk = np.cumsum(exit_counts[:, ::-1], axis=1)[:, ::-1]
    n_events = weights @ (exits * events[:, None])
    return n_events, n_at_risk


def survival_matrix(n_events, n_at_risk) -> np.ndarray:
    """Discrete-time Kaplan–Meier along the last axis from counts:
    ``Ψ(t) = Π_{s=1}^{t} (1 − d(s)/n(s))`` with ``0/0 -> 0`` (no one at risk:
    the curve stays flat).  Index 0 is ignored and ``Ψ(0) = 1``."""
    d = np.asarray(n_events, dtype=float)[..., 1:]
    n = np.asarray(n_at_risk, dtype=float)[..., 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n > 0, d / n, 0.0)
    sf = np.cumprod(1.0 - hazard, axis=-1)
    return np.concatenate([np.ones(sf.shape[:-1] + (1,)), sf], axis=-1)


def plateau_hazard(n_events, n_at_risk, first: int, last: int, confidence_level: float = 0.95):
    """Constant discrete-time hazard on event epochs ``first..last``:
    ``k = Σ d(s) / Σ n(s)`` (events per at-risk person-epoch, the MLE of a
    geometric law), with the exact Poisson (Garwood) interval
    ``[χ²_{α/2}(2D)/2, χ²_{1−α/2}(2D+2)/2] / exposure``.  Works along the last
    axis; returns ``(k, low, high)``."""
    d = np.asarray(n_events, dtype=float)[..., first: last + 1].sum(axis=-1)
    exposure = np.asarray(n_at_risk, dtype=float)[..., first: last + 1].sum(axis=-1)
    alpha = 1.0 - confidence_level
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(exposure > 0, d / exposure, np.nan)
        low = np.where(d > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(d, 1e-300)) / 2, 0.0) / exposure
        high = stats.chi2.ppf(1 - alpha / 2, 2 * d + 2) / 2 / exposure
    return k, low, np.minimum(high, 1.0)


@dataclass(frozen=True)
class LogRankResult:
    """A K-sample log-rank test: ``statistic`` ~ χ²(``df``) when every group
    has the same hazard. ``df`` is the rank of the covariance, ``K − 1`` unless
    some group is at risk only where nobody passes (it then carries no
    information); NaN statistic and p-value when fewer than two groups have
    anyone at risk (nothing to compare)."""

    statistic: float
    df: int
    pvalue: float


def logrank_counts(n_events, n_at_risk) -> LogRankResult:
    """K-sample log-rank test from event and at-risk counts of shape
    ``(times, groups)``: under a common hazard ``h(t) = D(t)/R(t)`` group ``j``
    expects ``E_j = Σ_t R_j(t) h(t)`` of its ``O_j = Σ_t D_j(t)`` events, with
    the hypergeometric covariance
    ``V_jk = Σ_t D(t)(R(t) − D(t))/(R(t) − 1) · R_j/R (δ_jk − R_k/R)``;
    the statistic is ``(O − E)ᵀ V⁻ (O − E)`` over the first ``K − 1`` groups.

    Counts need not start together: a group may enter the risk set late
    (delayed entry), which is how the renewal test uses it (the cycles of one
    run, by age since the perturbation). For two groups that start together it
    is the square of :func:`scipy.stats.logrank`'s statistic
    (tests/test_survival.py).

    References
    ----------
    Klein & Moeschberger (2003), *Survival Analysis*, 2nd ed., §7.3 (K-sample
    tests); Mantel (1966), *Cancer Chemother. Rep.* 50, 163–170.
    """
    d = np.asarray(n_events, dtype=float)
    r = np.asarray(n_at_risk, dtype=float)
    if d.ndim != 2 or d.shape != r.shape:
        raise ValueError(f"n_events and n_at_risk must both be (times, groups) arrays, got {d.shape} and {r.shape}")
    if np.any(d < 0) or np.any(d > r):
        raise ValueError("counts must satisfy 0 <= n_events <= n_at_risk")
    r_all, d_all = r.sum(axis=1), d.sum(axis=1)
    groups = np.flatnonzero(r.sum(axis=0) > 0)
    if groups.size < 2:
        return LogRankResult(float("nan"), max(groups.size - 1, 0), float("nan"))
    d, r = d[:, groups], r[:, groups]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(r_all[:, None] > 0, r / r_all[:, None], 0.0)                 # R_j / R
        spread = np.where(r_all > 1, d_all * (r_all - d_all) / (r_all - 1), 0.0)      # D(R − D)/(R − 1)
    observed_minus_expected = (d - share * d_all[:, None]).sum(axis=0)
    covariance = np.einsum("t,tj,jk->jk", spread, share, np.eye(groups.size)) - np.einsum(
        "t,tj,tk->jk", spread, share, share)
    k = groups.size - 1
    u, v = observed_minus_expected[:k], covariance[:k, :k]
    statistic = float(u @ np.linalg.pinv(v) @ u)
    rank = int(np.linalg.matrix_rank(v))
    if rank == 0:
        return LogRankResult(float("nan"), k, float("nan"))
    return LogRankResult(statistic, rank, float(stats.chi2.sf(statistic, rank)))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error control
    without assuming independence). NaN p-values are left out of the family
    and stay NaN.

    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else np.array([])
    out[order] = np.minimum(adjusted, 1.0)
    return out
