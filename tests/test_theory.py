"""Tests of fptopt.stats.theory: response, renewal closure, schedules, Poisson timer."""

import numpy as np
import pytest

from fptopt.stats.survival import event_counts, first_passage, kaplan_meier, restricted_mfpt
from fptopt.stats.theory import (
    extend_response,
    optimal_period,
    predict_periodic,
    predict_poisson,
    predict_schedule,
    response_from_counts,
    response_function,
)

# A non-exponential process: with probability GOOD a two-stage chain (stage 1
# left with probability P, then passage with probability Q per epoch), else a
# "stuck" replica passing with the small hazard STUCK.  A full restart (SR)
# redraws everything, so the renewal closure is exact for it.
GOOD, P, Q, STUCK = 0.5, 0.25, 0.4, 0.01


def mixture_sf(t):
    t = np.asarray(t, dtype=float)
    chain = (Q * (1 - P) ** t - P * (1 - Q) ** t) / (Q - P)
    return GOOD * chain + (1 - GOOD) * (1 - STUCK) ** t


def simulate_restarts(replicas, horizon, period=None, seed=0):
    """0/1 observable (1 once passed) under full restarts after epochs period, 2 period, ..."""
    rng = np.random.default_rng(seed)
    good = rng.random(replicas) < GOOD
    stage = np.zeros(replicas, dtype=int)
    passed = np.zeros(replicas, dtype=bool)
    values = np.empty((replicas, horizon))
    for t in range(1, horizon + 1):
        draw = rng.random(replicas)
        passes = np.where(good, (stage == 1) & (draw < Q), draw < STUCK)
        stage = np.where(good & (stage == 0) & (draw < P), 1, stage)
        passed |= passes
        values[:, t - 1] = passed
        if period and t % period == 0:
            good = np.where(passed, good, rng.random(replicas) < GOOD)
            stage[~passed] = 0
    return values


HORIZON, TAU_STAR = 150, 20


@pytest.fixture(scope="module")
def measured():
    baseline = first_passage(simulate_restarts(10000, HORIZON, seed=1), 0.5)
    perturbed = first_passage(simulate_restarts(10000, HORIZON, TAU_STAR, seed=2), 0.5)
    return kaplan_meier(baseline), response_function(perturbed, TAU_STAR)


def test_response_of_full_restart_is_baseline_survival(measured):
    _, response = measured
    np.testing.assert_allclose(response.phi, mixture_sf(response.u), atol=0.015)
    assert np.all(response.low <= response.phi) and np.all(response.phi <= response.high)
    # the fit window u = 11..20 still holds some fast (good) replicas: compare
    # with the exact exposure-weighted hazard of that window, not with STUCK
    u = np.arange(response.plateau_first, TAU_STAR + 1)
    exact = (mixture_sf(u - 1) - mixture_sf(u)).sum() / mixture_sf(u - 1).sum()
    assert response.plateau_hazard == pytest.approx(exact, rel=0.15)
    assert response.plateau_hazard_low <= exact <= response.plateau_hazard_high
    tail = response.phi[-1] / response.plateau_hazard  # geometric continuation summed
    assert response.sum_phi == pytest.approx(response.phi[:-1].sum() + tail)
    assert response.sum_phi == pytest.approx(response.extend(5000).sum(), rel=1e-6)


@pytest.mark.parametrize("tau", [5, 10, 20, 35, 60])
def test_full_restart_prediction_matches_simulation(measured, tau):
    curve, response = measured
    prediction = predict_periodic(curve.sf, response, [tau], HORIZON, t_q=15)
    exact = predict_periodic(mixture_sf(np.arange(HORIZON + 1)),
                             mixture_sf(np.arange(HORIZON + 1)), [tau], HORIZON)
    simulated = kaplan_meier(first_passage(simulate_restarts(10000, HORIZON, tau, seed=tau), 0.5))
    truth = simulated.restricted_mean()
    assert exact.mfpt[0] == pytest.approx(truth.estimate, rel=0.04)  # checks the simulator
    assert prediction.mfpt[0] == pytest.approx(truth.estimate, rel=0.05)
    assert prediction.extrapolated[0] == (tau > TAU_STAR)
    assert prediction.outside_qss[0] == (tau < 15)
    # past tau* the continuation uses the window hazard, slightly too high here
    gap_bound = 0.05 if tau > TAU_STAR else 0.03
    assert np.max(np.abs(prediction.curves[0] - simulated.sf)) < gap_bound


def test_response_equals_ratio_of_perturbed_survival():
    values = simulate_restarts(800, 60, 15, seed=3)
    values[::7, 40:] = np.nan  # shorter runs: censoring after tau*
    fp = first_passage(values, 0.5)
    response = response_function(fp, 15)
    phi, k = response_from_counts(*event_counts(fp), 15, 15)
    np.testing.assert_allclose(phi, response.phi, atol=1e-12)
    assert k == pytest.approx(response.plateau_hazard)
    full = kaplan_meier(fp).sf
    np.testing.assert_allclose(response.phi, full[15:31] / full[15], atol=1e-12)


