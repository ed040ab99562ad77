"""Bootstrap intervals for the renewal prediction (docs/theory.md, "Uncertainty").

Baseline replicas and single-frequency (perturbed) replicas are resampled
independently with multinomial weights.  For every resample ``b`` the
weighted event/at-risk counts give ``Ψ_b`` (discrete Kaplan–Meier,
:func:`fptopt.stats.survival.survival_matrix`), ``φ_b`` with its continuation, and
the restricted MFPT ``Σ_{t<H} Ψ_{τ,b}(t)`` for every period ``τ`` (closed form
of :func:`fptopt.stats.theory.periodic_survival`).  Resamples are processed in
chunks of ``chunk_size`` with no Python loop over individual resamples.
Intervals are percentile intervals; resamples where no perturbed replica
survives past ``τ*`` give NaN and are left out (counted in ``n_invalid``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .survival import FirstPassage, survival_matrix, weighted_counts
from .theory import extend_response, periodic_survival, response_from_counts

__all__ = ["BootstrapResult", "bootstrap_prediction"]


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile intervals at ``confidence_level``.

    ``mfpt_samples[b, i]`` is resample ``b``'s restricted MFPT at ``taus[i]``;
    ``mfpt_low/high`` its per-τ interval; ``tau_opt_*`` the interval of the
    optimal period; ``speedup_*`` of ``⟨T ∧ H⟩ / min_τ ⟨T_τ ∧ H⟩``.
    """

    taus: np.ndarray
    mfpt_samples: np.ndarray
    mfpt_low: np.ndarray
    mfpt_high: np.ndarray
    baseline_mfpt_low: float
    baseline_mfpt_high: float
    tau_opt_low: float
    tau_opt_high: float
    speedup_low: float
    speedup_high: float
    n_resamples: int
    n_invalid: int
    confidence_level: float

    def confidence_interval(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mfpt_low, self.mfpt_high


def bootstrap_prediction(baseline_fp: FirstPassage, perturbed_fp: FirstPassage, tau_star: int,
                         taus, horizon: int, n_resamples: int = 1000,
                         confidence_level: float = 0.95, seed=None, chunk_size: int = 50,
                         admissible=None) -> BootstrapResult:
    """Bootstrap the periodic prediction; ``seed`` (int or Generator) makes it
    reproducible.  ``admissible`` masks the τ grid for the optimum."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    taus = np.asarray(taus, dtype=int)
    mask = np.ones(taus.size, bool) if admissible is None else np.asarray(admissible, bool)
    if not 1 <= tau_star < perturbed_fp.horizon:
        raise ValueError(f"tau_star must be in 1..{perturbed_fp.horizon - 1}, got {tau_star}")
    rng = np.random.default_rng(seed)
    u_max = min(tau_star, perturbed_fp.horizon - tau_star)
    phi_length = max(int(taus.max()), horizon)
    baseline_mfpt = np.empty(n_resamples)
    mfpt = np.empty((n_resamples, taus.size))
    for start in range(0, n_resamples, chunk_size):
        size = min(chunk_size, n_resamples - start)
        psi = survival_matrix(*weighted_counts(baseline_fp, _weights(rng, baseline_fp, size), horizon))
        counts = weighted_counts(perturbed_fp, _weights(rng, perturbed_fp, size))
        phi, k_phi = response_from_counts(*counts, tau_star, u_max)
        phi_ext = extend_response(phi, k_phi, phi_length)
        curves = periodic_survival(psi, phi_ext, taus, horizon)
        mfpt[start: start + size] = curves[..., :horizon].sum(axis=-1)
        baseline_mfpt[start: start + size] = psi[:, :horizon].sum(axis=-1)
    valid = np.all(np.isfinite(mfpt), axis=1)
    best = np.argmin(np.where(mask, mfpt[valid], np.inf), axis=1)
    tau_opt = taus[best].astype(float)
    speedup = baseline_mfpt[valid] / mfpt[valid][np.arange(best.size), best]
    q = 100 * np.array([(1 - confidence_level) / 2, (1 + confidence_level) / 2])
    per_tau = _percentiles(mfpt[valid], q)
    return BootstrapResult(taus, mfpt, per_tau[0], per_tau[1],
                           *_percentiles(baseline_mfpt, q), *_percentiles(tau_opt, q),
                           *_percentiles(speedup, q), n_resamples, int((~valid).sum()),
                           confidence_level)


def _weights(rng: np.random.Generator, fp: FirstPassage, size: int) -> np.ndarray:
    n = fp.n_replicas
    return rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)


def _percentiles(samples: np.ndarray, q: np.ndarray):
    if samples.shape[0] == 0:
        nan = np.full(samples.shape[1:], np.nan)
        return (float(nan) if nan.ndim == 0 else nan,) * 2
    values = np.percentile(samples, q, axis=0)
    return (float(values[0]), float(values[1])) if values.ndim == 1 else (values[0], values[1])
