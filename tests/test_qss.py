"""Tests of fptopt.stats.qss: the lagged KS distance, its interval, the QSS onset and the hazard."""

import doctest

import numpy as np
import pytest
from scipy import stats

import fptopt.stats.qss
from fptopt.stats.qss import MIN_QSS_EPOCHS, detect_qss, distance_table, ks_margin, ks_statistic
from fptopt.stats.survival import first_passage

PLATEAU, TARGET = 70.0, 72.5
C95 = 1.3580986393225507  # kstwobign.ppf(0.95), Smirnov's table: 1.36


def noisy_observable(mean_curve, replicas=1000, seed=0):
    """a(t) = mean(t) + N(0, 1), independent across epochs and replicas."""
    rng = np.random.default_rng(seed)
    return mean_curve[None, :] + rng.normal(0.0, 1.0, (replicas, mean_curve.size))


def exponential_relaxation(horizon=200):
    return PLATEAU - 20.0 * np.exp(-np.arange(1, horizon + 1) / 3.0)


def linear_ramp(onset=20, horizon=150, slope=1.0):
    """Mean rises by ``slope`` sd per epoch and is exactly constant from ``onset`` on."""
    return PLATEAU - slope * np.maximum(0, onset - np.arange(1, horizon + 1)).astype(float)


def settle_then_drift(horizon=160):
    """Relaxes with time constant 7 (within 0.1 sd of the plateau from epoch ~32), then
    keeps drifting up by 0.25 sd over the whole run, like late over-fitting."""
    t = np.arange(1, horizon + 1)
    return PLATEAU - 10.0 * np.exp(-t / 7.0) + 0.25 * t / horizon


def survivor_values(values, fp, epoch):
    """Reference: finite a(epoch) of the replicas that have not passed by ``epoch`` (a loop)."""
    kept = [values[r, epoch - 1] for r in range(values.shape[0])
            if not (fp.observed[r] and fp.times[r] <= epoch) and np.isfinite(values[r, epoch - 1])]
    return np.array(kept)


def test_onset_of_a_drifting_plateau_does_not_grow_with_the_replicas():
    """Significance tests drift here: the old Holm-corrected KS criterion gives t_q = 30 with
    200 replicas and 75 with 2000; a per-epoch 5 % KS test at the same lag gives 110 and 140."""
    target = PLATEAU + 2.6
    onsets = []
    for n in (200, 2000):
        values = noisy_observable(settle_then_drift(), replicas=n, seed=10)
        fp = first_passage(values, target)
        assert 0.3 <= fp.censored_fraction <= 0.6
        result = detect_qss(values, fp)
        assert result.found and 15 <= result.t_q <= 45, result.message
        onsets.append(result.t_q)
    assert abs(onsets[1] - onsets[0]) <= 10, onsets


@pytest.mark.parametrize("replicas", [200, 2000])
def test_process_still_rising_until_epoch_50_has_a_late_onset(replicas):
    values = noisy_observable(linear_ramp(onset=50, horizon=150, slope=0.5), replicas=replicas, seed=11)
    result = detect_qss(values, first_passage(values, PLATEAU + 2.6))
    assert result.found and 45 <= result.t_q <= 52, result.message


def test_exponential_relaxation_onset_and_hazard():
    values = noisy_observable(exponential_relaxation())
    result = detect_qss(values, first_passage(values, TARGET))
    # the shift between t and t + 10 is 19.3 exp(-t/3) sd: 0.4 sd (KS distance 0.16) at t = 11.6
    assert result.found and 9 <= result.t_q <= 15, result.message
    truth = stats.norm.sf(TARGET - PLATEAU)  # per-epoch passage probability on the plateau
    assert result.hazard_low <= truth <= result.hazard_high
    assert result.confidence_interval() == (result.hazard_low, result.hazard_high)
    for needle in (f"t_q = {result.t_q}", "tolerance 0.1", "lag 10"):
        assert needle in result.message


@pytest.mark.parametrize("sign", [1, -1])
def test_sharp_onset_found_in_both_directions(sign):
    values = sign * noisy_observable(linear_ramp(onset=20), seed=1)
    direction = "above" if sign == 1 else "below"
    result = detect_qss(values, first_passage(values, sign * TARGET, direction))
    assert result.found and 19 <= result.t_q <= 21, result.message


def test_drifting_process_has_no_qss():
    values = noisy_observable(60.0 + 0.3 * np.arange(1, 101), seed=2)  # 3 sd per lag of 10
    result = detect_qss(values, first_passage(values, 500.0))
    assert not result.found and result.t_q is None and np.isnan(result.hazard)
    assert "no quasi-steady state found" in result.message
    for needle in ("t_q", "tolerance 0.1", "lag 10"):
        assert needle in result.message


def test_too_few_survivors_means_no_qss():
    values = noisy_observable(linear_ramp(onset=5, horizon=40), replicas=30, seed=3)
    result = detect_qss(values, first_passage(values, 60.0))  # everyone passes at epoch 1
    assert not result.found
    assert np.all(np.isnan(result.distance)) and distance_table(result).empty


