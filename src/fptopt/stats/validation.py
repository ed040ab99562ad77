"""Prediction vs a measured validation run (docs/theory.md, "Validation").

For a period ``τ`` trained for real, the measured survival ``Ψ̂_τ`` (Kaplan–Meier)
and restricted MFPT ``⟨T̂_τ ∧ H⟩`` are compared with the prediction at the same
horizon ``H``:

* relative MFPT error ``(pred − meas) / meas``;
* survival gap ``max_{0 <= t < H} |Ψ_τ(t) − Ψ̂_τ(t)|`` (sup norm);
* ``in_ci``: whether the measured MFPT lies in the predicted (bootstrap)
  interval ``[low, high]``; ``None`` when no interval was computed (NaN bounds).
  It leaves out the measurement's own noise;
* ``agree``: whether prediction and measurement differ by less than their
  combined uncertainty, ``|pred − meas| <= √(h_pred² + h_meas²)`` with ``h``
  the half-widths of the two intervals (:func:`agree_within`, a normal
  approximation); ``None`` without a predicted interval.

The measured MFPT carries a Greenwood-type normal interval
(:meth:`fptopt.stats.survival.SurvivalCurve.restricted_mean`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .survival import FirstPassage, kaplan_meier

__all__ = ["Comparison", "compare", "agree_within"]


@dataclass(frozen=True)
class Comparison:
    predicted_mfpt: float
    predicted_low: float
    predicted_high: float
    measured_mfpt: float
    measured_low: float
    measured_high: float
    rel_error: float
    survival_gap: float
    in_ci: bool | None
    agree: bool | None
    horizon: int
    n_replicas: int

    def confidence_interval(self) -> tuple[float, float]:
        """Interval of the measured restricted MFPT."""
        return self.measured_low, self.measured_high

    def as_dict(self) -> dict:
        return asdict(self)


def compare(predicted_curve, predicted_mfpt: float, low: float, high: float,
            measured_fp: FirstPassage, horizon: int, confidence_level: float = 0.95) -> Comparison:
    """Compare a predicted ``Ψ_τ(0..H)`` and its restricted MFPT with a measured run."""
    predicted_curve = np.asarray(predicted_curve, dtype=float)
    horizon = int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if predicted_curve.ndim != 1 or predicted_curve.size < horizon:
        raise ValueError(f"predicted_curve must be 1-D with at least {horizon} values "
                         f"(t = 0..H-1), got shape {predicted_curve.shape}")
    if measured_fp.horizon < horizon:
        raise ValueError(f"measured run covers {measured_fp.horizon} epochs, fewer than the "
                         f"horizon {horizon}")
    if not np.isfinite(predicted_mfpt):
        raise ValueError(f"predicted_mfpt must be finite, got {predicted_mfpt}")
    measured = kaplan_meier(measured_fp.restrict(horizon), horizon, confidence_level)
    mean = measured.restricted_mean(horizon)
    gap = float(np.max(np.abs(predicted_curve[:horizon] - measured.sf[:horizon])))
    has_interval = np.isfinite(low) and np.isfinite(high)
    in_ci = bool(low <= mean.estimate <= high) if has_interval else None
    agree = bool(agree_within(predicted_mfpt, low, high, mean.estimate, mean.low, mean.high)) if has_interval else None
    return Comparison(float(predicted_mfpt), float(low), float(high), mean.estimate, mean.low,
                      mean.high, (predicted_mfpt - mean.estimate) / mean.estimate, gap, in_ci, agree,
                      horizon, measured_fp.n_replicas)


def agree_within(predicted, predicted_low, predicted_high, measured, measured_low, measured_high):
    """Whether a prediction and a measurement differ by less than their combined
    uncertainty: ``|pred − meas| <= √(h_pred² + h_meas²)``, ``h`` the half-width
    of each interval. For two independent normal estimates with 95 % intervals it
    is a two-sided 5 % test of equal means, the check for which a correct
    prediction fails 5 % of the time (``in_ci`` fails more often: it ignores the
    measurement's noise). Works elementwise on arrays.

    >>> bool(agree_within(20.0, 18.0, 22.0, 23.0, 21.0, 25.0))   # |20 − 23| = 3 > √(2² + 2²) ≈ 2.83
    False
    >>> bool(agree_within(20.0, 18.0, 22.0, 22.5, 20.5, 24.5))
    True
    """
    half_predicted = (np.asarray(predicted_high, dtype=float) - np.asarray(predicted_low, dtype=float)) / 2
    half_measured = (np.asarray(measured_high, dtype=float) - np.asarray(measured_low, dtype=float)) / 2
    difference = np.abs(np.asarray(predicted, dtype=float) - np.asarray(measured, dtype=float))
    return difference <= np.sqrt(half_predicted ** 2 + half_measured ** 2)
