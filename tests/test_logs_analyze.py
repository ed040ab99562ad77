"""Tests of fptopt.stats.logs and fptopt.stats.analyze: reading logs, the analysis, the CLI."""

import argparse
import json
import re

import numpy as np
import pandas as pd
import pytest

from fptopt.cli.analyze import add_analyze_arguments, run_analyze
from fptopt.stats.analyze import analyze, write_analysis
from fptopt.stats.logs import read_trajectories, trajectories_from_frame

HORIZON, TAU_STAR, TARGET = 60, 12, 72.0


def accuracy_runs(replicas, period=None, seed=0, horizon=HORIZON):
    """Accuracy-like observable: rises to a 70% plateau within ~10 epochs after
    every (re)start, then fluctuates with sd 1; the target 72% is a rare excursion."""
    rng = np.random.default_rng(seed)
    age = (np.arange(horizon) % period + 1) if period else np.arange(1, horizon + 1)
    mean = 70.0 - 40.0 * np.exp(-age / 2.0)
    return mean[None, :] + rng.normal(0.0, 1.0, (replicas, horizon))


def write_replica_csvs(directory, runs, column="test_acc"):
    directory.mkdir(parents=True, exist_ok=True)
    for index, run in enumerate(runs):
        run = run[np.isfinite(run)]
        pd.DataFrame({"epoch": np.arange(1, run.size + 1), column: run}).to_csv(
            directory / f"seed{index:03d}.csv", index=False)
    return directory


def long_table(runs, column="test_acc"):
    replicas, epochs = np.nonzero(np.isfinite(runs))
    return pd.DataFrame({"replica": replicas, "epoch": epochs + 1, column: runs[replicas, epochs]})


# ---------------------------------------------------------------- logs

def test_directory_of_csvs_with_different_lengths(tmp_path):
    runs = accuracy_runs(3, horizon=8)
    runs[1, 5:] = np.nan
    ids, array = read_trajectories(write_replica_csvs(tmp_path / "logs", runs))
    assert ids == ["seed000", "seed001", "seed002"]
    np.testing.assert_allclose(array, runs)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_table_round_trip(tmp_path, suffix):
    runs = accuracy_runs(4, horizon=6)
    runs[2, 4:] = np.nan
    frame = long_table(runs).sample(frac=1.0, random_state=0)  # any row order
    path = tmp_path / f"runs{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    ids, array = read_trajectories(path)
    assert ids == ["0", "1", "2", "3"]
    np.testing.assert_allclose(array, runs)
    np.testing.assert_allclose(trajectories_from_frame(frame, "test_acc")[1], runs)


def bad_csv(tmp_path, text):
    directory = tmp_path / "logs"
    directory.mkdir()
    (directory / "seed0.csv").write_text(text)
    return directory


@pytest.mark.parametrize("text, match", [
    ("epoch,test_acc\n1,50\n2,60,7\n", "seed0.csv: ragged CSV: line 3"),
    ("epoch,test_acc\n1,50\n2,sixty\n", "seed0.csv: column 'test_acc' has a non-numeric value 'sixty'"),
    ("epoch,loss\n1,0.5\n", r"seed0.csv: no column 'test_acc'; columns found: \['epoch', 'loss'\]"),
    ("epoch,test_acc\n1,50\n3,60\n", "seed0.csv: column 'epoch' must increase by 1"),
    ("", "seed0.csv: empty file"),
    ("epoch,test_acc\n", "seed0.csv: no epochs"),
])
def test_bad_replica_csv(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_trajectories(bad_csv(tmp_path, text))


def test_missing_values_are_nan_not_errors(tmp_path):
    _, array = read_trajectories(bad_csv(tmp_path, "epoch,test_acc\n1,50\n2,\n3,nan\n4,inf\n"))
    np.testing.assert_array_equal(array, [[50, np.nan, np.nan, np.inf]])


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: directory holds no CSV files"):
        read_trajectories(tmp_path / "empty")


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"replica": [0, 0], "epoch": [1, 1], "test_acc": [1, 2]}), "duplicate epoch 1"),
    (pd.DataFrame({"replica": [0, 0], "epoch": [1, 3], "test_acc": [1, 2]}), "missing epochs for replica '0'"),
    (pd.DataFrame({"replica": [0], "epoch": [0], "test_acc": [1]}), "has epoch 0, but this log.s epochs count from 1"),
    (pd.DataFrame({"replica": [0], "step": [1], "acc": [1]}), r"columns found: \['replica', 'step', 'acc'\]"),
    (pd.DataFrame({"replica": [0], "epoch": [1.5], "test_acc": [1]}), "'epoch' must hold integers"),
])
def test_bad_long_table(tmp_path, frame, match):
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="table.csv: .*" + match):
        read_trajectories(path)


