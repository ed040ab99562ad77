"""Detection of the quasi-steady state (docs/theory.md, "The quasi-steady state").

The process is in a QSS from epoch ``t_q`` on when the distribution of
``a(t)`` among the replicas that have not yet passed (``T > t``) no longer
changes with ``t``.  Then the hazard ``h(t) = P(T = t+1 | T > t)`` is a
constant ``k`` and ``Ψ(t) ≈ Ψ(t_q) (1 − k)^{t − t_q}``.

Criterion: an effect size, not a significance test
---------------------------------------------------
For every epoch ``t`` the survivors' ``a(t)`` (replicas with ``T > t`` and a
finite value) is compared with the survivors' ``a(t + L)``, ``L`` = ``lag``
epochs later, by the two-sample Kolmogorov–Smirnov distance
``D̂(t) = sup_v |F̂_t(v) − F̂_{t+L}(v)|``, a number in [0, 1] that does not
depend on the units of ``a``.  The distance gets the interval

    ``[max(0, D̂ − ε), min(1, D̂ + ε)]``,  ``ε = c · sqrt(1/n_t + 1/n_{t+L})``,

with ``c = scipy.stats.kstwobign.ppf(confidence_level)`` (1.358 at 95 %):
``ε`` is the asymptotic ``confidence_level`` quantile of ``D̂`` when the two
distributions are equal (Kolmogorov's limit law, Smirnov's two-sample
version), i.e. the noise level of ``D̂`` at these sample sizes.  A rigorous
finite-sample band valid at any true distance follows from the
Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant,
``ε = sqrt(ln(4/α)/2) · (1/sqrt(n_t) + 1/sqrt(n_{t+L}))``; it is ~1.5 times
wider for balanced samples, which would let small studies declare a QSS
earlier and make ``t_q`` depend more on the replica count, so the
Kolmogorov margin is used.  The survivors at ``t + L`` are a subset of those
at ``t``: a replica's ``a`` is positively correlated over time in practice,
which makes the two samples more alike than independent ones, so ``ε``
over-states the noise of ``D̂`` (the interval over-covers).

Epoch ``t`` is *stationary* when its distance is not shown to exceed the
``tolerance``: ``max(0, D̂ − ε) <= tolerance``.  Epochs where either sample
has fewer than ``min_survivors`` values, or whose partner ``t + L`` lies
beyond the horizon, are not compared.  ``t_q`` is the first compared epoch
from which every compared epoch is stationary, provided at least
``MIN_QSS_EPOCHS`` compared epochs lie in ``[t_q, H]``; otherwise no QSS is
found.

Why an effect size: a p-value shrinks with the number of replicas, so with
hundreds of survivors per epoch any slow drift (late over-fitting) becomes
"significant" and a criterion "no test rejects" pushes ``t_q`` towards the
horizon as replicas are added.  The tolerance states how large a change in
the survivors' distribution matters; with more replicas only the interval
narrows, and ``t_q`` converges instead of drifting.  Why the lag: the theory
uses the QSS through perturbations applied every ``τ`` epochs with
``τ`` of the order of ``L``; a drift that is negligible over ``L`` epochs is
irrelevant at those periods even if it adds up over the whole horizon, while
comparing adjacent epochs would miss a slow approach to the plateau.

The plateau hazard ``k`` is the constant hazard on the epochs ``> t_q``
(:func:`fptopt.stats.survival.plateau_hazard`) with its exact Poisson interval.

References
----------
.. [1] N. Smirnov, "On the estimation of the discrepancy between empirical
   curves of distribution for two independent samples", Bull. Math. Univ.
   Moscou 2(2), 3–14 (1939); the quantiles: Ann. Math. Statist. 19,
   279–281 (1948).
.. [2] A. Kolmogorov, "Sulla determinazione empirica di una legge di
   distribuzione", G. Ist. Ital. Attuari 4, 83–91 (1933).
.. [3] P. Massart, "The tight constant in the Dvoretzky–Kiefer–Wolfowitz
   inequality", Ann. Probab. 18, 1269–1283 (1990).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .survival import FirstPassage, event_counts, plateau_hazard

__all__ = ["QSSResult", "detect_qss", "ks_statistic", "ks_margin", "distance_table", "MIN_QSS_EPOCHS"]

MIN_QSS_EPOCHS = 3


@dataclass(frozen=True)
class QSSResult:
    """Outcome of :func:`detect_qss`.

    Arrays are indexed by epoch ``t − 1`` (length ``H``).  ``distance[t-1]``
    is the KS distance between the survivors' ``a(t)`` and ``a(t + lag)``
    with its interval ``[distance_low, distance_high]`` (all NaN where not
    compared); ``n_survivors[t-1]`` the number of survivors with a finite
    value at ``t``.  ``lag`` is the lag actually used (clipped to ``H − 1``).
    ``hazard`` is the constant hazard on epochs ``> t_q`` with its exact
    Poisson interval ``[hazard_low, hazard_high]``.
    """

    found: bool
    t_q: int | None
    hazard: float
    hazard_low: float
    hazard_high: float
    distance: np.ndarray
    distance_low: np.ndarray
    distance_high: np.ndarray
    n_survivors: np.ndarray
    tolerance: float
    lag: int
    message: str

    @property
    def compared(self) -> np.ndarray:
        """Mask of the compared epochs (index ``t − 1``)."""
        return np.isfinite(self.distance)

    @property
    def stationary(self) -> np.ndarray:
        """Mask of the compared epochs whose distance is not shown to exceed the tolerance."""
        return self.compared & (np.nan_to_num(self.distance_low, nan=np.inf) <= self.tolerance)

    def confidence_interval(self) -> tuple[float, float]:
        """The plateau hazard's interval ``(hazard_low, hazard_high)``."""
        return self.hazard_low, self.hazard_high


