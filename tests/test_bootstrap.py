"""The bootstrap of fptopt.stats.design.multi_frequency: coverage, reproducibility,
agreement with the point estimate."""

import numpy as np
import pytest
from scipy import stats

from fptopt.stats import design
from fptopt.stats.design import multi_frequency
from fptopt.stats.survival import first_passage, kaplan_meier
from fptopt.stats.theory import predict_periodic

# Baseline: constant hazard K_BASE.  Perturbed: hazard K_BASE up to the first
# perturbation, K_AFTER after every perturbation (renewal holds exactly), so
# Ψ(t) = (1-K_BASE)^t and φ(u) = (1-K_AFTER)^u in closed form.
K_BASE, K_AFTER, HORIZON, TAU_STAR = 0.02, 0.06, 80, 15


def simulate(replicas, period=None, seed=0):
    rng = np.random.default_rng(seed)
    epochs = np.arange(1, HORIZON + 1)
    perturbed = np.zeros_like(epochs, dtype=bool) if period is None else epochs > period
    hazard = np.where(perturbed, K_AFTER, K_BASE)
    passes = rng.random((replicas, HORIZON)) < hazard[None, :]
    return np.maximum.accumulate(passes, axis=1).astype(float)


def exact_mfpt(taus):
    t = np.arange(HORIZON + 1)
    return predict_periodic((1 - K_BASE) ** t, (1 - K_AFTER) ** t, taus, HORIZON).mfpt


def fit(replicas, seed):
    baseline = first_passage(simulate(replicas, seed=seed), 0.5)
    perturbed = first_passage(simulate(replicas, TAU_STAR, seed=seed + 1000), 0.5)
    return baseline, perturbed


# Coverage: N_COVERAGE independent data sets (every one seeded from COVERAGE_SEED),
# each with its own bootstrap.  A correct 95 % interval covers the truth in
# Binomial(N, 0.95) of them; the acceptance region is that law's central 99.9 %,
# so a seeded run of a correct interval fails with probability < 0.1 % per τ, and
# an interval of the wrong level (an 80 % or a 99 % one) fails every time.  With
# 200 replicas the percentile intervals cover 92.8–95.0 % here.
COVERAGE_SEED, N_COVERAGE, COVERAGE_REPLICAS, COVERAGE_RESAMPLES = 20260127, 400, 200, 200


def test_intervals_cover_the_truth():
    # below τ* (predicted from its response), τ* itself (measured), and above it
    # (the response continued by its plateau hazard)
    taus = np.array([5, 10, 15, 30])
    truth = exact_mfpt(taus)
    covered = []
    for stream in np.random.SeedSequence(COVERAGE_SEED).spawn(N_COVERAGE):
        baseline_seed, perturbed_seed, bootstrap_seed = stream.spawn(3)
        baseline = first_passage(simulate(COVERAGE_REPLICAS, seed=baseline_seed), 0.5)
        perturbed = first_passage(simulate(COVERAGE_REPLICAS, TAU_STAR, seed=perturbed_seed), 0.5)
        result = multi_frequency(baseline, {TAU_STAR: perturbed}, taus, HORIZON,
                                 n_resamples=COVERAGE_RESAMPLES, seed=bootstrap_seed)
        assert np.all(np.isfinite(result.mfpt_low) & np.isfinite(result.mfpt_high))
        covered.append((result.mfpt_low <= truth) & (truth <= result.mfpt_high))
    hits = np.sum(covered, axis=0)
    low, high = stats.binom.interval(0.999, N_COVERAGE, 0.95)
    assert np.all((low <= hits) & (hits <= high)), (
        f"coverage at tau = {taus.tolist()}: {(hits / N_COVERAGE).round(3).tolist()}, outside "
        f"[{low / N_COVERAGE:.3f}, {high / N_COVERAGE:.3f}] (binomial 99.9 % band of a 95 % interval, "
        f"{N_COVERAGE} data sets, seed {COVERAGE_SEED})")


def test_interval_brackets_point_estimate_and_optimum():
    baseline, perturbed = fit(1000, 50)
    taus = np.arange(1, HORIZON)
    result = multi_frequency(baseline, {TAU_STAR: perturbed}, taus, HORIZON, n_resamples=300, seed=1)
    assert np.all((result.mfpt_low <= result.mfpt) & (result.mfpt <= result.mfpt_high))
    # K_AFTER > K_BASE: perturbing often helps, the earliest periods win (tau = 1
    # by a small margin over 2, 3, ... in truth)
    assert result.optimal_tau_low == 1 and result.optimal_tau_high <= 5
    assert result.speedup_low <= result.speedup <= result.speedup_high
    assert result.baseline_mfpt_low <= result.baseline_mfpt <= result.baseline_mfpt_high


