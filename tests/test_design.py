"""Tests of fptopt.stats.design: pooled responses, the multi-frequency prediction,
next_tau, the renewal check and the replayed adaptive design.

References: a per-replica loop that pools hazards by age (written
differently from the vectorized counts), exact renewal processes simulated
at many periods (a full restart renews exactly, so the closure is exact
there), Kaplan–Meier from scipy for measured values, and hand-made grids for
the decision rule.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fptopt.stats.design import (
    DesignSettings,
    decide,
    multi_frequency,
    next_period,
    pooled_response,
    renewal_check,
    renewal_test,
    renewal_tests,
    replay_design,
    run_interval,
)
from fptopt.stats.survival import FirstPassage, kaplan_meier

H = 60


def simulate(hazard, replicas, tau=None, seed=0, horizon=H):
    """First passages of a process whose per-epoch hazard depends on the age
    since the last perturbation (``hazard(age, cycle)``); ``tau=None``: unperturbed.
    Perturbations act after epochs τ, 2τ, …"""
    rng = np.random.default_rng(seed)
    t = np.arange(1, horizon + 1)
    cycle = np.zeros_like(t) if tau is None else (t - 1) // tau
    age = t if tau is None else t - cycle * tau
    passes = rng.random((replicas, horizon)) < hazard(age, cycle)[None, :]
    observed = passes.any(axis=1)
    times = np.where(observed, np.argmax(passes, axis=1) + 1, horizon)
    return FirstPassage(times, observed, np.full(replicas, horizon), horizon, 1.0, "above")


def warm_up(age, cycle):
    """No passage for 6 epochs after every (re)start, then 8% per epoch."""
    return np.where(age <= 6, 0.0, 0.08)


def restricted_mean(fp):
    return kaplan_meier(fp, H).restricted_mean(H).estimate


def pooled_by_loop(fp, tau_m, horizon):
    """Reference: walk over replicas and epochs, pool events and exposure by age."""
    events = np.zeros(tau_m + 1)
    exposure = np.zeros(tau_m + 1)
    for time, observed in zip(fp.times, fp.observed, strict=True):
        for epoch in range(tau_m + 1, min(time, horizon) + 1):
            age = (epoch - 1) % tau_m + 1
            exposure[age] += 1
            events[age] += observed and epoch == time
    u_max = min(tau_m, horizon - tau_m)
    phi = [1.0]
    for age in range(1, u_max + 1):
        phi.append(phi[-1] * (1 - events[age] / exposure[age]))
    return np.array(phi)


@pytest.mark.parametrize("tau_m", [3, 7, 15, 40])
def test_pooled_response_matches_a_per_replica_loop(tau_m):
    fp = simulate(warm_up, 300, tau=tau_m, seed=tau_m)
    phi, _ = pooled_response(fp, tau_m)
    np.testing.assert_allclose(phi, pooled_by_loop(fp, tau_m, H), rtol=1e-12)
    assert phi.size == min(tau_m, H - tau_m) + 1


def test_pooled_response_doctest_case():
    fp = FirstPassage(np.array([3, 12, 25, 40]), np.array([True, True, True, False]), np.full(4, 40), 40, 1.0,
                      "above")
    phi, k = pooled_response(fp, 10)
    np.testing.assert_allclose(phi, pooled_by_loop(fp, 10, 40))
    assert phi[2] == pytest.approx(5 / 6) and k == 0.0


def test_a_full_restart_is_predicted_exactly_at_every_shorter_period():
    """Restarts renew the process: the response measured at τ_m = 20 predicts
    every τ <= 20 within sampling error (checked against runs at those τ)."""
    baseline = simulate(warm_up, 4000, seed=1)
    result = multi_frequency(baseline, {20: simulate(warm_up, 4000, tau=20, seed=2)}, range(1, H), H,
                             n_resamples=200, seed=0)
    covered = 0
    for tau in (8, 10, 12, 15):
        truth = restricted_mean(simulate(warm_up, 20000, tau=tau, seed=100 + tau))
        i = int(np.flatnonzero(result.taus == tau)[0])
        assert result.mfpt[i] == pytest.approx(truth, rel=0.04), tau
        covered += result.mfpt_low[i] <= truth <= result.mfpt_high[i]
        assert result.source_tau[i] == 20 and result.trusted[i] == (tau >= 12) and not result.measured[i]
    assert covered >= 3


def test_measured_periods_report_their_measured_mfpt_and_the_optimum_uses_the_whole_grid():
    baseline = simulate(warm_up, 500, seed=3)
    runs = {5: simulate(warm_up, 500, tau=5, seed=4), 15: simulate(warm_up, 500, tau=15, seed=5)}
    result = multi_frequency(baseline, runs, [2, 10, 30], H)
    for tau, fp in runs.items():
        i = int(np.flatnonzero(result.taus == tau)[0])
        assert result.measured[i] and result.mfpt[i] == pytest.approx(restricted_mean(fp), rel=1e-9)
        np.testing.assert_allclose(result.curves[i], kaplan_meier(fp, H).sf, atol=1e-12)
    assert result.measured_taus == [5, 15]
    assert result.taus.tolist() == [2, 5, 10, 15, 30]
    assert result.source_tau.tolist() == [5, 5, 15, 15, 15]
    assert result.extrapolated.tolist() == [False, False, False, False, True]
    assert result.trusted.tolist() == [False, True, True, True, False]  # 2 < 0.6·5; 30 above every measurement
    assert result.optimal_mfpt == pytest.approx(np.nanmin(result.mfpt))
    # the unperturbed Ψ pools the baseline with epochs 1..τ_m of each periodic run
    # (its replicas censored at τ_m): Kaplan–Meier of that pooled sample
    pooled = FirstPassage(np.concatenate([baseline.times] + [np.minimum(fp.times, tau) for tau, fp in runs.items()]),
                          np.concatenate([baseline.observed] + [fp.observed & (fp.times <= tau)
                                                                for tau, fp in runs.items()]),
                          np.full(1500, H), H, 1.0, "above")
    assert result.baseline_mfpt == pytest.approx(restricted_mean(pooled), rel=1e-9)
    assert result.speedup == pytest.approx(result.baseline_mfpt / result.optimal_mfpt)


def test_run_interval_has_the_spread_of_real_runs():
    """The noise part of the run interval against 4000 simulated runs of 50
    replicas: Var(T ∧ H) = Σ (2t+1) Ψ(t) − (Σ Ψ(t))² from the exact Ψ of a
    geometric first passage."""
    hazard, replicas = 0.06, 50
    psi = (1 - hazard) ** np.arange(H + 1)
    predicted = psi[:H].sum()
    low, high = run_interval([predicted], psi[None, :], [predicted], [predicted], replicas, H, 0.95)
    rng = np.random.default_rng(5)
    means = np.minimum(rng.geometric(hazard, (4000, replicas)), H).mean(axis=1)  # T ∧ H, T >= 1
    assert means.mean() == pytest.approx(predicted, rel=0.01)
    assert (high[0] - low[0]) / (2 * 1.959964) == pytest.approx(means.std(), rel=0.05)
    assert 0.93 <= np.mean((low[0] <= means) & (means <= high[0])) <= 0.97


def test_bootstrap_is_reproducible_and_brackets_the_point_values():
    baseline = simulate(warm_up, 300, seed=6)
    runs = {10: simulate(warm_up, 300, tau=10, seed=7)}
    first = multi_frequency(baseline, runs, [4, 8, 20], H, n_resamples=100, seed=3, chunk_size=7)
    again = multi_frequency(baseline, runs, [4, 8, 20], H, n_resamples=100, seed=3, chunk_size=50)
    np.testing.assert_array_equal(first.mfpt_low, again.mfpt_low)
    assert np.all(first.mfpt_low <= first.mfpt) and np.all(first.mfpt <= first.mfpt_high)
    assert first.speedup_low <= first.speedup <= first.speedup_high
    assert first.baseline_mfpt_low <= first.baseline_mfpt <= first.baseline_mfpt_high


@pytest.mark.parametrize("mfpt, measured, trusted, expected", [
    # the optimum (τ = 4) is not measured: measure it
    ([30, 20, 10, 25], [False, False, False, True], [False, False, True, True], 4),
    # the optimum is the shortest measured period and τ < 8 is untrusted: explore near 8 / 2
    ([30, 25, 12, 10, 20], [False, False, False, True, True], [False, False, False, True, True], 4),
    # same, but everything below is trusted: done
    ([30, 25, 12, 10, 20], [False, False, False, True, True], [True, True, True, True, True], None),
    # the optimum is measured and a shorter measured period brackets it: done
    ([30, 25, 12, 10, 20], [False, True, False, True, True], [False, True, True, True, True], None),
])
def test_next_period(mfpt, measured, trusted, expected):
    taus = [1, 2, 4, 8, 16][-len(mfpt):] if len(mfpt) == 5 else [1, 2, 4, 8]
    assert next_period(taus, mfpt, measured, trusted) == expected
    # nothing to measure when no period beats unperturbed training
    assert next_period(taus, mfpt, measured, trusted, baseline_mfpt=min(mfpt)) is None


def test_renewal_check_accepts_renewal_and_flags_a_response_that_changes_with_the_cycle():
    renewing = simulate(warm_up, 3000, tau=12, seed=8)
    assert renewal_check(renewing, 12)["consistent"].all()

    def slower_after_first(age, cycle):  # recovery takes longer after the 2nd, 3rd, … perturbation
        return np.where(age <= np.where(cycle >= 2, 10, 3), 0.0, 0.1)

    drifting = simulate(slower_after_first, 3000, tau=12, seed=9)
    table = renewal_check(drifting, 12)
    assert list(table["cycle"]) == [1, 2, 3, 4]
    assert not table["consistent"].all()
    assert np.all((table["low"] <= table["cycle_survival"]) & (table["cycle_survival"] <= table["high"]))


def test_renewal_test_holds_its_level_on_renewal_and_rejects_a_response_that_changes_with_the_cycle():
    """On a renewal process the per-run log-rank p-value is uniform: 5 % of
    200 simulated runs reject at 5 % (binomial bounds); the drifting process of
    the check above is rejected at once, and Holm's adjustment across runs
    keeps the renewing runs consistent."""
    pvalues = [renewal_test(simulate(warm_up, 300, tau=12, seed=100 + i), 12).pvalue for i in range(200)]
    rejections = int(np.sum(np.array(pvalues) < 0.05))
    assert stats.binomtest(rejections, 200, 0.05).pvalue > 0.01, rejections

    def slower_after_first(age, cycle):
        return np.where(age <= np.where(cycle >= 2, 10, 3), 0.0, 0.1)

    drifting = simulate(slower_after_first, 3000, tau=12, seed=9)
    test = renewal_test(drifting, 12)
    assert (test.tau, test.cycles, test.df) == (12, 4, 3)
    assert test.pvalue < 1e-10
    table = renewal_tests({12: drifting, 10: simulate(warm_up, 3000, tau=10, seed=8),
                           15: simulate(warm_up, 3000, tau=15, seed=7)}, H)
    assert list(table["tau"]) == [10, 12, 15]
    assert table.set_index("tau")["consistent"].to_dict() == {10: True, 12: False, 15: True}
    assert np.all(table["p_holm"] >= table["p_value"])


def test_replayed_design_finds_a_near_best_period_with_few_frequencies():
    """A process that is best perturbed every few epochs (perturbations speed
    recovery early, then hurt): the design from τ* = 20 must end within 10 %
    of the best measured period, with at most 4 frequencies."""
    def speeds_up(age, cycle):
        return np.where(age <= 2, 0.0, np.where(cycle >= 1, 0.15, 0.03))

    baseline = simulate(speeds_up, 800, seed=10)
    runs = {tau: simulate(speeds_up, 800, tau=tau, seed=200 + tau) for tau in range(1, 31)}
    truth = {tau: restricted_mean(fp) for tau, fp in runs.items()}
    settings = DesignSettings(initial_replicas=100, block=100, max_replicas=800, settle_replicas=400)
    records = replay_design(baseline, runs, tau_star=20, taus=range(1, 31), horizon=H, settings=settings)
    chosen = records[-1]["optimal_tau"]
    assert truth[chosen] <= 1.10 * min(truth.values()), (records, truth)
    assert records[0]["measured_taus"] == [20] and records[0]["replicas"] == {20: 100}
    assert records[-1]["replicas"][chosen] >= 400  # the answer was confirmed before it was settled
    for record in records:  # every replica used, charged up to its first passage (or H), written out again
        used = [baseline.times[:100]] + [runs[tau].times[:n] for tau, n in record["replicas"].items()]
        assert record["replica_epochs"] == sum(int(np.minimum(times, H).sum()) for times in used)
    assert records[-1]["replica_epochs"] < H * 800 * 31 / 20  # a twentieth of a grid charged to the horizon


@pytest.mark.parametrize("kwargs, match", [
    (dict(runs={}), "at least one measured period"),
    (dict(runs={60: None}), "measured period 60 must lie in 1..59"),
    (dict(trust_ratio=0.0), "trust_ratio"),
    (dict(n_resamples=-1), "n_resamples"),
    (dict(taus=[0, 4]), "taus must lie in 1..59"),
])
def test_bad_arguments(kwargs, match):
    baseline = simulate(warm_up, 50, seed=11)
    arguments = dict(baseline=baseline, runs={10: simulate(warm_up, 50, tau=10, seed=12)}, taus=[4], horizon=H)
    with pytest.raises(ValueError, match=match):
        multi_frequency(**(arguments | kwargs))


def test_a_run_shorter_than_the_horizon_is_refused():
    short = simulate(warm_up, 50, tau=10, seed=13, horizon=30)
    with pytest.raises(ValueError, match="covers 30 epochs, fewer than the horizon 60"):
        multi_frequency(simulate(warm_up, 50, seed=14), {10: short}, [4], H)


DENSE = Path(__file__).resolve().parent / "data" / "dense_default"
# A second task (digits, MLP 64-32-32-10, target 96.98 %), so that the design's settings are not tuned to one record.
DENSE_SECOND = Path(__file__).resolve().parent / "data" / "dense_mlp2x32"
ROOT = Path(__file__).resolve().parents[1]


def _default_design():
    """The adaptive settings of config.yaml (the pipeline's own)."""
    import yaml

    from fptopt.pipeline.config import design_settings, parse_config

    return design_settings(parse_config(yaml.safe_load((ROOT / "config.yaml").read_text())))


DEFAULT_DESIGN = _default_design()
# Every period measured once with its first 200 recorded replicas, 3 rounds: the
# design whose unmeasured, trusted predictions the closure is judged on (with
# the adaptive settings the design measures the periods around the optimum
# itself, and the trusted periods it leaves to the closure are farther away).
FIXED_REPLICA_DESIGN = DesignSettings(initial_replicas=200, block=200, max_replicas=200, settle_replicas=200,
                                      rounds=3)


def _measured(mean: float, replicas: int, seed: int, horizon: int = 600):
    """A run whose replicas pass with a constant hazard 1/mean, followed to
    ``horizon`` (no censoring to speak of at the default H = 600)."""
    draws = np.random.default_rng(seed).geometric(1 / mean, replicas)
    return FirstPassage(np.minimum(draws, horizon), draws <= horizon, np.full(replicas, horizon), horizon, 1.0,
                        "above")


def _decision(means: dict, replicas: dict, settings: DesignSettings):
    runs = {tau: _measured(mean, replicas[tau], seed=tau) for tau, mean in means.items()}
    baseline = _measured(40.0, 200, seed=99)
    result = multi_frequency(baseline, runs, sorted(runs), 600)
    return result, decide(result, runs, settings)


def test_decide_settles_a_clear_optimum_and_refines_a_close_one():
    """Three measured periods: one clearly best (2× faster than the others)
    with enough replicas settles; two close ones get a block more, for the one
    with the larger standard error; a chosen period below settle_replicas is
    confirmed first; the indifferent set holds the close pair, not the far one."""
    settings = DesignSettings(initial_replicas=50, block=50, max_replicas=400, settle_replicas=100)
    result, clear = _decision({10: 10.0, 20: 20.0, 30: 20.0}, {10: 400, 20: 400, 30: 400}, settings)
    assert result.optimal_tau == 10 and clear.settled and clear.tau is None
    assert clear.indifferent_taus == [10]
    result, close = _decision({10: 10.0, 20: 10.3, 30: 20.0}, {10: 400, 20: 50, 30: 400}, settings)
    assert not close.settled and close.tau in (10, 20) and close.replicas == 50
    assert close.tau == 20  # the noisier of the two (50 replicas against 400)
    assert {10, 20} <= set(close.indifferent_taus) and 30 not in close.indifferent_taus
    _, confirm = _decision({10: 10.0, 20: 20.0}, {10: 50, 20: 400}, settings)
    assert confirm.tau == 10 and confirm.replicas == 50 and "confirm" in confirm.reason
    small = DesignSettings(initial_replicas=50, block=50, max_replicas=100, settle_replicas=100)
    _, capped = _decision({10: 10.0, 20: 10.2}, {10: 100, 20: 100}, small)
    assert capped.tau is None and not capped.settled  # nothing left to add: unsettled, said so


@pytest.mark.parametrize("kwargs, match", [
    (dict(block=0), "block must be >= 1"),
    (dict(settle_replicas=10), "settle_replicas"),
    (dict(tolerance=1.0), "tolerance"),
    (dict(confidence=0.3), "confidence"),
])
def test_design_settings_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DesignSettings(**kwargs)


def dense_truth(folder=DENSE):
    """A committed dense truth (default: the default's): baseline, τ* runs and every τ in 1..30,
    each condition's replicas in the order of their ids (the pipeline's blocks
    take replicas 0, 1, … in that order)."""
    table = pd.read_parquet(folder / "first_passage.parquet")
    table = table.assign(replica=table["replica"].astype(int)).sort_values(["condition", "replica"], kind="stable")
    meta = json.loads((folder / "meta.json").read_text())
    horizon = meta["horizon"]

    def passage(rows):
        return FirstPassage(rows["time"].to_numpy(), rows["observed"].to_numpy(), np.full(len(rows), horizon),
                            horizon, meta["target"], meta["direction"])

    baseline = passage(table[table["condition"] == "baseline"])
    runs, tau_star_runs = {}, {}
    for condition, rows in table.groupby("condition"):
        kind, *rest = condition.split("/")
        if kind == "train_sweep":
            runs.setdefault(rest[0], {})[int(rest[1].removeprefix("tau"))] = passage(rows)
        elif kind == "train_single_frequency":
            tau_star_runs[rest[0]] = passage(rows)
    return meta, baseline, runs, tau_star_runs


# Both truths hold 800 (default) and 600 (mlp2x32) replicas per dense period
# (bench/extend_truth.py), so a period's truth is known to ±0.5–0.7 epochs (about
# 3 %) and "within 10 % of the best" is not a pattern of noise: on the 200-replica
# truth the default's flat full-reset curve ranked τ = 13 at 10.5 % regret.
TRUTHS = [pytest.param(DENSE, protocol, id=f"default-{protocol}")
          for protocol in ("shrink_perturb", "partial_reset", "full_reset")]
TRUTHS += [pytest.param(DENSE_SECOND, protocol, id=f"mlp2x32-{protocol}")
           for protocol in ("shrink_perturb", "partial_reset", "full_reset")]


@pytest.mark.parametrize("folder, protocol", TRUTHS)
def test_the_design_replayed_on_the_dense_truths_finds_a_near_best_period(folder, protocol):
    """What `snakemake --cores all regret` reports, replayed in seconds: the
    baseline + τ* and the adaptive rounds (the pipeline's own settings, the
    recorded replicas in their order, every replica stopping at its first
    passage) choose a period whose measured MFPT is within 10 % of the best
    of the 30 measured periods, for at most 24,000 replica-epochs and an eighth
    of a dense grid charged the same way (a tenth before the design explored
    below its shortest measured period before stopping: on the second truth's
    shrink-and-perturb that costs one period more); on both committed truths."""
    meta, baseline, runs, tau_star_runs = dense_truth(folder)
    horizon, tau_star = meta["horizon"], meta["tau_star"]
    truth = {tau: restricted_mean(fp) for tau, fp in runs[protocol].items()}
    recorded = {**runs[protocol], tau_star: tau_star_runs[protocol]}  # τ* comes from its own run, as in the pipeline
    records = replay_design(baseline, recorded, tau_star=tau_star, taus=range(1, 31), horizon=horizon,
                            settings=DEFAULT_DESIGN)
    final = records[-1]
    assert truth[final["optimal_tau"]] <= 1.10 * min(truth.values()), (records, truth)
    assert final["optimal_tau"] in final["indifferent_taus"]
    # the pipeline's dense grid: sweep_replicas = 200 per period (the truth holds more, to judge precisely)
    grid_cost = sum(int(np.minimum(fp.times[:200], horizon).sum()) for fp in runs[protocol].values())
    assert final["replica_epochs"] <= min(24_000, grid_cost / 8)


@pytest.mark.parametrize("folder", [DENSE, DENSE_SECOND], ids=["default", "mlp2x32"])
@pytest.mark.parametrize("protocol", ["shrink_perturb", "partial_reset", "full_reset"])
def test_the_indifferent_set_holds_the_dense_truths_best_period(folder, protocol):
    """On a flat optimum the set of periods indistinguishable from the choice is
    the honest answer: the answer (the choice and its indifferent set) covers a
    near-best period, i.e. the choice is within 10 % of the dense grid's best
    or the best period is in the set; and the set says something (at most two
    thirds of the grid)."""
    meta, baseline, runs, tau_star_runs = dense_truth(folder)
    horizon, tau_star = meta["horizon"], meta["tau_star"]
    truth = {tau: restricted_mean(fp) for tau, fp in runs[protocol].items()}
    recorded = {**runs[protocol], tau_star: tau_star_runs[protocol]}
    final = replay_design(baseline, recorded, tau_star=tau_star, taus=range(1, 31), horizon=horizon,
                          settings=DEFAULT_DESIGN)[-1]
    best = min(truth, key=truth.get)
    near_best = truth[final["optimal_tau"]] <= 1.10 * truth[best]
    assert near_best or best in final["indifferent_taus"], (final, truth)
    assert final["optimal_tau"] in final["indifferent_taus"]
    assert len(final["indifferent_taus"]) <= 20


def test_trusted_predictions_on_the_default_dense_truth():
    """Every trusted, unmeasured prediction of the replayed designs against the
    dense measurement: median |relative error| <= 5 %, and the two agree within
    their combined 95 % uncertainty for >= 85 % of the periods."""
    meta, baseline, runs, tau_star_runs = dense_truth()
    horizon, tau_star = meta["horizon"], meta["tau_star"]
    errors, agree, in_run_interval = [], [], []
    for protocol, by_tau in runs.items():
        recorded = {**by_tau, tau_star: tau_star_runs[protocol]}
        final = replay_design(baseline, recorded, tau_star=tau_star, taus=range(1, 31), horizon=horizon,
                              settings=FIXED_REPLICA_DESIGN)[-1]
        result = multi_frequency(baseline, {t: recorded[t] for t in final["measured_taus"]}, range(1, 31), horizon,
                                 n_resamples=200, seed=0)
        for i in np.flatnonzero(result.trusted & ~result.measured):
            measured = kaplan_meier(by_tau[int(result.taus[i])], horizon).restricted_mean(horizon)
            errors.append(result.predicted[i] / measured.estimate - 1)
            combined = np.hypot((result.mfpt_high[i] - result.mfpt_low[i]) / 2, (measured.high - measured.low) / 2)
            agree.append(abs(result.predicted[i] - measured.estimate) <= combined)
            in_run_interval.append(result.run_low[i] <= measured.estimate <= result.run_high[i])
    assert len(errors) >= 15
    assert np.median(np.abs(errors)) <= 0.05, np.round(errors, 3)
    assert np.mean(agree) >= 0.85
    assert np.mean(in_run_interval) >= 0.85  # the 95 % prediction interval of a 200-replica run


# ---------------------------------------------------------------- any schedule

def _renewal_first_passages(rng, replicas, horizon, hazard, period=None):
    """A renewal process: per-epoch passage probability hazard(age); a full reset after
    epochs τ, 2τ, … sets the age back to 0 (the closure is exact for it)."""
    from fptopt.stats.survival import FirstPassage

    epochs = np.arange(1, horizon + 1)
    age = ((epochs - 1) % period + 1) if period else epochs
    passed = rng.random((replicas, horizon)) < hazard(age)[None, :]
    observed = passed.any(axis=1)
    times = np.where(observed, passed.argmax(axis=1) + 1, horizon)
    return FirstPassage(times, observed, np.full(replicas, horizon), horizon, 1.0, "above")


def test_any_schedule_matches_the_exact_renewal_answer_within_two_percent():
    from fptopt.stats.design import Schedule, predict_schedules
    from fptopt.stats.theory import predict_poisson, predict_schedule

    horizon = 60

    def hazard(age):
        return np.where(age <= 5, 0.0, 0.05)

    rng = np.random.default_rng(11)
    baseline = _renewal_first_passages(rng, 6000, horizon, hazard)
    runs = {tau: _renewal_first_passages(rng, 6000, horizon, hazard, tau) for tau in (10, 20)}
    schedules = [Schedule(epochs=(12, 20, 35, 50)), Schedule(epochs=(8, 16, 24, 32, 40)), Schedule(rate=0.1)]
    table = predict_schedules(baseline, runs, schedules, horizon, n_resamples=100, seed=0)
    psi = np.concatenate([[1.0], np.cumprod(1 - hazard(np.arange(1, horizon + 1)))])  # exact Ψ; φ = Ψ (renewal)
    exact = [predict_schedule(psi, psi, [12, 20, 35, 50], horizon)[:horizon].sum(),
             predict_schedule(psi, psi, [8, 16, 24, 32, 40], horizon)[:horizon].sum(),
             predict_poisson(psi, psi, 0.1, horizon)[:horizon].sum()]
    np.testing.assert_allclose(table["mfpt"], exact, rtol=0.02)
    assert (table["mfpt_low"] <= table["mfpt"]).all() and (table["mfpt"] <= table["mfpt_high"]).all()
    assert table["source_tau"].tolist() == [20, 10, 10]  # the shortest measured τ_m ≥ the longest gap (or 1/rate)
    # gaps 8..15 against τ_m = 20: 8 < 0.6 · 20; a timer's geometric gaps never all fit the window
    assert table["trusted"].tolist() == [False, True, False]
    assert table["schedule"].tolist() == ["12,20,35,50", "8,16,24,32,40", "poisson:0.1"]


def test_schedule_search_finds_the_exact_best_two_phase_schedule_and_timer_of_a_renewal_process():
    """Full reset of a renewal process whose hazard falls with age to a plateau
    (from age 6: a QSS the τ_m = 10 response reaches, so its continuation past
    τ_m, which a timer's long gaps need, is right): restarting helps, and the
    closure is exact for every schedule. The search's predictions
    match the exact answers, and its best of each kind is the exact best among
    the trusted candidates (within the estimate's noise)."""
    from fptopt.stats.design import search_schedules, two_phase
    from fptopt.stats.theory import predict_poisson, predict_schedule

    horizon = 60

    def hazard(age):
        return np.where((age >= 3) & (age <= 5), 0.15, 0.02)

    rng = np.random.default_rng(5)
    baseline = _renewal_first_passages(rng, 6000, horizon, hazard)
    runs = {tau: _renewal_first_passages(rng, 6000, horizon, hazard, tau) for tau in (6, 10)}
    table = search_schedules(baseline, runs, horizon, taus=range(6, 11), rates=[0.1, 0.125, 0.15],
                             best_period_mfpt=12.0, n_resamples=50, seed=0)
    psi = np.concatenate([[1.0], np.cumprod(1 - hazard(np.arange(1, horizon + 1)))])

    def exact(row):
        if row["kind"] == "poisson":
            return predict_poisson(psi, psi, row["rate"], horizon)[:horizon].sum()
        return predict_schedule(psi, psi, list(two_phase(int(row["first"]), int(row["tau"]), horizon).epochs),
                                horizon)[:horizon].sum()

    table["exact"] = table.apply(exact, axis=1)
    assert not ((table["kind"] == "two_phase") & (table["first"] == table["tau"])).any()  # periods are not repeated
    assert len(table) == 5 * 58 + 3
    assert not table.loc[table["kind"] == "poisson", "trusted"].any()  # timers never are
    trusted = table[table["trusted"] | (table["kind"] == "poisson")]  # exact for this process all the same
    np.testing.assert_allclose(trusted["mfpt"], trusted["exact"], rtol=0.03)
    for kind in ("two_phase", "poisson"):
        rows = trusted[trusted["kind"] == kind]
        best = table[table["best"] & (table["kind"] == kind)].iloc[0]
        assert best["mfpt"] == rows["mfpt"].min()
        assert best["exact"] <= 1.02 * rows["exact"].min()
        assert best["mfpt_low"] <= best["mfpt"] <= best["mfpt_high"]
        assert bool(best["better_than_best_period"]) == (best["mfpt_high"] < 12.0)
    assert table.loc[~table["best"], "mfpt_low"].isna().all()


def _warm_up_process(rng, replicas, horizon, epochs):
    """First passages of a process where a two-phase schedule beats every period.
    Nothing passes during a 10-epoch warm-up, and a perturbation during it restarts
    it. After it the hazard is 0.02, except 0.3 at ages 3 and 4 since the last
    perturbation: a perturbation in the QSS gives a kick three epochs later. The
    response to one is the same whenever it comes after the warm-up, so the
    closure is exact for schedules whose first perturbation comes at or after
    epoch 10."""
    from fptopt.stats.survival import FirstPassage

    acts = set(epochs)
    warm_end = np.full(replicas, 10)
    last = np.full(replicas, -100)
    passed = np.zeros(replicas, dtype=int)
    for t in range(1, horizon + 1):
        age = t - last
        hazard = np.where(t <= warm_end, 0.0, np.where((age >= 3) & (age <= 4), 0.3, 0.02))
        hit = (passed == 0) & (rng.random(replicas) < hazard)
        passed[hit] = t
        if t in acts:
            during = t < warm_end
            warm_end = np.where(during, t + 10, warm_end)
            last = np.where(during, last, t)
    observed = passed > 0
    return FirstPassage(np.where(observed, passed, horizon), observed, np.full(replicas, horizon), horizon, 1.0,
                        "above")


def test_a_two_phase_schedule_better_than_every_period_is_measured_and_becomes_the_answer():
    from fptopt.stats.design import (
        DesignSettings,
        measured_means,
        next_schedule,
        schedule_answer,
        search_schedules,
    )

    horizon = 40
    rng = np.random.default_rng(3)
    baseline = _warm_up_process(rng, 2000, horizon, [])
    runs = {tau: _warm_up_process(rng, 2000, horizon, range(tau, horizon, tau)) for tau in (10, 12)}
    period_mfpt, period_se = measured_means(runs, horizon)[10]
    truth = {tau: _warm_up_process(rng, 20000, horizon, range(tau, horizon, tau)) for tau in range(4, 16)}
    best_period = min(measured_means(truth, horizon).values())[0]
    assert best_period == pytest.approx(measured_means(truth, horizon)[10][0])  # τ = 10 is the best period
    search = search_schedules(baseline, runs, horizon, taus=range(4, 16), rates=[], best_period_mfpt=period_mfpt,
                              t_q=10, n_resamples=100, seed=0)
    best = search[search["best"]].iloc[0]
    assert (best["first"], best["tau"]) == (10, 6)  # the shortest trusted gap against τ_m = 10: 0.6 · 10
    chosen = next_schedule(search, {}, DesignSettings())
    assert chosen is not None and chosen[0].epochs == (10, 16, 22, 28, 34) and chosen[1] == 200
    exact = _warm_up_process(rng, 20000, horizon, chosen[0].epochs)
    exact_mfpt = measured_means({0: exact}, horizon)[0][0]
    assert best["mfpt"] == pytest.approx(exact_mfpt, rel=0.03)  # the closure is exact for this process
    assert exact_mfpt < 0.95 * best_period  # 8 % faster than the best period (20,000 replicas each)
    measured = {best["schedule"]: _warm_up_process(rng, chosen[1], horizon, chosen[0].epochs)}
    assert next_schedule(search, measured, DesignSettings()) is None  # measured: nothing more to do
    answer = schedule_answer(period_mfpt, period_se, measured, horizon)
    assert answer["schedule"] == "10,16,22,28,34" and answer["replicas"] == 200
    # a schedule no faster than the period does not replace it
    assert schedule_answer(period_mfpt, period_se, {"10,20,30": runs[10]}, horizon) is None


def test_unknown_below_names_the_untrusted_period_nearest_half_of_the_shortest_measured_one():
    from fptopt.stats.design import unknown_below

    taus = np.arange(1, 31)
    measured = np.isin(taus, [15, 30])
    trusted = ((taus >= 9) & (taus <= 15)) | (taus >= 18)  # windows [0.6·τ_m, τ_m] of 15 and 30
    assert unknown_below(taus, measured, trusted) == 7  # |7 − 7.5| = |8 − 7.5|: the shorter
    assert unknown_below(taus, np.isin(taus, [1, 15]), trusted) is None  # τ = 1 measured: nothing below it
    assert unknown_below(taus, measured, np.ones(taus.size, bool)) is None  # nothing untrusted below


def test_the_design_explores_below_before_it_stops_unless_perturbing_that_often_already_hurts():
    """Measured: τ = 10 and the choice τ = 20 (2× faster), each with 400
    replicas, so the threat test settles; periods 1..5 are untrusted. The design
    does not stop: it measures τ = 5 (half of 10) first, unless τ = 10 is
    distinguishably slower than unperturbed training (80 against 40 epochs),
    or the switch is off."""
    import dataclasses

    settings = DesignSettings(initial_replicas=50, block=50, max_replicas=400, settle_replicas=100)
    baseline = _measured(40.0, 200, seed=99)

    def decision(mean_at_10, settings):
        runs = {10: _measured(mean_at_10, 400, seed=10), 20: _measured(10.0, 400, seed=20)}
        result = multi_frequency(baseline, runs, range(1, 31), 600)
        assert result.optimal_tau == 20 and result.optimal_measured and not result.trusted[:5].any()
        return decide(result, runs, settings)

    explore = decision(20.0, settings)
    assert (explore.tau, explore.replicas, explore.settled) == (5, 50, False)
    assert explore.reason.startswith("explore below the shortest measured period before stopping")
    assert "was: settled" in explore.reason
    harmful = decision(80.0, settings)
    assert harmful.tau is None and harmful.settled
    off = decision(20.0, dataclasses.replace(settings, explore_below=False))
    assert off.tau is None and off.settled


def test_the_pooled_baseline_standard_error_is_greenwoods_of_the_pooled_counts():
    """multi_frequency's baseline MFPT and its standard error against
    Kaplan–Meier (Greenwood) on the pooled replicas written out by hand: the
    baseline's replicas plus the run's replicas followed to τ_m (censored there
    when not passed by then)."""
    horizon = 60
    baseline = _measured(40.0, 120, seed=1, horizon=horizon)
    run = _measured(20.0, 80, seed=2, horizon=horizon)
    tau_m = 12
    result = multi_frequency(baseline, {tau_m: run}, [6, 12], horizon)
    before = run.times <= tau_m
    pooled = FirstPassage(np.concatenate([baseline.times, np.where(before & run.observed, run.times, tau_m)]),
                          np.concatenate([baseline.observed, before & run.observed]),
                          np.full(200, horizon), horizon, 1.0, "above")
    mean = kaplan_meier(pooled, horizon).restricted_mean(horizon)
    assert result.baseline_mfpt == pytest.approx(mean.estimate, rel=1e-12)
    assert result.baseline_standard_error == pytest.approx(mean.standard_error, rel=1e-12)


def test_grid_regret_is_the_plug_in_ratio_with_bonferroni_normal_bounds():
    """Against the formula written out: Kaplan–Meier means and Greenwood
    standard errors of each period, z = Φ⁻¹(1 − 0.05 / (2·3))."""
    from scipy import stats

    from fptopt.stats.design import grid_regret

    horizon = 60
    runs = {tau: _measured(mean, 80, seed=tau, horizon=horizon) for tau, mean in ((5, 30.0), (10, 20.0), (15, 22.0))}
    result = grid_regret(runs, 15, horizon)
    mean = {tau: kaplan_meier(fp, horizon).restricted_mean(horizon) for tau, fp in runs.items()}
    z = stats.norm.ppf(1 - 0.05 / 6)
    up = {tau: r.estimate + z * r.standard_error for tau, r in mean.items()}
    down = {tau: r.estimate - z * r.standard_error for tau, r in mean.items()}
    assert result.best_tau == 10
    assert result.regret == pytest.approx(mean[15].estimate / mean[10].estimate - 1, rel=1e-12)
    assert result.low == pytest.approx(max(0.0, down[15] / min(up.values()) - 1), abs=1e-12)
    assert result.high == pytest.approx(up[15] / min(down.values()) - 1, rel=1e-12)


def test_grid_regret_interval_covers_zero_on_a_flat_noisy_grid_and_excludes_it_for_a_clearly_worse_choice():
    """Thirty periods of one distribution (200 replicas each): every choice is
    truly optimal, yet the plug-in regret of the median period is several per
    cent (the minimum of thirty noisy means is biased low); the interval starts
    at 0. A period twice as slow has an interval well away from 0."""
    from fptopt.stats.design import grid_regret

    horizon = 600
    flat = {tau: _measured(20.0, 200, seed=100 + tau) for tau in range(1, 31)}
    means = {tau: restricted_mean(fp) for tau, fp in flat.items()}
    median_tau = sorted(means, key=means.get)[15]
    result = grid_regret(flat, median_tau, horizon)
    assert result.regret > 0.05 and result.low == 0.0 and result.high > result.regret
    slow = dict(flat) | {31: _measured(40.0, 200, seed=7)}
    assert grid_regret(slow, 31, horizon).low > 0.3
    with pytest.raises(ValueError, match="not a measured period"):
        grid_regret(flat, 40, horizon)