def test_unsupported_file(tmp_path):
    (tmp_path / "runs.txt").write_text("x")
    with pytest.raises(ValueError, match=r"runs.txt: expected a directory"):
        read_trajectories(tmp_path / "runs.txt")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_trajectories(tmp_path / "nowhere")


# ---------------------------------------------------------------- analyze

@pytest.fixture(scope="module")
def runs():
    return {"baseline": accuracy_runs(600, seed=1), "perturbed": accuracy_runs(600, TAU_STAR, seed=2),
            "sweeps": {8: accuracy_runs(600, 8, seed=3), 20: accuracy_runs(600, 20, seed=4)}}


def test_analyze_end_to_end(runs, tmp_path):
    result = analyze(runs["baseline"], runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[4, 8, 12, 20, 30],
                     sweeps=runs["sweeps"], bootstrap=100, seed=0)
    assert result.horizon == HORIZON and result.qss.found and result.qss.t_q <= TAU_STAR
    table = result.prediction_table()
    assert list(table.tau) == [4, 8, 12, 20, 30]
    assert list(table.extrapolated) == [False, False, False, True, True]
    assert np.all(table.mfpt_low <= table.mfpt) and np.all(table.mfpt <= table.mfpt_high)
    for comparison in result.validation.values():  # measured sweeps at tau = 8 and 20
        assert abs(comparison.rel_error) < 0.1 and comparison.survival_gap < 0.1
    written = write_analysis(result, tmp_path / "out", inputs_hashes={"baseline": "abc"})
    assert sorted(p.name for p in written) == ["prediction.csv", "prediction_survival.csv",
                                               "summary.json", "validation.csv"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["inputs"] == {"baseline": "abc"} and summary["qss"]["t_q"] == result.qss.t_q
    survival = pd.read_csv(tmp_path / "out" / "prediction_survival.csv")
    assert len(survival) == 5 * (HORIZON + 1) and set(survival.columns) == {"tau", "t", "sf", "measured"}
    validation = pd.read_csv(tmp_path / "out" / "validation.csv")
    assert list(validation.tau) == [8, 20] and validation.in_ci.dtype == bool
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_analyze_direction_below_mirrors_above(runs):
    above = analyze(runs["baseline"], runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5, 10])
    below = analyze(-runs["baseline"], -runs["perturbed"], tau_star=TAU_STAR, target=-TARGET, direction="below", taus=[5, 10])
    np.testing.assert_allclose(above.multi.mfpt, below.multi.mfpt)
    assert above.qss.t_q == below.qss.t_q


def test_a_short_replica_is_censored_not_the_horizon_shortened(runs):
    baseline = runs["baseline"].copy()
    never = int(np.flatnonzero(~(baseline >= TARGET).any(axis=1))[0])  # a replica that never passes
    baseline[never, 50:] = np.nan
    result = analyze(baseline, runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5])
    assert result.horizon == HORIZON and result.multi.curves.shape == (2, HORIZON + 1)  # τ = 5 and τ* itself
    assert result.censored_short == {"baseline": 1, f"tau{TAU_STAR}": 0}
    assert result.summary()["censored_short_replicas"]["baseline"] == 1