def test_fewer_than_three_compared_epochs_means_no_qss():
    values = noisy_observable(linear_ramp(onset=1, horizon=10 + MIN_QSS_EPOCHS - 1), replicas=300, seed=4)
    short = detect_qss(values, first_passage(values, TARGET))
    assert not short.found and np.isfinite(short.distance).sum() == MIN_QSS_EPOCHS - 1
    values = noisy_observable(linear_ramp(onset=1, horizon=10 + MIN_QSS_EPOCHS), replicas=300, seed=4)
    assert detect_qss(values, first_passage(values, TARGET)).t_q == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorized_ks_agrees_with_scipy(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(np.round(rng.normal(0, 1, 300), 1))  # rounding creates ties
    y = np.sort(np.round(rng.normal(0.15, 1, 450), 1))
    assert ks_statistic(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)


@pytest.mark.parametrize("lag, confidence_level", [(10, 0.95), (3, 0.9)])
def test_distances_and_intervals_match_a_loop_over_scipy(lag, confidence_level):
    values = np.round(noisy_observable(linear_ramp(onset=15, horizon=40), replicas=150, seed=5), 1)
    values[np.random.default_rng(6).random(values.shape) < 0.05] = np.nan  # unrecorded epochs
    fp = first_passage(values, 71.5)
    result = detect_qss(values, fp, lag=lag, min_survivors=20, confidence_level=confidence_level)
    c = stats.kstwobign.ppf(confidence_level)
    assert result.lag == lag and result.n_survivors.shape == (40,)
    compared = 0
    for t in range(1, 41):
        early = survivor_values(values, fp, t)
        assert result.n_survivors[t - 1] == early.size
        late = survivor_values(values, fp, t + lag) if t + lag <= 40 else np.array([])
        if min(early.size, late.size) < 20:
            assert np.isnan(result.distance[t - 1]) and np.isnan(result.distance_low[t - 1])
            continue
        compared += 1
        d = stats.ks_2samp(early, late).statistic
        half = c * np.sqrt(1 / early.size + 1 / late.size)
        assert result.distance[t - 1] == pytest.approx(d, abs=1e-12)
        assert result.distance_low[t - 1] == pytest.approx(max(0.0, d - half), abs=1e-12)
        assert result.distance_high[t - 1] == pytest.approx(min(1.0, d + half), abs=1e-12)
    assert compared >= 25 - lag


def test_margin_formula():
    assert stats.kstwobign.ppf(0.95) == pytest.approx(C95, rel=1e-12)
    assert ks_margin(100, 400) == pytest.approx(C95 * np.sqrt(0.0125), rel=1e-12)
    np.testing.assert_allclose(ks_margin([50, 1000], [50, 1000]), C95 * np.sqrt([2 / 50, 2 / 1000]))


def test_lag_is_clipped_to_the_horizon():
    values = noisy_observable(linear_ramp(onset=1, horizon=8), replicas=200, seed=7)
    result = detect_qss(values, first_passage(values, TARGET), lag=10)
    assert result.lag == 7 and np.isfinite(result.distance).sum() == 1


def test_distance_table_is_tidy_and_flags_stationary_epochs():
    values = noisy_observable(linear_ramp(onset=20, horizon=60), replicas=300, seed=8)
    result = detect_qss(values, first_passage(values, TARGET), lag=5)
    table = distance_table(result)
    assert list(table.columns) == ["epoch", "later_epoch", "distance", "distance_low", "distance_high",
                                   "n_survivors", "n_survivors_later", "stationary"]
    assert len(table) == np.isfinite(result.distance).sum() == 55
    assert (table["later_epoch"] == table["epoch"] + 5).all()
    assert table["stationary"].dtype == bool
    assert (table["stationary"] == (table["distance_low"] <= result.tolerance)).all()
    assert ((table["distance_low"] <= table["distance"]) & (table["distance"] <= table["distance_high"])).all()
    np.testing.assert_array_equal(table["n_survivors_later"], result.n_survivors[table["later_epoch"] - 1])
    assert not table["stationary"].iloc[:10].any() and table.loc[table["epoch"] >= result.t_q, "stationary"].all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(tolerance=0.0), "tolerance"),
    (dict(tolerance=1.0), "tolerance"),
    (dict(tolerance=-0.1), "tolerance"),
    (dict(lag=0), "lag"),
    (dict(lag=2.5), "lag"),
    (dict(lag="10"), "lag"),
    (dict(lag=True), "lag"),
    (dict(min_survivors=1), "min_survivors"),
    (dict(confidence_level=0.0), "confidence_level"),
    (dict(confidence_level=1.0), "confidence_level"),
])
def test_bad_arguments(kwargs, match):
    values = noisy_observable(linear_ramp(horizon=10), replicas=10)
    with pytest.raises(ValueError, match=match):
        detect_qss(values, first_passage(values, TARGET), **kwargs)


def test_trajectories_must_match_first_passage():
    values = noisy_observable(linear_ramp(horizon=10), replicas=10)
    with pytest.raises(ValueError, match="trajectories"):
        detect_qss(values[:5], first_passage(values, TARGET))


def test_docstring_example_runs():
    outcome = doctest.testmod(fptopt.stats.qss)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_config_settings_take_the_schema_defaults_which_match_detect_qss():
    import inspect
    from pathlib import Path

    import yaml

    from fptopt.pipeline.config import parse_config, qss_settings

    defaults = {name: p.default for name, p in inspect.signature(detect_qss).parameters.items()
                if p.default is not inspect.Parameter.empty}
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    del config["analysis"]["qss"], config["analysis"]["confidence_level"]
    assert qss_settings(parse_config(config)) == defaults  # the schema's defaults are detect_qss's
    config["analysis"] |= {"qss": {"lag": 5}, "confidence_level": 0.9}
    assert qss_settings(parse_config(config)) == {**defaults, "lag": 5, "confidence_level": 0.9}
