"""Tests of fptopt.stats.survival: first passage, Kaplan–Meier, restricted MFPT."""

import numpy as np
import pytest
from scipy import stats

from fptopt.stats.survival import (
    event_counts,
    first_passage,
    holm,
    kaplan_meier,
    logrank_counts,
    plateau_hazard,
    restricted_mfpt,
    survival_matrix,
    weighted_counts,
)


def passage_trajectories(times, horizon):
    """0/1 observable that reaches 1 at epoch ``times[i]`` (never if > horizon)."""
    epochs = np.arange(1, horizon + 1)
    return (epochs[None, :] >= np.asarray(times)[:, None]).astype(float)


def censor(trajectories, last_epochs):
    """NaN-pad every row after its last recorded epoch (a shorter run)."""
    out = trajectories.copy()
    out[np.arange(out.shape[1])[None, :] >= np.asarray(last_epochs)[:, None]] = np.nan
    return out


def reference_km(times, observed, horizon):
    """Textbook Kaplan–Meier written as a plain loop over epochs."""
    sf, value = [1.0], 1.0
    for t in range(1, horizon + 1):
        at_risk = sum(1 for x in times if x >= t)
        events = sum(1 for x, o in zip(times, observed, strict=True) if o and x == t)
        if at_risk:
            value *= 1 - events / at_risk
        sf.append(value)
    return np.array(sf)


def test_first_passage_rules():
    nan, inf = np.nan, np.inf
    data = np.array([
        [1, 5, 2, 9],        # passes at 2
        [1, 2, nan, nan],    # shorter run: censored at 2
        [1, inf, nan, nan],  # diverged: censored at its last finite epoch, 1
        [nan, nan, nan, nan],  # nothing finite: censored at 0
        [1, nan, 7, 1],      # gap in the middle, passes at 3
        [inf, 1, -inf, 1],   # +inf never meets the target; censored at 4
    ])
    fp = first_passage(data, target=5)
    np.testing.assert_array_equal(fp.times, [2, 2, 1, 0, 3, 4])
    np.testing.assert_array_equal(fp.observed, [True, False, False, False, True, False])
    np.testing.assert_array_equal(fp.last_epoch, [4, 2, 2, 0, 4, 4])
    assert fp.horizon == 4 and fp.censored_fraction == pytest.approx(4 / 6)
    below = first_passage(data, target=1, direction="below")
    np.testing.assert_array_equal(below.times, [1, 1, 1, 0, 1, 2])


def test_restrict_censors_late_passages():
    fp = first_passage(passage_trajectories([3, 8, 20], 20), 0.5).restrict(5)
    np.testing.assert_array_equal(fp.times, [3, 5, 5])
    np.testing.assert_array_equal(fp.observed, [True, False, False])


@pytest.mark.parametrize("kwargs, match", [
    (dict(trajectories=np.zeros(5), target=1), "2-D"),
    (dict(trajectories=np.zeros((0, 5)), target=1), "replica"),
    (dict(trajectories=np.zeros((2, 5)), target=1, direction="up"), "direction"),
    (dict(trajectories=np.zeros((2, 5)), target=np.nan), "target"),
])
def test_first_passage_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        first_passage(**kwargs)


def test_geometric_passage_matches_closed_form():
    rng = np.random.default_rng(1)
    k, horizon, n = 0.05, 60, 20000
    times = rng.geometric(k, n)
    last = np.where(rng.random(n) < 0.3, rng.integers(10, horizon + 1, n), horizon)
    fp = first_passage(censor(passage_trajectories(times, horizon), last), 0.5)
    curve = kaplan_meier(fp)
    truth = (1 - k) ** curve.t
    se = (curve.high - curve.low) / (2 * 1.96)
    assert np.all(np.abs(curve.sf - truth) <= 5 * se + 1e-12)
    assert np.mean((curve.low <= truth) & (truth <= curve.high)) > 0.85
    mean = curve.restricted_mean()
    closed_form = (1 - (1 - k) ** horizon) / k
    assert mean.low <= closed_form <= mean.high
    assert mean.estimate == pytest.approx(closed_form, rel=0.02)


