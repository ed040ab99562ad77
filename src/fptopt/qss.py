"""Detection of the quasi-steady state (THEORY §2).

The process is in a QSS from epoch ``t_q`` on when the distribution of
``a(t)`` among the replicas that have not yet passed (``T > t``) no longer
changes with ``t``.  Then the hazard ``h(t) = P(T = t+1 | T > t)`` is a
constant ``k`` and ``Ψ(t) ≈ Ψ(t_q) (1 − k)^{t − t_q}``.

Test: for every epoch ``t`` the survivors' ``a(t)`` is compared with the
survivors' ``a(t')`` at up to ``max_comparisons_per_epoch`` evenly spaced later
epochs ``t' > t`` by a two-sample Kolmogorov–Smirnov test (asymptotic Smirnov
distribution, the same p-value as ``scipy.stats.ks_2samp(method="asymp")``).
Only pairs where both samples hold ``>= min_survivors`` values are tested.
All p-values are adjusted together with Holm's step-down method, which
controls the family-wise error rate: the criterion "no comparison after t_q
rejects" needs the probability of *any* false rejection to be small, which
Benjamini–Hochberg does not give (once the early, truly changing epochs
reject, BH lets ~alpha of its discoveries be false ones scattered over the
plateau and t_q drifts late).  A pair rejects when its adjusted p-value is
below ``alpha``.  ``t_q`` is the first epoch such that no pair
``(t, t')`` with ``t >= t_q`` rejects, provided at least 3 epochs from ``t_q``
on have ``>= min_survivors`` survivors; otherwise no QSS is found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .survival import FirstPassage, event_counts, plateau_hazard

__all__ = ["QSSResult", "detect_qss", "ks_statistic", "ks_pvalue", "holm_adjust"]

MIN_QSS_EPOCHS = 3


@dataclass(frozen=True)
class QSSResult:
    """Outcome of :func:`detect_qss`.

    ``pvalues[t-1, t'-1]`` is the Holm-adjusted p-value of the comparison of
    epochs ``t < t'`` (NaN where not tested); ``n_survivors[t-1]`` the number
    of recorded survivors at ``t``.  ``hazard`` is the constant hazard on
    epochs ``> t_q`` with its exact Poisson interval ``[hazard_low, hazard_high]``.
    """

    found: bool
    t_q: int | None
    hazard: float
    hazard_low: float
    hazard_high: float
    pvalues: np.ndarray
    n_survivors: np.ndarray
    alpha: float
    message: str

    def confidence_interval(self) -> tuple[float, float]:
        return self.hazard_low, self.hazard_high


def detect_qss(trajectories, fp: FirstPassage, alpha: float = 0.05, min_survivors: int = 20,
               max_comparisons_per_epoch: int = 20, confidence_level: float = 0.95) -> QSSResult:
    """Find the QSS onset ``t_q`` and the plateau hazard ``k`` (see module doc)."""
    values = np.asarray(trajectories, dtype=float)
    if values.ndim != 2 or values.shape[0] != fp.n_replicas:
        raise ValueError(f"trajectories must be 2-D with {fp.n_replicas} rows (one per replica "
                         f"of fp), got shape {values.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if min_survivors < 2:
        raise ValueError(f"min_survivors must be >= 2, got {min_survivors}")
    if max_comparisons_per_epoch < 1:
        raise ValueError(f"max_comparisons_per_epoch must be >= 1, got {max_comparisons_per_epoch}")
    horizon = min(values.shape[1], fp.horizon)
    samples = _survivor_samples(values[:, :horizon], fp)
    n_survivors = np.array([s.size for s in samples])
    pvalues = _pairwise_pvalues(samples, min_survivors, max_comparisons_per_epoch)
    rejects = pvalues < alpha  # NaN compares False
    rows_rejecting = np.flatnonzero(rejects.any(axis=1))
    candidate = 1 if rows_rejecting.size == 0 else int(rows_rejecting[-1]) + 2
    enough = np.count_nonzero(n_survivors[candidate - 1:] >= min_survivors)
    if candidate > horizon or enough < MIN_QSS_EPOCHS:
        message = (f"no quasi-steady state found within {horizon} epochs: survivors' "
                   f"distribution keeps changing (last rejecting epoch "
                   f"{candidate - 1}, Holm level {alpha}), or fewer than {MIN_QSS_EPOCHS} later "
                   f"epochs have >= {min_survivors} survivors")
        return QSSResult(False, None, np.nan, np.nan, np.nan, pvalues, n_survivors, alpha, message)
    d, n = event_counts(fp, horizon)
    k, low, high = plateau_hazard(d, n, candidate + 1, horizon, confidence_level)
    message = (f"quasi-steady state from epoch t_q = {candidate}: no KS comparison among "
               f"epochs >= {candidate} rejects at Holm level {alpha}; hazard k = {float(k):.4g} "
               f"[{float(low):.4g}, {float(high):.4g}] per epoch")
    return QSSResult(True, candidate, float(k), float(low), float(high), pvalues, n_survivors,
                     alpha, message)


def _survivor_samples(values: np.ndarray, fp: FirstPassage) -> list[np.ndarray]:
    """Sorted finite ``a(t)`` of replicas with ``T > t`` (not passed by ``t``)."""
    epochs = np.arange(1, values.shape[1] + 1)
    unpassed = ~(fp.observed[:, None] & (fp.times[:, None] <= epochs[None, :]))
    keep = unpassed & np.isfinite(values)
    return [np.sort(values[keep[:, j], j]) for j in range(values.shape[1])]


def _later_epochs(index: int, horizon: int, max_comparisons: int) -> np.ndarray:
    later = np.arange(index + 1, horizon)
    if later.size <= max_comparisons:
        return later
    return np.unique(np.round(np.linspace(later[0], later[-1], max_comparisons)).astype(int))


def _pairwise_pvalues(samples, min_survivors: int, max_comparisons: int) -> np.ndarray:
    horizon = len(samples)
    pvalues = np.full((horizon, horizon), np.nan)
    rows, cols, stats_d, sizes = [], [], [], []
    for i in range(horizon):
        if samples[i].size < min_survivors:
            continue
        for j in _later_epochs(i, horizon, max_comparisons):
            if samples[j].size < min_survivors:
                continue
            rows.append(i)
            cols.append(j)
            stats_d.append(ks_statistic(samples[i], samples[j]))
            sizes.append((samples[i].size, samples[j].size))
    if rows:
        sizes = np.array(sizes)
        raw = ks_pvalue(np.array(stats_d), sizes[:, 0], sizes[:, 1])
        pvalues[np.array(rows), np.array(cols)] = holm_adjust(raw)
    return pvalues


def ks_statistic(x_sorted: np.ndarray, y_sorted: np.ndarray) -> float:
    """Two-sample KS statistic ``D = sup_v |F_x(v) − F_y(v)|`` of sorted samples."""
    points = np.concatenate([x_sorted, y_sorted])
    cdf_x = np.searchsorted(x_sorted, points, side="right") / x_sorted.size
    cdf_y = np.searchsorted(y_sorted, points, side="right") / y_sorted.size
    return float(np.max(np.abs(cdf_x - cdf_y)))


def ks_pvalue(statistic, n1, n2) -> np.ndarray:
    """Two-sided asymptotic p-value as in ``ks_2samp(method="asymp")``:
    ``kstwo.sf(D, round(n1 n2 / (n1 + n2)))``."""
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    effective = np.round(n1 * n2 / (n1 + n2))
    return np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0)


def holm_adjust(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values:
    ``p̃_(i) = max_{j<=i} min(1, (m − j + 1) p_(j))`` for sorted ``p_(1) <= … <= p_(m)``."""
    pvalues = np.asarray(pvalues, dtype=float)
    order = np.argsort(pvalues)
    m = pvalues.size
    stepped = np.minimum(1.0, (m - np.arange(m)) * pvalues[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def pvalue_table(result: QSSResult):
    """The tested epoch pairs as a tidy table: epoch, later_epoch, p_adjusted (1-based epochs)."""
    import pandas as pd

    pairs = np.argwhere(np.isfinite(result.pvalues))
    return pd.DataFrame({"epoch": pairs[:, 0] + 1, "later_epoch": pairs[:, 1] + 1,
                         "p_adjusted": result.pvalues[pairs[:, 0], pairs[:, 1]]})