def test_extend_continues_with_plateau_hazard():
    phi = np.array([1.0, 0.8, 0.6, 0.5])
    extended = extend_response(phi, 0.1, 6)
    np.testing.assert_allclose(extended, [1, 0.8, 0.6, 0.5, 0.45, 0.405, 0.3645])
    batch = extend_response(np.stack([phi, phi / 2]), np.array([0.1, 0.5]), 5)
    np.testing.assert_allclose(batch[1, 4:], [0.125, 0.0625])


def random_curves(seed, horizon):
    rng = np.random.default_rng(seed)
    psi = np.concatenate([[1.0], np.cumprod(1 - 0.2 * rng.random(horizon))])
    phi = np.concatenate([[1.0], np.cumprod(1 - 0.3 * rng.random(horizon))])
    return psi, phi


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_periodic_closed_form_equals_schedule_chain(seed):
    horizon = 45
    psi, phi = random_curves(seed, horizon)
    taus = np.arange(1, horizon + 1)
    prediction = predict_periodic(psi, phi, taus, horizon)
    for tau, curve, mfpt in zip(taus, prediction.curves, prediction.mfpt, strict=True):
        chained = predict_schedule(psi, phi, np.arange(tau, horizon + tau, tau), horizon)
        np.testing.assert_allclose(curve, chained, rtol=1e-12, atol=1e-15)
        assert mfpt == pytest.approx(restricted_mfpt(chained, horizon))


def test_schedule_chain_by_hand():
    psi = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
    phi = np.array([1.0, 0.5, 0.25, 0.2, 0.1])
    curve = predict_schedule(psi, phi, [1, 3], 5)
    np.testing.assert_allclose(curve, [1, 0.9, 0.45, 0.225, 0.1125, 0.05625])
    np.testing.assert_allclose(predict_schedule(psi, phi, [], 5), psi)


def test_poisson_recursion_equals_monte_carlo_of_schedules():
    horizon, rate = 50, 0.15
    psi, phi = random_curves(4, horizon)
    rng = np.random.default_rng(5)
    draws = [predict_schedule(psi, phi, np.flatnonzero(rng.random(horizon) < rate) + 1, horizon)
             for _ in range(4000)]
    monte_carlo = np.mean(draws, axis=0)
    se = np.std(draws, axis=0) / np.sqrt(len(draws))
    exact = predict_poisson(psi, phi, rate, horizon)
    assert np.all(np.abs(exact - monte_carlo) <= 4 * se + 1e-12)
    np.testing.assert_allclose(predict_poisson(psi, phi, 0.0, horizon), psi)
    np.testing.assert_allclose(predict_poisson(psi, phi, 1.0, horizon),
                               predict_periodic(psi, phi, [1], horizon).curves[0])


@pytest.mark.parametrize("response_hazard, expected", [(0.5, "earliest"), (0.005, "latest")])
def test_qss_special_case_sign_of_k_times_sum_phi(response_hazard, expected):
    """Exponential Ψ with hazard k: perturbing helps iff k Σφ < 1 (THEORY §4)."""
    horizon, k = 100, 0.02
    t = np.arange(horizon + 1)
    psi, phi = (1 - k) ** t, (1 - response_hazard) ** t
    taus = np.arange(5, 60)
    best = optimal_period(predict_periodic(psi, phi, taus, horizon))
    assert best.tau == (taus[0] if expected == "earliest" else taus[-1])
    assert (best.speedup > 1) == (expected == "earliest")
    assert best.mfpt == pytest.approx(restricted_mfpt(psi, horizon) / best.speedup)


def test_optimal_period_respects_admissible_mask():
    psi, phi = (0.98 ** np.arange(51)), (0.5 ** np.arange(51))
    prediction = predict_periodic(psi, phi, np.arange(1, 50), 50)
    assert optimal_period(prediction, prediction.taus >= 10).tau == 10
    with pytest.raises(ValueError, match="admissible"):
        optimal_period(prediction, np.zeros(49, bool))


def test_response_errors():
    fp = first_passage(simulate_restarts(50, 30, 10, seed=6), 0.5)
    with pytest.raises(ValueError, match="tau_star"):
        response_function(fp, 30)
    everyone = first_passage(np.ones((5, 30)), 0.5)
    with pytest.raises(ValueError, match="no perturbed replica survives"):
        response_function(everyone, 10)


@pytest.mark.parametrize("call, match", [
    (lambda psi, phi: predict_periodic(psi, phi, [0, 3], 20), "taus"),
    (lambda psi, phi: predict_periodic(psi, phi, [2.5], 20), "taus"),
    (lambda psi, phi: predict_periodic(psi[:10], phi, [3], 20), "psi"),
    (lambda psi, phi: predict_schedule(psi, phi, [5, 3], 20), "schedule"),
    (lambda psi, phi: predict_schedule(psi, phi[:3], [5], 20), "phi_ext"),
    (lambda psi, phi: predict_poisson(psi, phi, 1.5, 20), "rate"),
])
def test_prediction_errors(call, match):
    psi, phi = random_curves(7, 20)
    with pytest.raises(ValueError, match=match):
        call(psi, phi)
