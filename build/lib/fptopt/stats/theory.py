"""Single-frequency response and the renewal closure (docs/theory.md, "The response and the renewal closure").

Response to a perturbation applied in the QSS at ``τ*``, measured on the
perturbed replicas that survived past it (time re-origined at ``τ*``)::

    φ(u) = P(T > τ* + u | T > τ*),   u = 0 .. u_max,  u_max = min(τ*, H − τ*).

Continuation past ``u_max``: a constant plateau hazard ``k_φ`` is fitted on the
event epochs ``u = ⌈u_max/2⌉ + 1 .. u_max`` (events / at-risk person-epochs)
and ``φ(u) = φ(u_max) (1 − k_φ)^{u − u_max}`` for ``u > u_max``.

Renewal closure for a period ``τ`` (every perturbation restarts the same
response)::

    Ψ_τ(t) = Ψ(t)                           0 <= t <= τ
    Ψ_τ(nτ + u) = Ψ(τ) φ(τ)^{n−1} φ(u)      n >= 1, 0 < u <= τ

and for any schedule ``s₁ < s₂ < …``: ``Ψ`` up to ``s₁``, then ``φ`` between
consecutive perturbations.  All MFPTs are restricted to the horizon:
``⟨T_τ ∧ H⟩ = Σ_{t<H} Ψ_τ(t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .survival import FirstPassage, SurvivalCurve, kaplan_meier, plateau_hazard, survival_matrix

__all__ = ["Response", "PeriodicPrediction", "OptimalPeriod", "response_function",
           "predict_schedule", "predict_periodic", "predict_poisson", "optimal_period",
           "periodic_survival", "response_from_counts", "extend_response"]


@dataclass(frozen=True)
class Response:
    """Measured response ``phi = φ(u)``, ``u = 0..u_max`` with its pointwise
    interval, and the plateau hazard ``k_φ`` used to continue it."""

    tau_star: int
    u: np.ndarray
    phi: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_survivors: int
    plateau_hazard: float
    plateau_hazard_low: float
    plateau_hazard_high: float
    plateau_first: int
    curve: SurvivalCurve

    @property
    def u_max(self) -> int:
        return int(self.u[-1])

    def confidence_interval(self) -> tuple[np.ndarray, np.ndarray]:
        return self.low, self.high

    def extend(self, n: int) -> np.ndarray:
        """``φ`` on ``u = 0..n``, continued with the plateau hazard past ``u_max``."""
        return extend_response(self.phi, self.plateau_hazard, n)

    @property
    def sum_phi(self) -> float:
        """``⟨T_φ⟩ = Σ_{u>=0} φ(u)`` including the geometric tail
        ``φ(u_max)/k_φ`` (inf when ``k_φ = 0`` and ``φ(u_max) > 0``)."""
        tail_start = self.phi[-1]
        if tail_start == 0:
            return float(self.phi[:-1].sum())
        k = self.plateau_hazard
        return float(self.phi[:-1].sum() + (tail_start / k if k > 0 else np.inf))


@dataclass(frozen=True)
class PeriodicPrediction:
    """Predicted ``Ψ_τ(t)`` (``curves[i, t]``, ``t = 0..horizon``) and restricted
    MFPT ``mfpt[i] = Σ_{t<H} Ψ_τ(t)`` for every period ``taus[i]``."""

    taus: np.ndarray
    curves: np.ndarray
    mfpt: np.ndarray
    extrapolated: np.ndarray
    outside_qss: np.ndarray
    horizon: int
    baseline_mfpt: float


@dataclass(frozen=True)
class OptimalPeriod:
    tau: int
    mfpt: float
    baseline_mfpt: float
    speedup: float


def response_function(perturbed_fp: FirstPassage, tau_star: int,
                      confidence_level: float = 0.95) -> Response:
    """Measure ``φ`` from replicas perturbed with period ``tau_star`` (module doc)."""
    tau_star = _as_int(tau_star, "tau_star")
    if not 1 <= tau_star < perturbed_fp.horizon:
        raise ValueError(f"tau_star must be in 1..{perturbed_fp.horizon - 1} (below the "
                         f"perturbed horizon {perturbed_fp.horizon}), got {tau_star}")
    survived = perturbed_fp.times > tau_star
    if not survived.any():
        raise ValueError(f"no perturbed replica survives past tau_star = {tau_star}: "
                         "the response cannot be measured")
    u_max = min(tau_star, perturbed_fp.horizon - tau_star)
    curve = kaplan_meier(perturbed_fp.subset(survived, shift=tau_star), u_max, confidence_level)
    first = _plateau_first(u_max)
    k, k_low, k_high = plateau_hazard(curve.n_events, curve.n_at_risk, first, u_max,
                                      confidence_level)
    return Response(tau_star, curve.t, curve.sf, curve.low, curve.high, int(survived.sum()),
                    float(np.nan_to_num(k)), float(k_low), float(k_high), first, curve)


def _plateau_first(u_max: int) -> int:
    return min(math.ceil(u_max / 2) + 1, u_max)


def response_from_counts(n_events, n_at_risk, tau_star: int, u_max: int):
    """``(φ, k_φ)`` for a batch of perturbed count arrays ``(..., H+1)``:
    ``φ(u) = Ψ_p(τ*+u) / Ψ_p(τ*)`` (the KM product restricted to epochs after
    ``τ*``, identical to KM on re-origined survivors); NaN when nobody survives."""
    d = np.asarray(n_events)[..., tau_star: tau_star + u_max + 1]
    n = np.asarray(n_at_risk)[..., tau_star: tau_star + u_max + 1]
    phi = survival_matrix(d, n)
    alive = n[..., :1] > 0
    phi = np.where(alive, phi, np.nan)
    k, _, _ = plateau_hazard(d, n, _plateau_first(u_max), u_max)
    return phi, np.nan_to_num(k)


def extend_response(phi, plateau_hazard_value, n: int) -> np.ndarray:
    """``φ`` on ``0..n`` (batch along the last axis): measured values, then
    ``φ(u_max) (1 − k_φ)^{u − u_max}``."""
    phi = np.asarray(phi, dtype=float)
    u_max = phi.shape[-1] - 1
    if n <= u_max:
        return phi[..., : n + 1]
    k = np.asarray(plateau_hazard_value, dtype=float)[..., None]
    steps = np.arange(1, n - u_max + 1)
    tail = phi[..., -1:] * (1.0 - k) ** steps
    return np.concatenate([phi, tail], axis=-1)


def periodic_survival(psi, phi_ext, taus, horizon: int) -> np.ndarray:
    """Closed-form ``Ψ_τ(t)`` for ``t = 0..horizon``; batch axes lead:
    ``psi (..., >=H+1)``, ``phi_ext (..., >=max τ+1)`` -> ``(..., len(taus), H+1)``."""
    psi = np.asarray(psi, dtype=float)
    phi_ext = np.asarray(phi_ext, dtype=float)
    taus = np.asarray(taus, dtype=int)
    t = np.arange(horizon + 1)[None, :]
    period = taus[:, None]
    n = np.maximum((t - 1) // period, 0)  # perturbations strictly before t
    u = t - n * period
    psi_at_tau = psi[..., taus][..., None]
    phi_at_tau = phi_ext[..., taus][..., None]
    with np.errstate(invalid="ignore", over="ignore"):
        after = psi_at_tau * phi_at_tau ** np.maximum(n - 1, 0) * phi_ext[..., u]
    return np.where(n >= 1, after, psi[..., None, : horizon + 1])


def predict_periodic(psi, phi, taus, horizon: int, *, t_q: int | None = None,
                     measured_until: int | None = None) -> PeriodicPrediction:
    """Renewal prediction for every period in ``taus`` (closed form, vectorized).

    ``psi`` is the baseline ``Ψ(0..>=H)``; ``phi`` a :class:`Response` (continued
    as needed) or an already continued array ``φ(0..>=max τ)`` whose measured
    part ends at ``measured_until`` (default: its last index).  Flags:
    ``extrapolated = τ > u_max`` (uses the continuation), ``outside_qss = τ < t_q``.
    """
    psi = _check_curve(psi, horizon, "psi")
    taus = _check_taus(taus, horizon)
    if isinstance(phi, Response):
        measured_until = phi.u_max
        phi = phi.extend(max(int(taus.max()), horizon))
    phi = np.asarray(phi, dtype=float)
    if phi.ndim != 1 or phi.size < taus.max() + 1:
        raise ValueError(f"phi must be 1-D with at least max(taus)+1 = {taus.max() + 1} values")
    measured_until = phi.size - 1 if measured_until is None else int(measured_until)
    curves = periodic_survival(psi, phi, taus, horizon)
    outside = taus < t_q if t_q is not None else np.zeros(taus.size, dtype=bool)
    return PeriodicPrediction(taus, curves, curves[:, :horizon].sum(axis=1),
                              taus > measured_until, outside, horizon,
                              float(psi[:horizon].sum()))


def predict_schedule(psi, phi_ext, schedule, horizon: int) -> np.ndarray:
    """``Ψ_S(t)``, ``t = 0..horizon``, for perturbations after the epochs in the
    increasing ``schedule``: ``Ψ`` up to ``s₁``, then
    ``Ψ(s₁) Π_j φ(s_{j+1} − s_j) · φ(t − s_k)`` for ``s_k < t <= s_{k+1}``."""
    psi = _check_curve(psi, horizon, "psi")
    epochs = np.asarray(schedule, dtype=int)
    if epochs.size and (np.any(np.diff(epochs) <= 0) or epochs[0] < 1):
        raise ValueError("schedule must be strictly increasing epochs >= 1")
    epochs = epochs[epochs < horizon]
    phi_ext = np.asarray(phi_ext, dtype=float)
    curve = psi[: horizon + 1].copy()
    if epochs.size == 0:
        return curve
    needed = int(np.max(np.diff(np.append(epochs, horizon))))
    if phi_ext.size < needed + 1:
        raise ValueError(f"phi_ext must cover u = 0..{needed}, has {phi_ext.size} values")
    amplitude = psi[epochs[0]]
    for k, start in enumerate(epochs):
        stop = epochs[k + 1] if k + 1 < epochs.size else horizon
        curve[start + 1: stop + 1] = amplitude * phi_ext[1: stop - start + 1]
        amplitude = amplitude * phi_ext[stop - start]
    return curve


def predict_poisson(psi, phi_ext, rate: float, horizon: int) -> np.ndarray:
    """Expected ``Ψ_r(t)``, ``t = 0..horizon``, when a perturbation follows every
    epoch ``s >= 1`` independently with probability ``rate`` (discrete-time
    Poisson timer).  Exact renewal recursion over the last perturbation epoch::

        P(t) = Ψ(t)(1−r)^{t−1} + Σ_{s=1}^{t−1} r P(s) (1−r)^{t−1−s} φ(t−s).
    """
    psi = _check_curve(psi, horizon, "psi")
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    phi_ext = np.asarray(phi_ext, dtype=float)
    if phi_ext.size < horizon:
        raise ValueError(f"phi_ext must cover u = 0..{horizon - 1}, has {phi_ext.size} values")
    survival = np.ones(horizon + 1)
    keep = (1.0 - rate) ** np.arange(horizon)
    for t in range(1, horizon + 1):
        s = np.arange(1, t)
        renewed = rate * survival[s] * keep[t - 1 - s] * phi_ext[t - s]
        survival[t] = psi[t] * keep[t - 1] + renewed.sum()
    return survival


def optimal_period(prediction: PeriodicPrediction, admissible=None) -> OptimalPeriod:
    """``argmin_τ ⟨T_τ ∧ H⟩`` over the (optionally masked) grid and the predicted
    speedup ``⟨T ∧ H⟩ / ⟨T_τ ∧ H⟩``."""
    mask = np.ones(prediction.taus.size, bool) if admissible is None else np.asarray(admissible, bool)
    if mask.shape != prediction.taus.shape or not mask.any():
        raise ValueError("admissible must be a boolean mask over taus with at least one True")
    mfpt = np.where(mask, prediction.mfpt, np.inf)
    best = int(np.argmin(mfpt))
    return OptimalPeriod(int(prediction.taus[best]), float(mfpt[best]),
                         prediction.baseline_mfpt, prediction.baseline_mfpt / float(mfpt[best]))


def _check_curve(psi, horizon: int, name: str) -> np.ndarray:
    psi = np.asarray(psi, dtype=float)
    if psi.ndim != 1 or psi.size < horizon + 1:
        raise ValueError(f"{name} must be 1-D with at least horizon+1 = {horizon + 1} values")
    return psi


def _check_taus(taus, horizon: int) -> np.ndarray:
    taus = np.atleast_1d(np.asarray(taus))
    if taus.size == 0 or not np.all(np.equal(np.mod(taus, 1), 0)):
        raise ValueError("taus must be a non-empty list of integer periods")
    taus = taus.astype(int)
    if taus.min() < 1 or taus.max() > horizon:
        raise ValueError(f"taus must lie in 1..{horizon} (the horizon), got "
                         f"{taus.min()}..{taus.max()}")
    return taus


def _as_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)