def test_values_that_turn_nan_cut_the_horizon_where_nothing_is_observed(runs):
    """Every baseline replica NaN from epoch 31 on: Ψ beyond 30 is unknowable, so the horizon
    is cut to 30 (not the 60 columns of the array) and a longer --horizon is refused."""
    baseline = runs["baseline"].copy()
    baseline[:, 30:] = np.nan
    result = analyze(baseline, runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5])
    assert result.horizon == 30 and result.censored_short["baseline"] == 0  # all are observed to the new horizon
    reference = analyze(runs["baseline"][:, :30], runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5])
    assert result.summary()["baseline_mfpt_restricted"] == reference.summary()["baseline_mfpt_restricted"]
    with pytest.raises(ValueError, match="horizon 60: no baseline replica is observed after epoch 30"):
        analyze(baseline, runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5], horizon=60)
    perturbed = runs["perturbed"].copy()
    perturbed[:, 40:] = np.inf  # diverged: censored at the last finite epoch, 40 < the horizon
    with pytest.raises(ValueError, match=f"tau = {TAU_STAR}: no replica is observed after epoch 40"):
        analyze(runs["baseline"], perturbed, tau_star=TAU_STAR, target=TARGET, taus=[5])


def test_a_nan_between_finite_values_is_an_epoch_without_a_measurement(runs):
    baseline = runs["baseline"].copy()
    baseline[:5, 20] = np.nan  # five missing evaluations inside the runs
    result = analyze(baseline, runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5])
    assert result.horizon == HORIZON and result.summary()["missing_values"] == {"baseline": 5, f"tau{TAU_STAR}": 0}


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=99.0), "never reached by any of the 600 baseline replicas"),
    (dict(tau_star=HORIZON), f"tau = {HORIZON} must be in 1..{HORIZON - 1}"),
    (dict(direction="up"), "direction must be one of"),
    (dict(taus=[0, 5]), "taus"),
    (dict(bootstrap=-1), "bootstrap"),
])
def test_analyze_errors(runs, kwargs, match):
    arguments = dict(baseline=runs["baseline"], perturbed=runs["perturbed"], tau_star=TAU_STAR,
                     target=TARGET) | kwargs
    with pytest.raises(ValueError, match=match):
        analyze(**arguments)


# ---------------------------------------------------------------- CLI

@pytest.fixture(scope="module")
def log_dirs(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    small = {name: runs[name][:200] for name in ("baseline", "perturbed")}
    long_table(runs["sweeps"][8][:200]).to_parquet(root / "sweep8.parquet")
    return {name: str(write_replica_csvs(root / name, values)) for name, values in small.items()} | {
        "sweep": f"8={root / 'sweep8.parquet'}"}


def cli(arguments):
    parser = add_analyze_arguments(argparse.ArgumentParser(prog="fptopt analyze"))
    return run_analyze(parser.parse_args(arguments))


def base_arguments(log_dirs, out):
    return ["--baseline", log_dirs["baseline"], "--perturbed", log_dirs["perturbed"],
            "--tau-star", str(TAU_STAR), "--target", str(TARGET), "--out", str(out)]


def test_cli_success(log_dirs, tmp_path, capsys):
    out = tmp_path / "analysis"
    code = cli(base_arguments(log_dirs, out) + ["--taus", "4,8,16", "--sweep", log_dirs["sweep"],
                                                "--bootstrap", "50", "--seed", "3"])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "prediction.csv")
    assert list(table.tau) == [4, 8, 12, 16] and table.set_index("tau").loc[12, "measured"]  # τ* is measured
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["inputs"]["baseline"]["sha256"]) == 64
    assert summary["bootstrap_resamples"] == 50 and (out / "validation.csv").exists()


