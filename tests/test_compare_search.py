"""Tests of bench/compare_search.py: the search comparison replayed on a dense
sweep. A small simulated sweep in the tidy layout stands in for the real one;
the Kaplan–Meier values are checked against scipy's (kaplan_meier), the
first-passage cost of every method against the rule written out by hand
(``--draw subsample``: exact), the grid against the oracle it replays (exact
when it sees every recorded replica), and every method against one
budget-to-target rule on one budget grid."""

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
QUICK = ["--quick", "--replicas", "20", "--grid-replicas", "10", "20"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dense")
    cs.write_synthetic_truth(folder, replicas=RECORDED, protocols=["shrink_perturb"], seed=3)
    return folder


@pytest.fixture(scope="module")
def quick(truth, tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "search.json"
    result = cs.main(["--truth", str(truth), *QUICK, "--out", str(out)])
    return result, out


@pytest.fixture(scope="module")
def sweep(truth):
    frame, meta = cs.read_truth(truth)
    return cs.build_sweeps(frame, meta["horizon"])["shrink_perturb"]


@pytest.fixture(autouse=True, scope="module")
def quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def by_hand(times, epoch=H):
    """Σ_i min(T_i, e), written out."""
    return int(sum(min(int(t), epoch) for t in times))


# ------------------------------------------------------------ the JSON

def test_quick_run_writes_the_required_keys_and_a_figure(quick):
    result, out = quick
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert result["accounting"] == "first_passage"
    oracle = result["oracle"]
    for key in ("source", "horizon", "taus", "replicas_per_trial", "grid_replicas", "repeats", "best_tau",
                "best_mfpt", "cost_rule", "budget_grid", "min_recorded"):
        assert key in oracle, key
    assert "min(T_i, e)" in oracle["cost_rule"]
    assert oracle["horizon"] == H and oracle["taus"] == list(range(1, 31)) and oracle["replicas_per_trial"] == 20
    assert oracle["grid_replicas"] == [10, 20] and oracle["synthetic"] is True
    assert list(result["methods"]) == ["shrink_perturb"]
    methods = result["methods"]["shrink_perturb"]
    assert list(methods)[:6] == ["grid", "random", "grid_R10", "grid_R20", "random_R10", "random_R20"]
    assert {"fptopt", "optuna_tpe"} <= set(methods)
    assert sum(name.startswith("optuna_sh_") for name in methods) == 4
    assert sum(name.startswith("optuna_hb_") for name in methods) == 4
    assert not any(name.endswith("_R50") for name in methods)  # --quick: Optuna at --replicas only
    for name, entry in methods.items():
        assert {"replica_epochs_to_target", "curve", "settings", "success_share", "multiple_of_fptopt"} <= set(entry)
        assert all(len(row) == 4 for row in entry["curve"]), name


def test_every_method_is_judged_on_one_budget_grid_by_one_rule(quick):
    """One budget grid (geometric, to the most the grid or random search
    spent) and budget_to_target applied identically to every method."""
    result, _ = quick
    methods = result["methods"]["shrink_perturb"]
    grid = result["oracle"]["budget_grid"]["shrink_perturb"]
    budgets = [row[0] for row in methods["fptopt"]["curve"]]
    assert budgets == sorted(set(budgets)) and budgets[0] == grid["low"] and budgets[-1] == grid["high"]
    assert 40 <= len(budgets) <= 60 and grid["points"] == len(budgets)
    for name, entry in methods.items():
        assert [row[0] for row in entry["curve"]] == budgets, name
        success = np.array([s for _, s in entry["success_share"]])
        assert entry["replica_epochs_to_target"] == cs.budget_to_target(np.array(budgets), success, 0.9), name
    for name, entry in methods.items():
        if name.startswith("optuna_"):
            assert entry["stats"]["spent_min"] >= budgets[-1], name  # no curve ends for lack of trials
            assert entry["stats"]["trial_cap_hit"] == 0, name


def test_grid_and_random_keep_their_best_replicas_after_the_fact(quick):
    result, _ = quick
    methods = result["methods"]["shrink_perturb"]
    for kind in ("grid", "random"):
        entry = methods[kind]
        best = entry["settings"]["replicas"]
        assert entry["settings"]["best_of_replicas"] == [10, 20] and "after the fact" in entry["settings"]["note"]
        assert entry["curve"] == methods[f"{kind}_R{best}"]["curve"]
        own = [methods[f"{kind}_R{r}"]["replica_epochs_to_target"] for r in (10, 20)]
        reached = [x for x in own if x is not None]
        assert entry["replica_epochs_to_target"] == (min(reached) if reached else None)


def test_the_markdown_table_has_one_row_per_method(quick):
    result, _ = quick
    table = cs.markdown_table(result).splitlines()
    methods = result["methods"]["shrink_perturb"]
    assert len(table) == 2 + len(methods)
    assert table[2].startswith("| grid (best R, after the fact) |") and "R = " in table[2]
    assert any(line.startswith("| fptopt |") for line in table)
    assert any(line.startswith("| optuna_hb_minH6_rf4 |") for line in table)


def test_the_run_is_reproducible(truth, quick, tmp_path):
    again = cs.main(["--truth", str(truth), *QUICK, "--out", str(tmp_path / "again.json")])
    assert again["methods"] == quick[0]["methods"]


# ------------------------------------------------------ the cost rule

def test_grid_and_random_cost_the_first_passages_of_what_they_train(sweep):
    """Subsample: a world's pool is a permutation of the recorded replicas; a
    method at R trains the first R: cost = Σ over its periods of Σ_i min(T_i, H)."""
    _, pools = cs.draw_world(sweep, 0, np.random.default_rng(5), "subsample")
    for replicas in (7, RECORDED):
        per_tau = {tau: by_hand(pools[tau].times[:replicas]) for tau in sweep.taus}
        [(cost, _)] = cs.grid_steps(sweep, pools, replicas)
        assert cost == sum(per_tau.values())
        order = [12, 3, 30, 7]
        steps = cs.random_steps(sweep, pools, replicas, order)
        assert [c for c, _ in steps] == np.cumsum([per_tau[tau] for tau in order]).tolist()
    # with every recorded replica, a period costs its recorded Σ min(T_i, H), in any order
    [(cost, _)] = cs.grid_steps(sweep, pools, RECORDED)
    assert cost == sum(by_hand(fp.times) for fp in sweep.runs.values())
    assert cs.first_passage_cost(sweep.runs[4]) < RECORDED * H  # replicas that passed stop: cheaper than R·H


def test_grid_with_every_recorded_replica_has_zero_regret_and_costs_the_sweep(truth, tmp_path):
    """Drawing all recorded replicas without replacement, the grid measures the
    oracle itself and costs Σ over periods of Σ_i min(T_i, H) of the recorded
    replicas. (With --draw bootstrap its regret is the sampling noise of R
    replicas per period, which on a flat curve can exceed any fixed bound.)"""
    frame, _ = cs.read_truth(truth)
    periodic = frame[frame["protocol"] == "shrink_perturb"]
    total = by_hand(periodic["time"])
    result = cs.main(["--truth", str(truth), "--quick", "--replicas", str(RECORDED), "--draw", "subsample",
                      "--grid-replicas", "10", str(RECORDED), "200", "--optuna", "--out", str(tmp_path / "exact.json")])
    entry = result["methods"]["shrink_perturb"][f"grid_R{RECORDED}"]
    assert result["oracle"]["budget_grid"]["shrink_perturb"]["high"] == total  # the most any method spent
    assert entry["curve"][-1] == [total, 0.0, 0.0, 0.0]
    assert entry["replica_epochs_to_target"] == total
    assert all(row[1] is None for row in entry["curve"][:-1])  # no answer before the last period is trained
    assert "grid_R200" not in result["methods"]["shrink_perturb"]  # more than recorded: skipped


def test_subsample_skips_grid_replicas_above_the_recorded_count(sweep, capsys):
    args = cs.parse_args(["--draw", "subsample", "--grid-replicas", "10", "40", "41", "200"])
    assert cs.usable_grid_replicas(sweep, args) == [10, 40]
    assert "skip R = [41, 200]" in capsys.readouterr().out


def test_an_optuna_trial_costs_the_first_passages_up_to_where_it_stopped(sweep):
    """Subsample with R = recorded: every trial trains all recorded replicas
    of its τ, so a complete trial costs Σ_i min(T_i, H) and one pruned after
    epoch e costs Σ_i min(T_i, e) of them, exactly."""
    steps, trials = cs.optuna_steps(sweep, RECORDED, ("sh", 12, 3), 30_000, np.random.default_rng(0), 0,
                                    "subsample", "test")
    pruned = [t for t in trials if t[1] is None]
    assert len(pruned) >= 5 and len(trials) - len(pruned) >= 3
    for tau, value, cost, epochs in trials:
        assert cost == by_hand(sweep.runs[tau].times, epochs)
        if value is None:
            assert epochs in (5, 15, 45)  # rungs of min_resource = round(60 / 12) = 5, factor 3
        else:
            assert epochs == H and value == pytest.approx(sweep.truth[tau])
    assert [c for c, _ in steps] == np.cumsum([t[2] for t in trials]).tolist()
    assert steps[-1][0] >= 30_000 and steps[-2][0] < 30_000  # trials are added until the spend is reached
    assert [a for _, a in steps] == cs.lowest_mean_answers([(t[0], t[1]) for t in trials])


def test_optuna_stops_at_the_trial_cap(sweep):
    steps, trials = cs.optuna_steps(sweep, 10, None, 10**9, np.random.default_rng(0), 0, "bootstrap", "cap",
                                    max_trials=7)
    assert len(trials) == 7 and steps[-1][0] < 10**9


def test_pruners_decide_alike_when_reporting_every_epoch(sweep):
    """Reporting only at the rungs min_resource·rf^k is what makes a trial
    cheap to replay; the pruners only decide there, so reporting every epoch
    gives the same trials."""
    for setting in (("sh", 12, 3), ("hb", 6, 3)):
        rungs = cs.optuna_steps(sweep, 20, setting, 20_000, np.random.default_rng(1), 1, "bootstrap", "same")
        every = cs.optuna_steps(sweep, 20, setting, 20_000, np.random.default_rng(1), 1, "bootstrap", "same",
                                report_at=range(1, H + 1))
        assert rungs == every
    assert cs.report_epochs(("sh", 12, 3), H) == [5, 15, 45]
    assert cs.report_epochs(("hb", 6, 4), H) == [10, 40]
    assert cs.report_epochs(None, H) == []
    assert cs.min_resource(("sh", 12, 3), 24) == 2 and cs.min_resource(("sh", 12, 3), 6) == 1


def test_fptopt_pays_the_first_passages_of_every_replica_it_trained(sweep):
    """The adapter's cost (design_cost) is Σ min(T_i, H) of the first n of each
    pool, n as the design's record says; the design's own replica_epochs agree."""
    baseline, pools = cs.draw_world(sweep, 0, np.random.default_rng(2), "subsample")
    args = cs.parse_args(["--draw", "subsample", "--replicas", "20"])
    design = cs.resolve_design(sweep, args)
    steps, records = cs.fptopt_steps(sweep, baseline, pools, 15, design)
    assert len(steps) == len(records) >= 2 and [s[1] for s in steps] == [r["optimal_tau"] for r in records]
    for (cost, _), record in zip(steps, records, strict=True):
        expected = by_hand(baseline.times[:record["baseline_replicas"]]) + sum(
            by_hand(pools[int(t)].times[:n]) for t, n in record["replicas"].items())
        assert cost == expected == record["replica_epochs"]
    costs = [c for c, _ in steps]
    assert costs == sorted(costs) and costs[0] > 0


def test_the_design_cost_counts_what_the_record_trained(sweep):
    baseline, pools = cs.draw_world(sweep, 50, np.random.default_rng(4), "bootstrap")
    record = {"measured_taus": [15, 7], "replicas": {15: 50, 7: 10}, "baseline_replicas": 40}
    assert cs.design_cost(record, baseline, pools, H) == (
        by_hand(baseline.times[:40]) + by_hand(pools[15].times[:50]) + by_hand(pools[7].times[:10]))


def test_fptopt_uses_the_pipelines_settings(sweep):
    """config.yaml's DesignSettings (its rounds too); --rounds overrides the rounds."""
    settings, _ = cs.pipeline_design_settings()
    design = cs.resolve_design(sweep, cs.parse_args([]))
    assert design.rounds == settings.rounds and design.settings == settings
    assert cs.resolve_design(sweep, cs.parse_args(["--rounds", "1"])).rounds == 1


# ------------------------------------------------------- Optuna's answer

def test_optunas_answer_is_the_lowest_mean_over_repeated_periods():
    trials = [(9, None), (5, 10.0), (7, 9.0), (5, 7.0), (7, None), (7, 11.0), (3, None), (3, 8.5)]
    # means after each trial: -, 5:10 | 7:9 | 5:8.5 | (pruned) | 7:10 | (pruned) | 3:8.5 ties 5:8.5 -> smaller tau
    assert cs.lowest_mean_answers(trials) == [None, 5, 7, 5, 5, 5, 5, 3]
    assert cs.lowest_mean_answers([]) == []
    # the single luckiest trial would pick 5 (7.0); its mean (8.5) loses to 4 (8.0)
    assert cs.lowest_mean_answers([(5, 10.0), (5, 7.0), (4, 8.0)])[-1] == 4


# ------------------------------------------------------- the metric

def test_budget_grid_is_geometric_and_without_repeats():
    budgets = cs.budget_grid(200, 150_000, 60)
    assert budgets[0] == 200 and budgets[-1] == 150_000 and len(budgets) == 60
    assert np.all(np.diff(budgets) > 0)
    assert cs.budget_grid(1, 5, 60).tolist() == [1, 2, 3, 4, 5]


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


def test_best_replicas_prefers_reaching_the_target_then_the_fewest_epochs():
    entries = {10: {"replica_epochs_to_target": None}, 25: {"replica_epochs_to_target": 900},
               50: {"replica_epochs_to_target": 700}, 100: {"replica_epochs_to_target": 700}}
    assert cs.best_replicas(entries) == 50
    assert cs.best_replicas({10: {"replica_epochs_to_target": None}, 25: {"replica_epochs_to_target": None}}) == 10


# ------------------------------------------------------ the estimators

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


def test_first_passage_cost_is_the_sum_of_truncated_times():
    fp = FirstPassage(np.array([3, 60, 17, 60]), np.array([True, False, True, True]), np.array([3, 60, 17, 60]),
                      H, 1.0, "above")
    assert cs.first_passage_cost(fp) == 3 + 60 + 17 + 60
    assert cs.first_passage_cost(fp, 10) == 3 + 10 + 10 + 10


# ------------------------------------------------------------ the oracle

def test_draw_subsample_refuses_more_replicas_than_recorded(sweep):
    with pytest.raises(ValueError, match="needs R <= the recorded replicas"):
        cs.draw(sweep.baseline, RECORDED + 1, np.random.default_rng(0), "subsample")


def test_conditions_with_too_few_recorded_replicas_are_refused(truth, tmp_path):
    """A condition of 5 recorded replicas bootstrapped up to R would replay
    those 5: refused, naming protocol and τ (--min-recorded lowers the bar)."""
    frame, meta = cs.read_truth(truth)
    few = frame[~((frame["protocol"] == "shrink_perturb") & (frame["tau"] == 7) & (frame["replica"] >= 5))]
    with pytest.raises(ValueError, match=r"protocol 'shrink_perturb' tau 7 \(5 recorded\)"):
        cs.build_sweeps(few, H)
    assert cs.build_sweeps(few, H, min_recorded=5)["shrink_perturb"].runs[7].n_replicas == 5
    no_baseline = frame[~((frame["protocol"] == "none") & (frame["replica"] >= 3))]
    with pytest.raises(ValueError, match=r"protocol 'none' tau 0 \(3 recorded\)"):
        cs.build_sweeps(no_baseline, H)
    few.to_parquet(tmp_path / "first_passage.parquet", index=False)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="fewer than --min-recorded = 20"):
        cs.main(["--truth", str(tmp_path), "--quick", "--out", str(tmp_path / "never.json")])


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


def test_optuna_names_carry_their_replicas():
    assert cs.optuna_name("optuna_tpe") == ("optuna_tpe", None)
    assert cs.optuna_name("optuna_sh_minH6_rf3_R50") == ("optuna_sh_minH6_rf3", 50)
    with pytest.raises(ValueError, match="unknown Optuna setting"):
        cs.optuna_name("optuna_sh_min5_rf3")
    args = cs.parse_args(["--replicas", "50"])
    args.optuna = ["optuna_tpe", "optuna_tpe_R50", "optuna_tpe_R25"]
    assert cs.optuna_runs(args) == [("optuna_tpe", "optuna_tpe", 50), ("optuna_tpe_R25", "optuna_tpe", 25)]
    assert "optuna_hb_minH6_rf3_R50" in cs.default_optuna()