def two_stage_sf(t, p, q):
    """Ψ(t) = P(G1 + G2 > t) for independent geometrics on {1, 2, ...}."""
    return (q * (1 - p) ** t - p * (1 - q) ** t) / (q - p)


def test_two_stage_chain_matches_closed_form():
    rng = np.random.default_rng(2)
    p, q, horizon = 0.2, 0.35, 50
    times = rng.geometric(p, 30000) + rng.geometric(q, 30000)
    curve = kaplan_meier(first_passage(passage_trajectories(times, horizon), 0.5))
    truth = two_stage_sf(curve.t, p, q)
    assert truth[1] == pytest.approx(1.0)
    np.testing.assert_allclose(curve.sf, truth, atol=0.012)
    assert restricted_mfpt(curve.sf, horizon) == pytest.approx(truth[:horizon].sum(), rel=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scipy_km_and_vectorized_km_match_reference(seed):
    rng = np.random.default_rng(seed)
    n, horizon = 60, 15
    times = rng.integers(1, 25, n)  # many ties and passages beyond the horizon
    last = rng.integers(0, horizon + 1, n)
    fp = first_passage(censor(passage_trajectories(times, horizon), last), 0.5)
    reference = reference_km(fp.times, fp.observed, horizon)
    curve = kaplan_meier(fp)
    np.testing.assert_allclose(curve.sf, reference, atol=1e-12)
    np.testing.assert_allclose(survival_matrix(*event_counts(fp)), reference, atol=1e-12)
    assert np.all((curve.low <= curve.sf + 1e-12) & (curve.sf <= curve.high + 1e-12))


def test_weighted_counts_equal_repeated_replicas():
    rng = np.random.default_rng(5)
    fp = first_passage(passage_trajectories(rng.integers(1, 30, 40), 20), 0.5)
    weights = rng.multinomial(40, np.full(40, 1 / 40), size=3)
    psi = survival_matrix(*weighted_counts(fp, weights))
    for row, w in zip(psi, weights, strict=True):
        repeated = np.repeat(np.arange(40), w)
        expected = reference_km(fp.times[repeated], fp.observed[repeated], 20)
        np.testing.assert_allclose(row, expected, atol=1e-12)


def test_restricted_mfpt_batch_equals_loop():
    rng = np.random.default_rng(3)
    curves = np.sort(rng.random((4, 3, 30)), axis=-1)[..., ::-1]
    batch = restricted_mfpt(curves, 20)
    loop = np.zeros((4, 3))
    for index in np.ndindex(4, 3):
        for t in range(20):
            loop[index] += curves[index][t]
    np.testing.assert_allclose(batch, loop)
    with pytest.raises(ValueError, match="horizon"):
        restricted_mfpt(curves, 31)


def test_greenwood_interval_of_restricted_mean_is_calibrated():
    rng = np.random.default_rng(4)
    k, horizon = 0.04, 40
    estimates, errors = [], []
    for _ in range(300):
        times = rng.geometric(k, 300)
        mean = kaplan_meier(first_passage(passage_trajectories(times, horizon), 0.5)).restricted_mean()
        estimates.append(mean.estimate)
        errors.append((mean.high - mean.low) / (2 * 1.96))
    assert np.mean(errors) == pytest.approx(np.std(estimates), rel=0.15)


def test_no_event_and_all_events_cases():
    none = kaplan_meier(first_passage(np.zeros((5, 10)), 1.0))
    np.testing.assert_array_equal(none.sf, 1.0)
    np.testing.assert_array_equal(none.low, 1.0)
    assert none.restricted_mean().estimate == 10
    everyone = kaplan_meier(first_passage(passage_trajectories([1, 2, 2], 6), 0.5))
    np.testing.assert_allclose(everyone.sf, [1, 2 / 3, 0, 0, 0, 0, 0])
    assert np.all(np.isfinite(everyone.low) & np.isfinite(everyone.high))
    assert np.all(everyone.low <= everyone.sf) and np.all(everyone.sf <= everyone.high)


def test_kaplan_meier_rejects_bad_arguments():
    fp = first_passage(np.zeros((3, 4)), 1.0)
    with pytest.raises(ValueError, match="horizon"):
        kaplan_meier(fp, horizon=0)
    with pytest.raises(ValueError, match="confidence_level"):
        kaplan_meier(fp, confidence_level=1.5)


def test_plateau_hazard_is_events_per_exposure_with_garwood_interval():
    d = np.array([0, 0, 2, 3, 5])
    n = np.array([100, 100, 100, 98, 95])
    k, low, high = plateau_hazard(d, n, 2, 4)
    assert k == pytest.approx(10 / 293)
    assert low < k < high
    k0, low0, high0 = plateau_hazard(np.zeros(5), n, 2, 4)
    assert k0 == 0 and low0 == 0 and high0 == pytest.approx(3.689 / 293, rel=1e-3)


def _counts(times, observed, horizon):
    """(d, r) at epochs 1..horizon of one sample, written out by loops (a reference)."""
    d, r = np.zeros(horizon), np.zeros(horizon)
    for time, event in zip(times, observed, strict=True):
        r[: int(time)] += 1
        if event:
            d[int(time) - 1] += 1
    return d, r


@pytest.mark.parametrize("seed", range(4))
def test_two_sample_logrank_from_counts_is_scipys_logrank_squared(seed):
    rng = np.random.default_rng(seed)
    horizon = 30
    samples = []
    for size, hazard in ((40, 0.08), (55, 0.11)):
        t = rng.geometric(hazard, size)
        samples.append((np.minimum(t, horizon), t <= horizon))
    (d1, r1), (d2, r2) = (_counts(t, e, horizon) for t, e in samples)
    ours = logrank_counts(np.stack([d1, d2], axis=1), np.stack([r1, r2], axis=1))
    reference = stats.logrank(*(stats.CensoredData(uncensored=t[e], right=t[~e]) for t, e in samples))
    assert ours.df == 1
    assert ours.statistic == pytest.approx(reference.statistic ** 2, rel=1e-10)
    assert ours.pvalue == pytest.approx(reference.pvalue, rel=1e-8)


def test_k_sample_logrank_holds_its_level_with_late_entry_and_detects_a_different_hazard():
    """Four groups with one hazard, two of them entering the risk set late: the
    χ²(3) statistic rejects about 5 % of the time at the 5 % level; a group with
    twice the hazard is found."""
    rng = np.random.default_rng(3)
    horizon = 25

    def group(hazard, size, entry):
        t = entry + rng.geometric(hazard, size)
        d, r = _counts(np.minimum(t, horizon), t <= horizon, horizon)
        r[:entry] = 0  # not at risk before entering
        return d, r

    pvalues = []
    for _ in range(400):
        groups = [group(0.1, 60, entry) for entry in (0, 0, 5, 10)]
        d, r = (np.stack(x, axis=1) for x in zip(*groups, strict=True))
        result = logrank_counts(d, r)
        assert result.df == 3
        pvalues.append(result.pvalue)
    rejections = int(np.sum(np.array(pvalues) < 0.05))
    assert stats.binomtest(rejections, 400, 0.05).pvalue > 0.01, rejections
    groups = [group(0.1, 200, 0), group(0.2, 200, 5)]
    d, r = (np.stack(x, axis=1) for x in zip(*groups, strict=True))
    assert logrank_counts(d, r).pvalue < 1e-4


def test_logrank_needs_two_groups_at_risk_and_valid_counts():
    single = logrank_counts(np.array([[1.0, 0.0]]), np.array([[5.0, 0.0]]))
    assert np.isnan(single.statistic) and np.isnan(single.pvalue) and single.df == 0
    with pytest.raises(ValueError, match="n_events <= n_at_risk"):
        logrank_counts(np.array([[3.0, 0.0]]), np.array([[2.0, 1.0]]))


def test_holm_against_its_step_down_definition():
    p = np.array([0.02, np.nan, 0.001, 0.04, 0.3])
    # sorted: 0.001·4, 0.02·3, 0.04·2, 0.3·1, each at least the previous one
    assert holm(p)[[2, 0, 3, 4]] == pytest.approx([0.004, 0.06, 0.08, 0.3])
    assert np.isnan(holm(p)[1])
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]
