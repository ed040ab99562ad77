"""Tests of bench/compare_search.py: the search comparison replayed on a dense
sweep. A small simulated sweep in the tidy layout stands in for the real one;
the Kaplan–Meier values are checked against scipy's (kaplan_meier), the
budgets against the cost rule written out by hand, and the grid against the
oracle it replays (exact when it sees every recorded replica)."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import compare_search as cs  # noqa: E402  (bench/ is not a package)

from fptopt.stats.survival import FirstPassage, kaplan_meier  # noqa: E402

H = 60
RECORDED = 40


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dense")
    cs.write_synthetic_truth(folder, replicas=RECORDED, protocols=["shrink_perturb"], seed=3)
    return folder


@pytest.fixture(scope="module")
def quick(truth, tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "search.json"
    result = cs.main(["--truth", str(truth), "--quick", "--replicas", "20", "--out", str(out)])
    return result, out


def test_quick_run_writes_the_required_keys_and_a_figure(quick):
    result, out = quick
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert out.with_suffix(".png").stat().st_size > 10_000
    oracle = result["oracle"]
    for key in ("source", "horizon", "taus", "replicas_per_trial", "repeats", "best_tau", "best_mfpt"):
        assert key in oracle, key
    assert oracle["horizon"] == H and oracle["taus"] == list(range(1, 31)) and oracle["replicas_per_trial"] == 20
    assert oracle["synthetic"] is True
    methods = result["methods"]["shrink_perturb"]
    assert {"grid", "random", "fptopt", "optuna_tpe"} <= set(methods)
    assert sum(name.startswith("optuna_sh_") for name in methods) >= 2
    assert sum(name.startswith("optuna_hb_") for name in methods) >= 2
    for name, entry in methods.items():
        assert {"replica_epochs_to_target", "curve", "settings"} <= set(entry), name
        assert all(len(row) == 4 for row in entry["curve"]), name
        budgets = [row[0] for row in entry["curve"]]
        assert budgets == sorted(budgets) and len(set(budgets)) == len(budgets), name


def test_budgets_follow_the_cost_rule(quick):
    result, _ = quick
    methods = result["methods"]["shrink_perturb"]
    unit = 20 * H  # R replicas followed to the horizon
    assert [row[0] for row in methods["grid"]["curve"]] == [30 * unit]
    assert [row[0] for row in methods["random"]["curve"]] == [k * unit for k in range(1, 31)]
    # fptopt pays the baseline: (1 + measured periods) x R x H, rounds 0..2 under --quick
    assert [row[0] for row in methods["fptopt"]["curve"]] == [2 * unit, 3 * unit, 4 * unit]
    assert methods["optuna_tpe"]["stats"]["mean_trial_replica_epochs"] == unit


def test_grid_with_every_recorded_replica_has_zero_regret(truth, tmp_path):
    """Drawing all recorded replicas without replacement, the grid measures the
    oracle itself. (With --draw bootstrap its regret is the sampling noise of
    R replicas per period, which on a flat curve can exceed any fixed bound.)"""
    result = cs.main(["--truth", str(truth), "--quick", "--replicas", str(RECORDED), "--draw", "subsample",
                      "--optuna", "--out", str(tmp_path / "exact.json")])
    row = result["methods"]["shrink_perturb"]["grid"]["curve"][0]
    assert row == [30 * RECORDED * H, 0.0, 0.0, 0.0]
    assert result["methods"]["shrink_perturb"]["grid"]["replica_epochs_to_target"] == 30 * RECORDED * H


def test_the_run_is_reproducible(truth, quick, tmp_path):
    again = cs.main(["--truth", str(truth), "--quick", "--replicas", "20", "--out", str(tmp_path / "again.json")])
    assert again["methods"] == quick[0]["methods"]


@pytest.fixture(scope="module")
def sweep(truth):
    frame, meta = cs.read_truth(truth)
    return cs.build_sweeps(frame, meta["horizon"])["shrink_perturb"]


def test_a_pruned_optuna_trial_costs_fewer_epochs_than_a_full_one(sweep):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    replicas = 25
    steps, costs = cs.optuna_steps(sweep, replicas, ("sh", 5, 3), 30, np.random.default_rng(0), 0, "bootstrap",
                                   "test")
    costs = np.array(costs)
    assert np.all(costs % replicas == 0) and np.all((costs >= replicas) & (costs <= replicas * H))
    assert (costs < replicas * H).sum() >= 5 and (costs == replicas * H).sum() >= 1
    assert [cost for cost, _ in steps] == np.cumsum(costs).tolist()
    _, full = cs.optuna_steps(sweep, replicas, None, 10, np.random.default_rng(0), 0, "bootstrap", "test")
    assert full == [replicas * H] * 10


def random_first_passage(seed, n=60, horizon=H):
    rng = np.random.default_rng(seed)
    times = rng.integers(1, horizon + 1, n)
    observed = rng.random(n) < 0.7
    return FirstPassage(times, observed, times, horizon, 1.0, "above")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_restricted_mean_matches_scipy_kaplan_meier(seed):
    fp = random_first_passage(seed)
    reference = kaplan_meier(fp, H)
    np.testing.assert_allclose(cs.survival(fp, H), reference.sf, atol=1e-12)
    assert cs.restricted_mean(fp, H) == pytest.approx(reference.restricted_mean(H).estimate, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_running_restricted_mean_uses_only_what_was_observed(seed):
    """Optuna's value at epoch e equals the restricted mean to e of the same
    replicas censored at e: no look-ahead."""
    fp = random_first_passage(seed)
    running = cs.running_restricted_mean(fp, H)
    for epoch in (1, 5, 17, 40, H):
        seen = fp.restrict(epoch)
        assert running[epoch - 1] == pytest.approx(kaplan_meier(seen, epoch).restricted_mean(epoch).estimate)


def test_regrets_follow_the_answer_given_within_each_budget(sweep):
    best, other = sweep.best_tau, next(tau for tau in sweep.taus if tau != sweep.best_tau)
    steps = [[(100, None), (300, other), (600, best)], [(50, best)]]
    regrets = cs.regrets_at(sweep, steps, np.array([60, 100, 300, 599, 600, 1000]))
    expected_other = sweep.truth[other] / sweep.truth[best] - 1
    np.testing.assert_allclose(regrets[0], [np.inf, np.inf, expected_other, expected_other, 0, 0])
    np.testing.assert_allclose(regrets[1], 0.0)


@pytest.mark.parametrize("success, expected", [
    ([0.5, 0.95, 0.8, 0.9, 0.95], 40),   # holds from the 4th budget on (a dip before does not count)
    ([0.95, 0.95, 0.95, 0.95, 0.95], 10),
    ([0.95, 0.95, 0.95, 0.95, 0.85], None),
])
def test_budget_to_target(success, expected):
    assert cs.budget_to_target(np.array([10, 20, 30, 40, 50]), np.array(success), 0.9) == expected


def test_draw_subsample_refuses_more_replicas_than_recorded(sweep):
    with pytest.raises(ValueError, match="needs R <= the recorded replicas"):
        cs.draw(sweep.baseline, RECORDED + 1, np.random.default_rng(0), "subsample")


def test_a_table_without_a_baseline_or_a_column_is_refused(truth, tmp_path):
    frame, _ = cs.read_truth(truth)
    with pytest.raises(ValueError, match="no baseline rows"):
        cs.build_sweeps(frame[frame["protocol"] != "none"], H)
    with pytest.raises(ValueError, match="not in the sweep"):
        cs.build_sweeps(frame, H, ["sgdr"])
    frame.drop(columns="observed").to_parquet(tmp_path / "first_passage.parquet")
    with pytest.raises(ValueError, match=r"lacks the columns \['observed'\]"):
        cs.read_truth(tmp_path)


def test_only_the_sweeps_rows_make_the_oracle(truth):
    """The committed default also holds each protocol's τ* run (a second set of
    replicas at τ = 15): a condition column selects the sweep; without it,
    repeated replica ids are refused rather than pooled."""
    frame, _ = cs.read_truth(truth)
    frame["condition"] = np.where(frame["protocol"] == "none", "baseline",
                                  "train_sweep/" + frame["protocol"] + "/tau" + frame["tau"].astype(str))
    extra = frame[frame["tau"] == 15].assign(condition="train_single_frequency/shrink_perturb/tau15")
    both = pd.concat([frame, extra], ignore_index=True)
    sweeps = cs.build_sweeps(cs.dense_rows(both, "train_sweep"), H)
    assert all(fp.n_replicas == RECORDED for fp in sweeps["shrink_perturb"].runs.values())
    with pytest.raises(ValueError, match="appears more than once at protocol 'shrink_perturb', tau 15"):
        cs.build_sweeps(both.drop(columns="condition"), H)
    assert len(cs.dense_rows(frame.drop(columns="condition"), "train_sweep")) == len(frame)