def detect_qss(trajectories, fp: FirstPassage, tolerance: float = 0.1, lag: int = 10,
               min_survivors: int = 20, confidence_level: float = 0.95) -> QSSResult:
    """Find the QSS onset ``t_q`` and the plateau hazard ``k``.

    Parameters
    ----------
    trajectories : array_like, shape (replicas, epochs)
        The observable ``a(t)``; column ``j`` holds epoch ``j + 1``, NaN where
        not recorded.  One row per replica of ``fp``.
    fp : FirstPassage
        The replicas' first-passage times (sets who survives at each epoch).
    tolerance : float, optional
        Largest KS distance between the survivors' ``a(t)`` and ``a(t + lag)``
        that still counts as no change, in (0, 1).  Default 0.1.
    lag : int, optional
        Epochs between the compared distributions, ``>= 1``; clipped to
        ``H − 1``.  Default 10.
    min_survivors : int, optional
        Epochs where either sample has fewer finite survivor values are not
        compared, ``>= 2``.  Default 20.
    confidence_level : float, optional
        Level of the distance's interval and of the hazard's interval, in
        (0, 1).  Default 0.95.

    Returns
    -------
    QSSResult
        ``found``, ``t_q``, the hazard with its interval, the distances with
        their intervals, and a ``message`` stating the criterion.

    Raises
    ------
    ValueError
        For a bad argument; the message names it.

    Notes
    -----
    Epoch ``t`` is stationary when ``max(0, D̂(t) − ε) <= tolerance`` with
    ``ε = kstwobign.ppf(confidence_level) · sqrt(1/n_t + 1/n_{t+lag})``;
    ``t_q`` is the first compared epoch from which every compared epoch is
    stationary, if at least ``MIN_QSS_EPOCHS`` compared epochs remain.  See
    the module docstring for why an effect size and why a lag.

    References
    ----------
    .. [1] N. Smirnov, Bull. Math. Univ. Moscou 2(2), 3–14 (1939).
    .. [2] P. Massart, Ann. Probab. 18, 1269–1283 (1990).

    Examples
    --------
    A mean that rises by one noise s.d. per epoch up to epoch 20, then stays:

    >>> import numpy as np
    >>> from fptopt.stats.survival import first_passage
    >>> from fptopt.stats.qss import detect_qss
    >>> rng = np.random.default_rng(0)
    >>> mean = 70.0 - np.maximum(0, 20 - np.arange(1, 81))
    >>> values = mean + rng.normal(0.0, 1.0, (500, 80))
    >>> result = detect_qss(values, first_passage(values, 72.5))
    >>> result.found, result.t_q, result.lag
    (True, 20, 10)
    """
    values = np.asarray(trajectories, dtype=float)
    if values.ndim != 2 or values.shape[0] != fp.n_replicas:
        raise ValueError(f"trajectories must be 2-D with {fp.n_replicas} rows (one per replica "
                         f"of fp), got shape {values.shape}")
    tolerance, lag, min_survivors, confidence_level = _checked(tolerance, lag, min_survivors,
                                                               confidence_level)
    horizon = min(values.shape[1], fp.horizon)
    lag = min(lag, max(horizon - 1, 1))
    samples = _survivor_samples(values[:, :horizon], fp)
    n_survivors = np.array([s.size for s in samples])
    distance, margin = _lagged_distances(samples, lag, min_survivors, confidence_level)
    low, high = np.maximum(0.0, distance - margin), np.minimum(1.0, distance + margin)
    t_q, n_stationary = _onset(distance, low, tolerance)
    criterion = (f"the KS distance between the survivors' a(t) and a(t + {lag}) (lag {lag} epochs) "
                 f"is not shown to exceed the tolerance {tolerance:g} ({confidence_level:.0%} interval)")
    if t_q is None or n_stationary < MIN_QSS_EPOCHS:
        changing = np.flatnonzero(np.isfinite(distance) & (low > tolerance))
        last = f"last changing epoch {changing[-1] + 1}" if changing.size else "no changing epoch"
        message = (f"no quasi-steady state found within {horizon} epochs (t_q undefined): fewer than "
                   f"{MIN_QSS_EPOCHS} compared epochs at the end where {criterion} ({last}; "
                   f"{int(np.isfinite(distance).sum())} epochs compared, those with >= {min_survivors} "
                   f"survivors at t and t + {lag})")
        return QSSResult(False, None, np.nan, np.nan, np.nan, distance, low, high, n_survivors,
                         tolerance, lag, message)
    d, n = event_counts(fp, horizon)
    k, k_low, k_high = plateau_hazard(d, n, t_q + 1, horizon, confidence_level)
    message = (f"quasi-steady state from epoch t_q = {t_q}: {criterion} at each of the "
               f"{n_stationary} compared epochs t >= {t_q}; hazard k = {float(k):.4g} "
               f"[{float(k_low):.4g}, {float(k_high):.4g}] per epoch")
    return QSSResult(True, t_q, float(k), float(k_low), float(k_high), distance, low, high,
                     n_survivors, tolerance, lag, message)