def test_single_unit_resample_reproduces_point_estimate(monkeypatch):
    """With every weight 1 the resampled path must equal the point estimate,
    and at τ* the measured value must be scipy's Kaplan–Meier restricted mean."""
    baseline, perturbed = fit(200, 7)
    runs = {TAU_STAR: perturbed}
    taus = np.arange(1, HORIZON)
    point = multi_frequency(baseline, runs, taus, HORIZON)
    monkeypatch.setattr("fptopt.stats.design._multinomial", lambda rng, n, size: np.ones((size, n)))
    samples, base_samples = design._bootstrap(baseline, runs, point.taus, point.source_tau, point.measured,
                                              HORIZON, 3, 0, 2)
    np.testing.assert_allclose(samples, np.tile(point.mfpt, (3, 1)), rtol=1e-10)
    np.testing.assert_allclose(base_samples, point.baseline_mfpt, rtol=1e-10)
    at_tau_star = int(np.flatnonzero(point.taus == TAU_STAR)[0])
    assert point.mfpt[at_tau_star] == pytest.approx(kaplan_meier(perturbed, HORIZON).restricted_mean().estimate)


def test_reproducible_with_seed():
    baseline, perturbed = fit(200, 3)

    def run(seed):
        return multi_frequency(baseline, {TAU_STAR: perturbed}, [5, 20, 40], HORIZON, n_resamples=60, seed=seed)

    first, again, other = run(11), run(11), run(12)
    np.testing.assert_array_equal(first.mfpt_low, again.mfpt_low)
    assert not np.array_equal(first.mfpt_low, other.mfpt_low)


def test_resamples_without_survivors_leave_finite_intervals():
    baseline = first_passage(simulate(50, seed=4), 0.5)
    values = np.ones((5, HORIZON))
    values[0, :] = 0.0  # one perturbed replica survives past tau*: often left out of a resample
    result = multi_frequency(baseline, {TAU_STAR: first_passage(values, 0.5)}, [5, 10], HORIZON,
                             n_resamples=100, seed=0)
    assert np.all(np.isfinite(result.mfpt_low))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_resamples=-1), "n_resamples"),
    (dict(confidence_level=1.0), "confidence_level"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_bad_arguments(kwargs, match):
    baseline, perturbed = fit(20, 8)
    arguments = dict(baseline=baseline, runs={TAU_STAR: perturbed}, taus=[5], horizon=HORIZON) | kwargs
    with pytest.raises(ValueError, match=match):
        multi_frequency(**arguments)


def test_agree_fails_a_correct_prediction_about_five_percent_of_the_time_and_in_ci_more_often():
    """``compare`` on an exact closure against independent measured runs: the
    prediction (200 replicas, τ* = 15) of τ = 10 is checked against a fresh
    run of 200 replicas at τ = 10. ``agree`` (combined uncertainty) holds its
    5 % level within binomial bounds; ``in_ci`` (the prediction's interval
    alone) fails clearly more often."""
    from fptopt.stats.validation import compare

    tau, n = 10, 150
    agree, in_ci = [], []
    for stream in np.random.SeedSequence(20261202).spawn(n):
        baseline_seed, perturbed_seed, measured_seed, bootstrap_seed = stream.spawn(4)
        baseline = first_passage(simulate(200, seed=baseline_seed), 0.5)
        perturbed = first_passage(simulate(200, TAU_STAR, seed=perturbed_seed), 0.5)
        result = multi_frequency(baseline, {TAU_STAR: perturbed}, [tau], HORIZON, n_resamples=100,
                                 seed=bootstrap_seed)
        i = int(np.flatnonzero(result.taus == tau)[0])
        measured = first_passage(simulate(200, tau, seed=measured_seed), 0.5)
        # the measured run perturbs once at τ only (simulate's model); the exact closure
        # is the same for every period here because K_AFTER holds after any perturbation
        c = compare(result.curves[i], result.mfpt[i], result.mfpt_low[i], result.mfpt_high[i], measured, HORIZON)
        agree.append(c.agree)
        in_ci.append(c.in_ci)
    failures = n - int(np.sum(agree))
    assert stats.binomtest(failures, n, 0.05).pvalue > 0.001, failures
    assert n - int(np.sum(in_ci)) > failures + 5