@pytest.mark.parametrize("extra, match", [
    (["--target", "99"], "never reached"),
    (["--tau-star", "60"], "tau = 60 must be in 1..59"),
    (["--direction", "sideways"], "direction must be one of"),
    (["--column", "loss"], "no column 'loss'; columns found: \\['epoch', 'test_acc'\\]"),
    (["--taus", "4,x"], "--taus must be comma-separated integers"),
    (["--sweep", "eight=somewhere"], "--sweep must look like TAU=PATH"),
    (["--horizon", "500"], "horizon"),
])
def test_cli_errors_write_nothing(log_dirs, tmp_path, capsys, extra, match):
    out = tmp_path / "analysis"
    code = cli(base_arguments(log_dirs, out) + extra)
    captured = capsys.readouterr()
    assert code != 0
    assert re.search(match, captured.err), captured.err
    assert not out.exists()


def test_cli_empty_baseline_directory(log_dirs, tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    arguments = base_arguments(log_dirs, tmp_path / "analysis")
    arguments[1] = str(tmp_path / "nothing")
    assert cli(arguments) != 0
    assert "nothing: directory holds no CSV files" in capsys.readouterr().err
    assert not (tmp_path / "analysis").exists()


def test_without_bootstrap_in_ci_is_missing(runs):
    result = analyze(runs["baseline"], runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5],
                     sweeps={8: runs["sweeps"][8]})
    table = result.validation_table()
    assert table.in_ci.isna().all() and np.isnan(result.prediction_table().mfpt_low).all()