def _checked(tolerance, lag, min_survivors, confidence_level):
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a KS distance in (0, 1), got {tolerance}")
    try:
        lag_epochs = None if isinstance(lag, bool) else operator.index(lag)
    except TypeError:
        lag_epochs = None
    if lag_epochs is None or lag_epochs < 1:
        raise ValueError(f"lag must be an integer number of epochs >= 1, got {lag!r}")
    if min_survivors < 2:
        raise ValueError(f"min_survivors must be >= 2, got {min_survivors}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    return float(tolerance), int(lag_epochs), int(min_survivors), float(confidence_level)


def _survivor_samples(values: np.ndarray, fp: FirstPassage) -> list[np.ndarray]:
    """Sorted finite ``a(t)`` of replicas with ``T > t`` (not passed by ``t``)."""
    epochs = np.arange(1, values.shape[1] + 1)
    unpassed = ~(fp.observed[:, None] & (fp.times[:, None] <= epochs[None, :]))
    keep = unpassed & np.isfinite(values)
    return [np.sort(values[keep[:, j], j]) for j in range(values.shape[1])]


def _lagged_distances(samples, lag: int, min_survivors: int, confidence_level: float):
    """``D̂`` between epochs ``t`` and ``t + lag`` and its margin ``ε`` (NaN where not compared)."""
    horizon = len(samples)
    distance, margin = np.full(horizon, np.nan), np.full(horizon, np.nan)
    for i in range(horizon - lag):
        early, late = samples[i], samples[i + lag]
        if early.size >= min_survivors and late.size >= min_survivors:
            distance[i] = ks_statistic(early, late)
            margin[i] = ks_margin(early.size, late.size, confidence_level)
    return distance, margin


def _onset(distance: np.ndarray, low: np.ndarray, tolerance: float) -> tuple[int | None, int]:
    """First compared epoch after the last non-stationary one, and the compared epochs from it on."""
    compared = np.flatnonzero(np.isfinite(distance))
    changing = compared[low[compared] > tolerance]
    candidates = compared if changing.size == 0 else compared[compared > changing[-1]]
    if candidates.size == 0:
        return None, 0
    return int(candidates[0]) + 1, int(candidates.size)


def ks_statistic(x_sorted: np.ndarray, y_sorted: np.ndarray) -> float:
    """Two-sample KS statistic ``D = sup_v |F_x(v) − F_y(v)|`` of sorted samples."""
    points = np.concatenate([x_sorted, y_sorted])
    cdf_x = np.searchsorted(x_sorted, points, side="right") / x_sorted.size
    cdf_y = np.searchsorted(y_sorted, points, side="right") / y_sorted.size
    return float(np.max(np.abs(cdf_x - cdf_y)))


def ks_margin(n1, n2, confidence_level: float = 0.95):
    """Half-width ``ε = kstwobign.ppf(confidence_level) · sqrt(1/n1 + 1/n2)`` of the
    KS distance's interval: the asymptotic quantile of ``D̂`` between equal distributions."""
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    return stats.kstwobign.ppf(confidence_level) * np.sqrt(1.0 / n1 + 1.0 / n2)


def distance_table(result: QSSResult):
    """The compared epochs as a tidy table (1-based epochs): epoch, later_epoch,
    distance, distance_low, distance_high, n_survivors, n_survivors_later, stationary."""
    import pandas as pd

    index = np.flatnonzero(result.compared)
    later = index + result.lag
    return pd.DataFrame({
        "epoch": (index + 1).astype(int), "later_epoch": (later + 1).astype(int),
        "distance": result.distance[index], "distance_low": result.distance_low[index],
        "distance_high": result.distance_high[index],
        "n_survivors": result.n_survivors[index].astype(int),
        "n_survivors_later": result.n_survivors[later].astype(int),
        "stationary": result.distance_low[index] <= result.tolerance,
    })
