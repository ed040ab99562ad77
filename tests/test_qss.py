"""Tests of fptopt.qss: KS machinery, Holm adjustment, QSS onset and hazard."""

import time

import numpy as np
import pytest
from scipy import stats

from fptopt.qss import detect_qss, holm_adjust, ks_pvalue, ks_statistic
from fptopt.survival import first_passage

PLATEAU, TARGET = 70.0, 72.5


def noisy_observable(mean_curve, replicas=1000, seed=0):
    """a(t) = mean(t) + N(0, 1), independent across epochs and replicas."""
    rng = np.random.default_rng(seed)
    return mean_curve[None, :] + rng.normal(0.0, 1.0, (replicas, mean_curve.size))


def exponential_relaxation(horizon=200):
    return PLATEAU - 20.0 * np.exp(-np.arange(1, horizon + 1) / 3.0)


def linear_ramp(onset=20, horizon=150):
    """Mean rises by 1 sd per epoch and is exactly constant from ``onset`` on."""
    return PLATEAU - np.maximum(0, onset - np.arange(1, horizon + 1)).astype(float)


def test_exponential_relaxation_onset_and_hazard():
    values = noisy_observable(exponential_relaxation())
    result = detect_qss(values, first_passage(values, TARGET))
    # the remaining mean shift 20 exp(-t/3) is 0.3 sd at t = 12.6 and 0.05 sd at t = 18
    assert result.found and 12 <= result.t_q <= 19, result.message
    truth = stats.norm.sf(TARGET - PLATEAU)  # per-epoch passage probability on the plateau
    assert result.hazard_low <= truth <= result.hazard_high
    assert result.confidence_interval() == (result.hazard_low, result.hazard_high)
    assert "t_q" in result.message


@pytest.mark.parametrize("sign", [1, -1])
def test_sharp_onset_found_in_both_directions(sign):
    values = sign * noisy_observable(linear_ramp(onset=20), seed=1)
    direction = "above" if sign == 1 else "below"
    result = detect_qss(values, first_passage(values, sign * TARGET, direction))
    assert result.found and 19 <= result.t_q <= 21, result.message


def test_drifting_process_has_no_qss():
    values = noisy_observable(60.0 + 0.3 * np.arange(1, 101), seed=2)
    result = detect_qss(values, first_passage(values, 500.0))
    assert not result.found and result.t_q is None and np.isnan(result.hazard)
    assert "no quasi-steady state found" in result.message


def test_too_few_survivors_means_no_qss():
    values = noisy_observable(linear_ramp(onset=5, horizon=40), replicas=30, seed=3)
    result = detect_qss(values, first_passage(values, 60.0))  # everyone passes at epoch 1
    assert not result.found
    assert np.all(np.isnan(result.pvalues))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorized_ks_agrees_with_scipy(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(np.round(rng.normal(0, 1, 300), 1))  # rounding creates ties
    y = np.sort(np.round(rng.normal(0.15, 1, 450), 1))
    reference = stats.ks_2samp(x, y, method="asymp")
    statistic = ks_statistic(x, y)
    assert statistic == pytest.approx(reference.statistic, abs=1e-12)
    assert ks_pvalue(statistic, x.size, y.size) == pytest.approx(reference.pvalue, rel=1e-9)


def test_holm_adjust_matches_step_down_loop():
    pvalues = np.random.default_rng(4).random(25) ** 3
    order = np.argsort(pvalues)
    expected, running = np.empty(25), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (25 - rank) * pvalues[index]))
        expected[index] = running
    np.testing.assert_allclose(holm_adjust(pvalues), expected)


def test_pvalue_matrix_is_upper_triangular_and_thinned():
    values = noisy_observable(exponential_relaxation(120), seed=5)
    result = detect_qss(values, first_passage(values, TARGET), max_comparisons_per_epoch=7)
    tested = np.isfinite(result.pvalues)
    assert not np.any(np.tril(tested))
    assert tested.sum(axis=1).max() == 7
    assert result.n_survivors.shape == (120,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=0.0), "alpha"),
    (dict(min_survivors=1), "min_survivors"),
    (dict(max_comparisons_per_epoch=0), "max_comparisons_per_epoch"),
])
def test_bad_arguments(kwargs, match):
    values = noisy_observable(linear_ramp(horizon=10), replicas=10)
    with pytest.raises(ValueError, match=match):
        detect_qss(values, first_passage(values, TARGET), **kwargs)


def test_trajectories_must_match_first_passage():
    values = noisy_observable(linear_ramp(horizon=10), replicas=10)
    with pytest.raises(ValueError, match="trajectories"):
        detect_qss(values[:5], first_passage(values, TARGET))