def test_failed_write_leaves_no_temporary_files(runs, tmp_path, monkeypatch):
    result = analyze(runs["baseline"], runs["perturbed"], tau_star=TAU_STAR, target=TARGET, taus=[5])

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr("fptopt.storage.os.replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_analysis(result, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


# ---------------------------------------------------------------- input hardening

def test_multi_frequency_cli_reports_measured_periods_and_next_tau(runs, tmp_path, capsys):
    root = tmp_path / "logs"
    long_table(runs["baseline"][:200]).to_parquet(root.mkdir() or root / "baseline.parquet")
    long_table(runs["perturbed"][:200]).to_parquet(root / "tau12.parquet")
    long_table(runs["sweeps"][8][:200]).to_parquet(root / "tau8.parquet")
    out = tmp_path / "analysis"
    code = cli(["--baseline", str(root / "baseline.parquet"), "--perturbed", f"12={root / 'tau12.parquet'}",
                "--perturbed", f"8={root / 'tau8.parquet'}", "--target", str(TARGET), "--taus", "4,6,10,16",
                "--out", str(out), "--no-figures"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    table = pd.read_csv(out / "prediction.csv").set_index("tau")
    assert table.loc[[8, 12], "measured"].all() and not table.loc[[4, 6, 10, 16], "measured"].any()
    assert table.loc[10, "source_tau"] == 12 and table.loc[6, "source_tau"] == 8 and table.loc[16, "source_tau"] == 12
    assert table.loc[4, "trusted"] == (4 >= 0.6 * 8) and table.loc[10, "trusted"] and not table.loc[16, "trusted"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["measured_taus"] == [8, 12] and summary["optimal_tau"] == table["mfpt"].idxmin()
    assert "next_tau" in summary and f"optimal tau = {summary['optimal_tau']}" in printed.out
    # the next experiment is a period and a replica count, the same in the summary and the printed line
    assert summary["replicas"] == {"baseline": 200, "tau8": 200, "tau12": 200}
    assert summary["optimal_tau"] in summary["indifferent_taus"]
    assert f"indistinguishable from the best: tau in {summary['indifferent_taus']}" in printed.out
    # one renewal test per measured run, written as the statistics module computes it
    tests = {row["tau"]: row for row in summary["renewal_tests"]}
    assert sorted(tests) == [8, 12]
    assert all(row["p_holm"] >= row["p_value"] and 1 <= row["df"] <= row["cycles"] - 1 for row in tests.values())
    assert summary["renewal_consistent"] == all(row["consistent"] for row in tests.values())
    if summary["next_tau"] is None:
        assert summary["next_replicas"] is None and "no further experiment needed" in printed.out
    else:
        assert summary["next_replicas"] >= 1
        assert f"train {summary['next_replicas']} more replicas at tau = {summary['next_tau']}" in printed.out


@pytest.mark.parametrize("replicas", [1, 8])
def test_too_few_replicas_stop_with_the_count(runs, tmp_path, capsys, replicas):
    logs = write_replica_csvs(tmp_path / "few", runs["baseline"][:replicas])
    perturbed = write_replica_csvs(tmp_path / "perturbed", runs["perturbed"][:100])
    out = tmp_path / "analysis"
    arguments = ["--baseline", str(logs), "--perturbed", str(perturbed), "--tau-star", str(TAU_STAR),
                 "--target", str(TARGET), "--out", str(out), "--no-figures"]
    assert cli(arguments) == 2
    noun = "replica" if replicas == 1 else "replicas"
    assert f"{replicas} {noun}, fewer than --min-replicas 30" in capsys.readouterr().err
    assert not out.exists()
    assert cli(arguments + ["--min-replicas", "1"]) == 0  # the override


def test_a_perturbed_run_shorter_than_the_horizon_is_named(runs, tmp_path, capsys):
    short = write_replica_csvs(tmp_path / "short", runs["perturbed"][:100, :30])
    baseline = write_replica_csvs(tmp_path / "baseline", runs["baseline"][:100])
    code = cli(["--baseline", str(baseline), "--perturbed", f"{TAU_STAR}={short}", "--target", str(TARGET),
                "--out", str(tmp_path / "out"), "--no-figures"])
    assert code == 2
    assert f"the perturbed run at tau = {TAU_STAR} has 30 epochs, fewer than the horizon 60" in capsys.readouterr().err


def test_every_replica_passing_at_the_first_epoch_suggests_the_direction(runs, tmp_path, capsys):
    code = cli(["--baseline", str(write_replica_csvs(tmp_path / "b", runs["baseline"][:60])),
                "--perturbed", str(write_replica_csvs(tmp_path / "p", runs["perturbed"][:60])),
                "--tau-star", str(TAU_STAR), "--target", "100", "--direction", "below",
                "--out", str(tmp_path / "out"), "--no-figures"])
    assert code == 2
    assert "meets the target 100.0 (below) at the first epoch" in capsys.readouterr().err


def test_rerun_replaces_the_whole_folder_and_files_are_world_readable(log_dirs, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert cli(base_arguments(log_dirs, out) + ["--sweep", log_dirs["sweep"], "--no-figures"]) == 0
    assert (out / "validation.csv").exists()
    (out / "notes.txt").write_text("stale")
    assert cli(base_arguments(log_dirs, out) + ["--no-figures"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["prediction.csv", "prediction_survival.csv", "summary.json"]
    for path in out.iterdir():
        assert path.stat().st_mode & 0o044 == 0o044, path  # group and others may read
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_out_that_is_a_file_is_refused(log_dirs, tmp_path, capsys):
    out = tmp_path / "analysis"
    out.write_text("not a folder")
    assert cli(base_arguments(log_dirs, out)) == 2
    assert f"--out {out}: exists and is not a directory" in capsys.readouterr().err


def test_ctrl_c_exits_130_without_a_traceback_and_keeps_the_old_output(log_dirs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "analysis"
    assert cli(base_arguments(log_dirs, out) + ["--no-figures"]) == 0
    before = (out / "summary.json").read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("fptopt.cli.analyze.write_analysis", interrupted)
    assert cli(base_arguments(log_dirs, out) + ["--no-figures"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert (out / "summary.json").read_bytes() == before


def test_cli_reports_what_it_read_and_takes_a_column_per_input(runs, log_dirs, tmp_path, capsys):
    renamed = write_replica_csvs(tmp_path / "val_named", runs["perturbed"][:200], column="val_acc")
    out = tmp_path / "analysis"
    code = cli(["--baseline", log_dirs["baseline"], "--perturbed", f"{TAU_STAR}={renamed}::val_acc",
                "--target", str(TARGET), "--out", str(out), "--no-figures"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"read baseline: {log_dirs['baseline']} as csv_dir (test_acc): 200 replicas x {HORIZON} epochs" in err
    assert f"as csv_dir (val_acc): 200 replicas x {HORIZON} epochs" in err
    inputs = json.loads((out / "summary.json").read_text())["inputs"]
    assert inputs[f"perturbed_{TAU_STAR}"] | {"sha256": None} == {
        "path": f"{renamed}::val_acc", "sha256": None, "format": "csv_dir", "column": "val_acc", "replicas": 200,
        "epochs": HORIZON}


def test_cli_warns_when_a_lowered_min_replicas_lets_few_replicas_through(runs, tmp_path, capsys):
    few = {name: write_replica_csvs(tmp_path / name, runs[name][:20]) for name in ("baseline", "perturbed")}
    code = cli(["--baseline", str(few["baseline"]), "--perturbed", str(few["perturbed"]), "--tau-star",
                str(TAU_STAR), "--target", str(TARGET), "--out", str(tmp_path / "out"), "--no-figures",
                "--min-replicas", "5"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning: --baseline" in err and "only 20 replicas (--min-replicas 5 let it through; the default is 30)" in err


def write_keras_logs(directory, runs, column="val_accuracy"):
    directory.mkdir(parents=True, exist_ok=True)
    for index, run in enumerate(runs):
        run = run[np.isfinite(run)]
        pd.DataFrame({"epoch": np.arange(run.size), column: run}).to_csv(directory / f"seed{index}.log", index=False)


def test_a_study_folder_replaces_the_inputs_with_a_format_and_column_per_folder(runs, log_dirs, tmp_path, capsys):
    study = tmp_path / "study"
    write_replica_csvs(study / "baseline", runs["baseline"][:200])
    write_keras_logs(study / f"tau={TAU_STAR}", runs["perturbed"][:200])
    (study / "columns.yaml").write_text(f"tau={TAU_STAR}: val_accuracy\n")
    out = tmp_path / "from_study"
    code = cli(["--study", str(study), "--target", str(TARGET), "--out", str(out), "--no-figures", "--taus", "4,8"])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 0, err
    assert "next experiment: train" in captured.out or "no further experiment" in captured.out
    assert f"as keras (val_accuracy): 200 replicas x {HORIZON} epochs" in err and "as csv_dir (test_acc)" in err
    reference = tmp_path / "from_flags"
    assert cli(base_arguments(log_dirs, reference) + ["--no-figures", "--taus", "4,8"]) == 0
    # the same first passages (the Keras folder holds the same values as the CSV one): the same answer
    assert (out / "prediction.csv").read_bytes() == (reference / "prediction.csv").read_bytes()


@pytest.mark.parametrize("layout, extra, match", [
    ({"baseline": True, "tau=12": True, "notes": True}, [], r"\['notes'\] is neither baseline/, tau=N/ nor columns"),
    ({"tau=12": True}, [], "needs baseline/ and at least one tau=N/ folder"),
    ({"baseline": True, "tau=12": True}, ["--baseline", "x"], "--study DIR replaces --baseline and --perturbed"),
])
def test_study_folder_errors(runs, tmp_path, capsys, layout, extra, match):
    study = tmp_path / "study"
    for name in layout:
        write_replica_csvs(study / name, runs["baseline"][:40])
    code = cli(["--study", str(study), "--target", str(TARGET), "--out", str(tmp_path / "out"), *extra])
    assert code == 2 and re.search(match, capsys.readouterr().err)


def test_cli_predicts_explicit_and_poisson_schedules(log_dirs, tmp_path, capsys):
    out = tmp_path / "analysis"
    code = cli(base_arguments(log_dirs, out) + ["--no-figures", "--schedule", "12,24,36,48", "--poisson", "0.08",
                                                "--bootstrap", "30"])
    assert code == 0, capsys.readouterr().err
    schedules = pd.read_csv(out / "schedules.csv")
    assert schedules["schedule"].tolist() == ["12,24,36,48", "poisson:0.08"]
    assert list(schedules.columns) == ["schedule", "mfpt", "mfpt_low", "mfpt_high", "trusted", "source_tau",
                                       "outside_qss"]
    assert not schedules.loc[1, "trusted"] and schedules.loc[1, "outside_qss"]  # a timer: never trusted
    # every 12 epochs from epoch 12 is the period τ* = 12 itself: the same closure, the same number
    prediction = pd.read_csv(out / "prediction.csv").set_index("tau")
    assert np.isclose(schedules.loc[0, "mfpt"], prediction.loc[TAU_STAR, "predicted"])
    assert cli(base_arguments(log_dirs, tmp_path / "bad") + ["--schedule", "12,8"]) == 2
    assert "--schedule 12,8: schedule epochs must be strictly increasing" in capsys.readouterr().err


def test_cli_searches_two_phase_schedules_and_timers_against_the_best_period(log_dirs, tmp_path, capsys):
    out = tmp_path / "analysis"
    code = cli(base_arguments(log_dirs, out) + ["--no-figures", "--search-schedules", "--bootstrap", "30",
                                                "--taus", "6,8,10,12"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    search = pd.read_csv(out / "schedule_search.csv")
    assert set(search["kind"]) == {"two_phase", "poisson"}
    assert sorted(search.loc[search["kind"] == "poisson", "rate"].round(6)) == [round(1 / t, 6) for t in (12, 10, 8, 6)]
    summary = json.loads((out / "summary.json").read_text())
    best = {entry["kind"]: entry for entry in summary["beyond_periods"]}
    for kind, entry in best.items():
        rows = search[(search["kind"] == kind) & search["trusted"] & ~search["outside_qss"]]
        rows = rows if not rows.empty else search[search["kind"] == kind]  # timers: none is trusted
        assert entry["mfpt"] == pytest.approx(rows["mfpt"].min())  # the best eligible candidate of its kind
        assert entry["better_than_best_period"] == (entry["mfpt_high"] < summary["optimal_mfpt"])
        assert f"beyond periods, best {kind}: {entry['schedule']}" in captured.out


def test_a_study_of_several_protocols_ranks_them_in_recommendation_csv(runs, tmp_path, capsys):
    study = tmp_path / "study"
    write_replica_csvs(study / "baseline", runs["baseline"][:200])
    write_replica_csvs(study / "often" / f"tau={TAU_STAR}", runs["perturbed"][:200])
    write_replica_csvs(study / "rarely" / "tau=20", runs["sweeps"][20][:200])
    out = tmp_path / "analysis"
    code = cli(["--study", str(study), "--target", str(TARGET), "--out", str(out), "--no-figures",
                "--bootstrap", "50", "--taus", "8,16"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = pd.read_csv(out / "recommendation.csv")
    summaries = {name: json.loads((out / name / "summary.json").read_text()) for name in ("often", "rarely")}
    ranked = sorted(summaries, key=lambda name: summaries[name]["optimal_mfpt"])
    assert table["protocol"].tolist() == ranked and table["rank"].tolist() == [1, 2]
    assert table["tau"].tolist() == [summaries[name]["optimal_tau"] for name in ranked]
    baseline_final = runs["baseline"][:200, HORIZON - 1]
    assert np.isclose(table.loc[0, "baseline_final_acc"], baseline_final.mean())
    assert "recommendation (" in captured.out and "every" in captured.out


def _passing_at(rng, replicas, epochs, low, high):
    """Accuracy trajectories that first reach 80 (above TARGET) at an epoch drawn in [low, high)."""
    first = rng.integers(low, high, replicas)
    return np.where(np.arange(1, epochs + 1)[None, :] >= first[:, None], 80.0, 60.0)


def test_a_measured_schedule_is_the_answer_only_when_distinguishably_faster(tmp_path, capsys):
    rng = np.random.default_rng(0)
    baseline, period = _passing_at(rng, 300, 40, 20, 40), _passing_at(rng, 300, 40, 10, 30)
    fast, same = _passing_at(rng, 300, 40, 5, 15), _passing_at(rng, 300, 40, 10, 30)
    result = analyze(baseline, {10: period}, target=TARGET, taus=[10], measured_schedules={"10,16,22": fast})
    assert result.multi.optimal_tau == 10 and result.multi.optimal_measured
    answer = result.answer()
    assert answer["kind"] == "schedule" and answer["schedule"] == "10,16,22"
    assert answer["mfpt"] == pytest.approx(np.minimum(np.argmax(fast >= TARGET, axis=1) + 1, 40).mean())
    assert result.summary()["answer"]["kind"] == "schedule" and result.replicas["schedule 10,16,22"] == 300
    slower = analyze(baseline, {10: period}, target=TARGET, taus=[10], measured_schedules={"poisson:0.1": same})
    assert slower.answer() == {"kind": "period", "tau": 10, "schedule": None, "mfpt": slower.multi.optimal_mfpt}
    # the same through the command line, from CSV logs
    folders = {name: str(write_replica_csvs(tmp_path / name, values))
               for name, values in (("baseline", baseline), ("period", period), ("fast", fast))}
    code = cli(["--baseline", folders["baseline"], "--perturbed", f"10={folders['period']}", "--target", str(TARGET),
                "--taus", "10", "--measured-schedule", f"10,16,22={folders['fast']}", "--no-figures",
                "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "answer: the measured schedule 10,16,22" in captured.out
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["answer"]["kind"] == "schedule"
    assert cli(["--baseline", folders["baseline"], "--perturbed", f"10={folders['period']}", "--target",
                str(TARGET), "--measured-schedule", f"every10={folders['fast']}", "--out", str(tmp_path / "bad")]) == 2
    assert "--measured-schedule every10=" in capsys.readouterr().err


def test_no_explore_below_stops_where_the_default_measures_below_the_shortest_period(runs, tmp_path, capsys):
    """A perturbation that does nothing (the "perturbed" logs are more unperturbed
    replicas): the design would stop, as no period beats unperturbed training,
    but by default it first measures τ = 4, the one untrusted period below the
    shortest measured one (8), since τ = 8 is not slower than unperturbed
    training; with ``--no-explore-below`` it stops."""
    root = tmp_path / "logs"
    long_table(runs["baseline"][:200]).to_parquet(root.mkdir() or root / "baseline.parquet")
    long_table(runs["baseline"][200:400]).to_parquet(root / "tau12.parquet")
    long_table(runs["baseline"][400:600]).to_parquet(root / "tau8.parquet")
    summaries = {}
    for flags in ([], ["--no-explore-below"]):
        out = tmp_path / f"analysis{len(flags)}"
        code = cli(["--baseline", str(root / "baseline.parquet"), "--perturbed", f"12={root / 'tau12.parquet'}",
                    "--perturbed", f"8={root / 'tau8.parquet'}", "--target", str(TARGET), "--taus", "4,6,10,16",
                    "--out", str(out), "--no-figures", *flags])
        assert code == 0, capsys.readouterr().err
        summaries[len(flags)] = json.loads((out / "summary.json").read_text())
    explored, plain = summaries[0], summaries[1]
    assert explored["next_tau"] == 4 and explored["next_replicas"] == 50
    assert explored["next_reason"].startswith("explore below the shortest measured period before stopping")
    assert plain["next_tau"] is None and plain["next_replicas"] is None
    assert explored["next_reason"].endswith(f"was: {plain['next_reason']})")
