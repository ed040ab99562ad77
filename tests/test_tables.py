"""The recommendation table's rule, against hand-computed intervals, and its headline; where accuracy is read from."""

import numpy as np

from fptopt.pipeline.tables import recommendation_headline, recommendation_table

CONFIG = {"protocols": [{"name": "partial_reset"}, {"name": "shrink_perturb"}, {"name": "full_reset"}]}


def summary(tau, mfpt, half, speedup, final=None):
    return {"optimal_tau": tau, "optimal_mfpt": mfpt, "optimal_mfpt_low": mfpt - half,
            "optimal_mfpt_high": mfpt + half, "speedup": speedup, "speedup_low": speedup - 0.1,
            "speedup_high": speedup + 0.1,
            "optimal_accuracy": None if final is None else {"final_value": final, "final_value_halfwidth": 0.5,
                                                            "full_horizon_replicas": 10}}


def test_ranks_and_the_95_percent_rule():
    summaries = {"shrink_perturb": summary(10, 15.0, 1.0, 1.6, final=97.8),
                 "partial_reset": summary(1, 21.0, 1.0, 1.2),        # 6 epochs slower, margin √2 · 1 = 1.41
                 "full_reset": summary(13, 16.2, 1.0, 1.5, final=97.1)}  # 1.2 slower < 1.41: indistinguishable
    table = recommendation_table(CONFIG, summaries, {"final_value": 97.0, "final_value_halfwidth": 0.3})
    assert table["protocol"].tolist() == ["shrink_perturb", "full_reset", "partial_reset"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["distinguishable_from_best"].tolist() == [False, False, True]
    assert np.isnan(table.loc[2, "final_acc"]) and table.loc[0, "final_acc_low"] == 97.3
    assert table.loc[0, "baseline_final_acc_high"] == 97.3
    assert recommendation_headline(table, 60) == (
        "shrink perturb every 10 epochs: ⟨T ∧ 60⟩ 15 [14, 16] epochs, 1.60× faster than unperturbed [1.5, 1.7], "
        "final accuracy 97.8 [97.3, 98.3] vs 97 unperturbed; partial reset is slower (95 %); full reset is "
        "indistinguishable from it (95 %).")


def test_without_intervals_nothing_is_called_distinguishable():
    summaries = {name: summary(5, mfpt, 0.0, 1.0) | {"optimal_mfpt_low": None, "optimal_mfpt_high": None}
                 for name, mfpt in (("shrink_perturb", 10.0), ("partial_reset", 30.0), ("full_reset", 20.0))}
    table = recommendation_table(CONFIG, summaries, {"final_value": 97.0, "final_value_halfwidth": 0.3})
    assert not table["distinguishable_from_best"].any()


def test_accuracy_comes_from_the_exempt_replicas_not_from_those_that_never_passed():
    """Replica 2 stopped at its passage, replica 3 never passed (so never stopped): reading accuracy
    from every replica that did not stop would keep 3, a sample selected for missing the target."""
    import pandas as pd

    from fptopt.pipeline.stages import full_horizon

    frame = pd.DataFrame({"replica": [0, 1, 2, 3], "stopped": [False, False, True, False]})
    assert full_horizon(frame, frozenset({0, 1}))["replica"].tolist() == [0, 1]
    nobody = frame.assign(stopped=False)
    assert full_horizon(nobody, frozenset({0, 1}))["replica"].tolist() == [0, 1, 2, 3]  # unselected: all
    assert full_horizon(frame.drop(columns="stopped"), frozenset())["replica"].tolist() == [0, 1, 2, 3]


def test_regret_table_reads_the_grid_and_adds_the_simultaneous_interval():
    """One protocol, three measured periods: the plug-in regret from the dense
    table, the interval from the grid's first passages (grid_regret), and a
    choice the grid did not measure gets no interval."""
    import pandas as pd

    from fptopt.pipeline.tables import REGRET_COLUMNS, regret_table
    from fptopt.stats.design import grid_regret, measured_means
    from fptopt.stats.survival import FirstPassage

    horizon = 60
    rng = np.random.default_rng(0)
    runs = {}
    for tau, mean in ((5, 30.0), (10, 12.0), (15, 20.0)):
        times = rng.geometric(1 / mean, 200)
        runs[tau] = FirstPassage(np.minimum(times, horizon), times <= horizon, np.full(200, horizon), horizon, 1.0,
                                 "above")
    means = measured_means(runs, horizon)
    dense = pd.DataFrame([{"protocol": "p", "tau": tau, "mfpt": means[tau][0], "replica_epochs": 100 * tau}
                          for tau in runs])
    chosen = {"optimal_tau": 15, "replica_epochs_trained": 1234}
    table = regret_table(dense, {"p": chosen}, {"p": runs}, horizon)
    row = table.iloc[0]
    assert list(table.columns) == REGRET_COLUMNS
    assert (row["chosen_tau"], row["best_tau"], row["grid_replica_epochs"], row["grid_replicas"]) == (15, 10, 3000, 200)
    assert row["regret"] == means[15][0] / means[10][0] - 1
    expected = grid_regret(runs, 15, horizon)
    assert (row["regret_low"], row["regret_high"]) == expected.confidence_interval()
    assert row["regret_low"] <= row["regret"] <= row["regret_high"]
    unmeasured = regret_table(dense, {"p": chosen | {"optimal_tau": 7}}, {"p": runs}, horizon).iloc[0]
    assert np.isnan(unmeasured["regret"]) and np.isnan(unmeasured["regret_low"])
