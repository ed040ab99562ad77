"""The whole Snakemake DAG on the tiny config, in a scratch copy of the workflow."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fptopt.pipeline import paths
from fptopt.pipeline.config import parse_config

ROOT = Path(__file__).resolve().parents[1]
RULES = ["train_baseline", "train_single_frequency", "survival", "design_round", "predict", "train_sweep",
         "validate", "figures", "tables", "all"]


def copy_workflow(destination: Path) -> Path:
    for name in ("Snakefile", "config.yaml", "environment.yml"):
        shutil.copy(ROOT / name, destination / name)
    shutil.copytree(ROOT / "workflow", destination / "workflow")
    (destination / "tests" / "config").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "config" / "tiny.yaml", destination / "tests" / "config" / "tiny.yaml")
    return destination


def snakemake(workdir: Path, *args, check=True):
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny"))
    snakemake(workdir, "--configfile", "tests/config/tiny.yaml")
    return workdir


def test_dry_run_of_the_default_lists_every_stage(tmp_path):
    output = snakemake(copy_workflow(tmp_path), "-n").stdout
    for rule in RULES:
        assert any(f"{kind} {rule}:" in output for kind in ("rule", "localrule", "checkpoint")), rule


def test_bad_config_value_fails_before_any_job_and_names_the_key(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = (workdir / "tests/config/tiny.yaml").read_text()
    assert "  replicas: 60" in config
    (workdir / "bad.yaml").write_text(config.replace("  replicas: 60", "  replicas: 0", 1))
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config key training.replicas: 0 is less than the minimum of 1" in output, output
    assert not (workdir / "results").exists()


def test_validation_table_schema_and_ranges(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/validation.csv")
    for column in ["protocol", "tau", "predicted_mfpt", "predicted_low", "predicted_high", "measured_mfpt",
                   "rel_error", "in_ci", "final_acc"]:
        assert column in table.columns
    table = table[table["schedule"].isna()]  # the periods (schedules: the next test)
    assert sorted(zip(table["protocol"], table["tau"], strict=True)) == [("full_reset", 6), ("shrink_perturb", 4),
                                                           ("shrink_perturb", 12)]
    horizon = 24
    assert ((table["measured_mfpt"] > 0) & (table["measured_mfpt"] <= horizon)).all()
    assert ((table["predicted_low"] <= table["predicted_mfpt"]) & (table["predicted_mfpt"] <= table["predicted_high"])).all()
    np.testing.assert_allclose(table["rel_error"],
                               (table["predicted_mfpt"] - table["measured_mfpt"]) / table["measured_mfpt"], rtol=1e-4)
    assert table["in_ci"].isin([True, False]).all()
    assert ((table["final_acc"] > 80) & (table["final_acc"] <= 100)).all()
    optimum = pd.read_csv(tiny_run / "results/tables/optimum.csv").set_index("protocol")
    assert set(optimum.index) == {"shrink_perturb", "full_reset"}
    design = pd.read_csv(tiny_run / "results/tables/design.csv")
    for protocol, row in optimum.iterrows():
        prediction = pd.read_csv(tiny_run / f"results/predict/{protocol}/prediction.csv")
        # the optimum is the argmin over the whole grid, measured or predicted
        assert row["best_tau"] == prediction.loc[prediction["mfpt"].idxmin(), "tau"]
        measured = prediction.loc[prediction["measured"], "tau"].tolist()
        assert row["measured_taus"] == " ".join(map(str, measured)) and 8 in measured
        # cost: every replica of the baseline, of τ* and of the design's blocks up to its
        # first passage (replicas 0..9 of each condition to the horizon), recomputed from the tables
        config = parse_config(yaml.safe_load((tiny_run / "tests/config/tiny.yaml").read_text()))
        root = tiny_run / "results"
        plan = paths.design_plan(config, protocol, root)
        blocks = [*paths.baseline_blocks(config, root), *paths.single_frequency_blocks(config, protocol, root),
                  *(b for bs in paths.design_blocks(config, protocol, plan, root).values() for b in bs)]
        expected = 0
        for block in blocks:
            table = pd.read_parquet(block)
            acc = table.pivot(index="replica", columns="epoch", values="test_acc")
            passed = (acc >= 96.5).to_numpy()
            first = np.where(passed.any(axis=1), passed.argmax(axis=1) + 1, 24)
            expected += int(np.where(acc.index < 10, 24, first).sum())
        assert row["design_replica_epochs"] == expected < (1 + len(measured)) * 60 * 24
        rounds = design[design["protocol"] == protocol]
        assert rounds["round"].tolist() == list(range(len(rounds))) and rounds["round"].iloc[0] == 0
        assert rounds["measured_taus"].iloc[0] == "8"
        assert rounds["replica_epochs_trained"].is_monotonic_increasing
        last = rounds.iloc[-1]
        assert last["optimal_tau"] == row["best_tau"] and last["measured_taus"] == row["measured_taus"]


def test_configured_schedules_are_trained_predicted_and_compared(tiny_run):
    """Each schedule of the config is a validation condition: trained with its
    perturbation epochs (explicit, or each replica's own timer), predicted by the
    closure (predict/<protocol>/schedules.csv) and measured in validation.csv."""
    config = parse_config(yaml.safe_load((tiny_run / "tests/config/tiny.yaml").read_text()))
    root = tiny_run / "results"
    validation = pd.read_csv(root / "tables/validation.csv")
    rows = validation[validation["schedule"].notna()].set_index("schedule")
    assert list(rows.index) == ["6,12,18", "poisson:0.15"] and (rows["protocol"] == "shrink_perturb").all()
    assert rows["tau"].isna().all() and rows["source_tau"].notna().all()
    predicted = pd.read_csv(root / "predict/shrink_perturb/schedules.csv").set_index("schedule")
    np.testing.assert_allclose(rows["predicted_mfpt"], predicted.loc[rows.index, "mfpt"], rtol=1e-8)
    assert (rows["predicted_low"] <= rows["predicted_mfpt"]).all() and (rows["predicted_mfpt"] <= rows["predicted_high"]).all()
    blocks = paths.schedule_blocks(config, "shrink_perturb", root)
    assert list(blocks) == ["epochs6-12-18", "poisson0.15"]
    for (label, files), name in zip(blocks.items(), rows.index, strict=True):
        table = pd.concat([pd.read_parquet(f) for f in files])
        acc = table.pivot(index="replica", columns="epoch", values="test_acc")
        acted = table.pivot(index="replica", columns="epoch", values="perturbed_after")
        if label.startswith("epochs"):
            assert (acted.all(axis=0) == acted.columns.isin([6, 12, 18])).all() and not acted.loc[:, 19:].any().any()
        else:  # a timer per replica: replicas differ, and the share of epochs is near 0.15
            assert acted.nunique(axis=0).max() == 2 and abs(acted.to_numpy().mean() - 0.15) < 0.05
        passed = (acc >= 96.5).to_numpy()
        first = np.where(passed.any(axis=1), passed.argmax(axis=1) + 1, 24)
        # restricted mean ⟨T ∧ H⟩ of the trained replicas = mean of min(T, H) when nobody is lost before H
        assert rows.loc[name, "measured_mfpt"] == pytest.approx(np.minimum(first, 24).mean(), rel=1e-8)
        assert rows.loc[name, "n_replicas"] == 60


def test_a_schedule_the_design_asks_for_is_trained_and_enters_the_answer(tiny_run, tmp_path):
    """The wiring of item 2: a settled round naming a two-phase schedule makes
    Snakemake plan its training (a label no config lists), and predict measures
    it and takes it as the answer exactly when it is distinguishably faster."""
    from fptopt.pipeline.jobs import Job
    from fptopt.pipeline.stages import predict_stage
    from fptopt.pipeline.train_job import run_training_job
    from fptopt.stats.design import measured_means, schedule_answer

    workdir = tmp_path / "copy"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = parse_config(yaml.safe_load((workdir / "tests/config/tiny.yaml").read_text()))
    root = workdir / "results"
    round_file = Path(paths.design_round("shrink_perturb", 0, root))
    record = json.loads(round_file.read_text())
    record |= {"next_tau": None, "next_replicas": None, "next_schedule": "epochs8-11-14-17-20",
               "next_schedule_replicas": 60}
    round_file.write_text(json.dumps(record))
    output = snakemake(workdir, "-n", "--configfile", "tests/config/tiny.yaml").stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.M))
    assert counts.get("train_schedule") == "2" and counts.get("predict") == "1", output[-2000:]
    assert "results/train_schedule/shrink_perturb/epochs8-11-14-17-20/block1.parquet" in output
    schedule_plan = paths.design_schedule_plan(config, "shrink_perturb", root)
    assert schedule_plan == {"epochs8-11-14-17-20": 60}
    inputs = paths.design_inputs(config, "shrink_perturb", paths.design_plan(config, "shrink_perturb", root), root,
                                 schedule_plan=schedule_plan)
    for block, file in enumerate(inputs["design_schedule_epochs8_11_14_17_20"]):
        run_training_job(config, Job("train_schedule", "shrink_perturb", None, block, "epochs8-11-14-17-20"), file)
    outputs = paths.predict_outputs("shrink_perturb", tmp_path / "predicted")
    predict_stage(config, "shrink_perturb", **paths.design_from_inputs(inputs), outputs=outputs)
    summary = json.loads(Path(outputs["summary"]).read_text())
    frames = [pd.read_parquet(f) for f in inputs["design_schedule_epochs8_11_14_17_20"]]
    schedule_cost = sum(int(frame["trained"].sum()) for frame in frames)
    before = json.loads((root / "predict/shrink_perturb/summary.json").read_text())
    assert summary["measured_taus"] == [8]  # round 0's period was taken out of the plan above
    assert summary["replica_epochs_trained"] > schedule_cost > 0
    # the answer by the rule, recomputed from the tables
    h, chosen = 24, summary["optimal_tau"]
    from fptopt.stats.survival import first_passage

    def passages(frame):
        return first_passage(frame.pivot(index="replica", columns="epoch", values="test_acc").to_numpy()[:, :h],
                             96.5, "above")

    measured = {"8,11,14,17,20": passages(pd.concat(frames))}
    single = pd.concat([pd.read_parquet(f) for f in inputs["single"]])
    acc = single.pivot(index="replica", columns="epoch", values="test_acc").to_numpy()
    period_mfpt, period_se = measured_means({chosen: first_passage(acc[:, :h], 96.5, "above")}, h)[chosen]
    expected = schedule_answer(period_mfpt, period_se, measured, h, confidence=config["adaptive"]["confidence"])
    if not summary["optimal_measured"]:  # a predicted period is never set against a measured schedule
        expected = None
    assert summary["answer"]["kind"] == ("period" if expected is None else "schedule")
    if expected is not None:
        assert summary["answer"]["schedule"] == "8,11,14,17,20"
    assert before["answer"] == {"kind": "period", "tau": before["optimal_tau"], "schedule": None,
                                "mfpt": before["optimal_mfpt"]}


def test_recommendation_ranks_the_optima_with_the_accuracy_of_their_full_horizon_replicas(tiny_run):
    recommendation = pd.read_csv(tiny_run / "results/tables/recommendation.csv")
    optimum = pd.read_csv(tiny_run / "results/tables/optimum.csv").set_index("protocol")
    assert recommendation["protocol"].tolist() == optimum["mfpt_at_best"].sort_values().index.tolist()
    assert recommendation["rank"].tolist() == [1, 2] and not recommendation["distinguishable_from_best"].iloc[0]
    config = parse_config(yaml.safe_load((tiny_run / "tests/config/tiny.yaml").read_text()))
    root = tiny_run / "results"
    for _, row in recommendation.iterrows():
        assert row["tau"] == optimum.loc[row["protocol"], "best_tau"]
        assert np.isclose(row["mfpt"], optimum.loc[row["protocol"], "mfpt_at_best"])
        assert row["mfpt_low"] <= row["mfpt"] <= row["mfpt_high"] and row["speedup_low"] <= row["speedup"]
        # the final accuracy at the chosen period: the mean last-epoch test_acc of its replicas 0..9
        # (they train to the horizon), recomputed from the training blocks
        protocol, tau = row["protocol"], int(row["tau"])
        if not optimum.loc[protocol, "best_measured"]:  # a predicted optimum has no replicas to measure it
            assert np.isnan(row["final_acc"])
            continue
        if tau == config["protocols"][[p["name"] for p in config["protocols"]].index(protocol)]["tau_star"]:
            blocks = paths.single_frequency_blocks(config, protocol, root)
        else:
            blocks = paths.sweep_blocks(config, protocol, root, taus=[tau])[tau]
        runs = pd.concat([pd.read_parquet(b) for b in blocks if Path(b).exists()])
        final = runs[(runs["replica"] < 10) & (runs["epoch"] == 24)]["test_acc"]
        assert row["full_horizon_replicas"] == final.size == 10
        assert np.isclose(row["final_acc"], final.mean())
        assert row["final_acc_low"] < row["final_acc"] < row["final_acc_high"]


def test_one_prediction_against_a_hand_computed_renewal_sum(tiny_run):
    """⟨T_τ ∧ H⟩ = Σ_{t<H} Ψ_τ(t) with Ψ_τ(nτ+u) = Ψ(τ) φ(τ)^(n−1) φ(u), summed by hand from the
    saved unperturbed Ψ and the saved response of the τ* = 8 run; and that response is the
    hazards of the τ* run pooled by age since its last perturbation, recomputed from its counts."""
    horizon, tau_star = 24, 8
    closure = pd.read_parquet(tiny_run / "results/predict/shrink_perturb/closure.parquet")
    psi = closure[closure["curve"] == "unperturbed"].sort_values("t")["value"].to_numpy()
    phi = closure[(closure["curve"] == "response") & (closure["tau_m"] == tau_star)].sort_values("t")["value"].to_numpy()
    single = pd.read_parquet(tiny_run / "results/predict/shrink_perturb/single_frequency_survival.parquet")
    events = single.sort_values("t")["n_events"].to_numpy()
    at_risk = single.sort_values("t")["n_at_risk"].to_numpy()
    pooled = [1.0]
    for age in range(1, tau_star + 1):
        d = sum(events[t] for t in range(tau_star + age, horizon + 1, tau_star))
        r = sum(at_risk[t] for t in range(tau_star + age, horizon + 1, tau_star))
        pooled.append(pooled[-1] * (1 - d / r))
    np.testing.assert_allclose(phi[: tau_star + 1], pooled, rtol=1e-12)
    prediction = pd.read_csv(tiny_run / "results/predict/shrink_perturb/prediction.csv").set_index("tau")
    predicted_from_tau_star = prediction[(prediction["source_tau"] == tau_star) & ~prediction["measured"]]
    assert not predicted_from_tau_star.empty
    for tau in predicted_from_tau_star.index:
        expected = 0.0
        for t in range(horizon):
            if t <= tau:
                expected += psi[t]
            else:
                n, u = (t - 1) // tau, t - ((t - 1) // tau) * tau
                expected += psi[tau] * phi[tau] ** (n - 1) * phi[u]
        assert prediction.loc[tau, "predicted"] == pytest.approx(expected, rel=1e-9), tau
        assert prediction.loc[tau, "mfpt"] == prediction.loc[tau, "predicted"]


def test_outputs_carry_provenance_and_figures_exist(tiny_run):
    qss = json.loads((tiny_run / "results/survival/qss.json").read_text())
    assert len(qss["provenance"]["config_hash"]) == 16 and qss["provenance"]["fptopt_version"]
    block = tiny_run / "results/train_baseline/block0.parquet"
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(block).metadata[b"fptopt"])
    assert len(meta["seeds"]) == 30 and meta["split"]["n_test"] == 597
    for name in paths.FIGURE_NAMES:
        for ext in ("png", "pdf"):
            assert (tiny_run / f"results/figures/{name}.{ext}").stat().st_size > 5000


def test_rerun_is_a_no_op(tiny_run):
    result = snakemake(tiny_run, "--configfile", "tests/config/tiny.yaml")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_changed_shrink_reruns_only_what_depends_on_it(tiny_run):
    config = (tiny_run / "tests/config/tiny.yaml").read_text().replace("shrink: 0.4", "shrink: 0.5")
    (tiny_run / "changed.yaml").write_text(config)
    output = snakemake(tiny_run, "-n", "--configfile", "changed.yaml").stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.M))
    assert counts.get("train_single_frequency") == "2" and counts.get("train_sweep") == "4"  # S&P only: 2 blocks × (τ*, τ=4, τ=12)
    assert "train_baseline" not in counts
    assert counts.get("predict") == "1" and counts.get("validate") == "1" and "survival" not in counts


def test_more_sweep_replicas_rerun_only_the_periodic_runs_and_what_reads_them(tiny_run):
    config = (tiny_run / "tests/config/tiny.yaml").read_text().replace(
        "replicas_per_job: 30", "replicas_per_job: 30\n  sweep_replicas: 90")
    (tiny_run / "more.yaml").write_text(config)
    output = snakemake(tiny_run, "-n", "--configfile", "more.yaml").stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.M))
    # three blocks of 30 for each validation period after τ* (τ = 4, 12 for S&P, 6 for reset), and the
    # blocks of the design's replicas at periods the sweep does not have: one rule trains them all
    design = pd.read_csv(tiny_run / "results/tables/design.csv")
    trained = design[(design["round"] < 1) & design["next_tau"].notna()]  # tiny: adaptive.rounds = 1
    sweep = {("shrink_perturb", 4), ("shrink_perturb", 12), ("full_reset", 6)}
    extra = {(p, int(t)): -(-int(n) // 30) for p, t, n in zip(trained["protocol"], trained["next_tau"],
                                                                trained["next_replicas"], strict=True)
             if (p, int(t)) not in sweep}
    assert counts.get("train_sweep") == str(3 * len(sweep) + sum(extra.values()))
    assert not {"train_baseline", "train_single_frequency", "survival"} & set(counts)
    assert counts.get("validate") == "2"


def test_a_changed_model_reruns_all_training_and_a_changed_engine_nothing(tiny_run):
    text = (tiny_run / "tests/config/tiny.yaml").read_text()
    (tiny_run / "wider.yaml").write_text(text.replace("hidden: [16]", "hidden: [24]"))
    output = snakemake(tiny_run, "-n", "--configfile", "wider.yaml").stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.M))
    assert (counts.get("train_baseline"), counts.get("train_single_frequency"), counts.get("train_sweep")) == ("2", "4", "6")
    execution = text.replace("threads: 1", "threads: 1\n  engine: loop\n  eval_batch_size: 100")
    (tiny_run / "loop.yaml").write_text(execution + "checkpoint_every: 3\n")
    result = snakemake(tiny_run, "-n", "--configfile", "loop.yaml")
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


def test_killed_run_resumes_with_rerun_incomplete_and_matches(tiny_run, tmp_path):
    """Killed mid-job and resumed, the training blocks are the bytes of an
    uninterrupted run (the analysis is a function of them). Only the first jobs
    run: the baseline and τ* blocks, all that the kill needs to land mid-job."""
    workdir = copy_workflow(tmp_path)
    config = parse_config(yaml.safe_load((workdir / "tests/config/tiny.yaml").read_text()))
    blocks = [*paths.baseline_blocks(config), *(b for entry in config["protocols"]
                                                for b in paths.single_frequency_blocks(config, entry["name"]))]
    # the targets before --configfile, which takes every value after it
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *blocks, "--configfile", "tests/config/tiny.yaml"]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 300
    incomplete = workdir / ".snakemake" / "incomplete"
    # Kill once a block has finished and another job is running (Snakemake marks
    # the outputs of running jobs as incomplete), so the kill lands mid-job.
    while not (list((workdir / "results").glob("train_*/**/*.parquet"))
               and incomplete.is_dir() and any(incomplete.iterdir())):
        assert time.time() < deadline and process.poll() is None
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert any(incomplete.iterdir()), "the kill did not land while a job was running"
    assert not all((workdir / block).exists() for block in blocks)
    snakemake(workdir, "--configfile", "tests/config/tiny.yaml", "--unlock")  # the kill left the lock behind
    snakemake(workdir, "--configfile", "tests/config/tiny.yaml", "--rerun-incomplete", *blocks)
    for block in blocks:
        assert (workdir / block).read_bytes() == (tiny_run / block).read_bytes(), block


def test_results_doc_block_is_generated_from_the_tables(tiny_run, tmp_path):
    from fptopt.cli import main

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\nold text\n<!-- results:end -->\nrest\n")
    assert main(["results-doc", "--results", str(tiny_run / "results"), "--doc", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n<!-- results:begin -->\n") and text.endswith("<!-- results:end -->\nrest\n")
    assert "old text" not in text and "The answer per protocol" in text
    optimum = pd.read_csv(tiny_run / "results/tables/optimum.csv")
    for _, row in optimum.iterrows():
        assert f"| {row['protocol']}" in text and f" {row['measured_taus']} " in text
    # the head-to-head of bench/compare_search.py, with each method's multiple of fptopt's
    comparison = tmp_path / "search_comparison.json"
    comparison.write_text(json.dumps({
        "accounting": "first_passage",
        "oracle": {"source": "tests/data/dense_default/first_passage.parquet (sha256 …)", "regret_tolerance": 0.1,
                   "success_share": 0.9, "repeats": 50},
        "methods": {"shrink_perturb": {"fptopt": {"replica_epochs_to_target": 10_000},
                                       "grid_R10": {"replica_epochs_to_target": 25_000}},
                    "full_reset": {"fptopt": {"replica_epochs_to_target": None},
                                   "grid_R10": {"replica_epochs_to_target": 40_000}}}}))
    assert main(["results-doc", "--results", str(tiny_run / "results"), "--doc", str(readme),
                 "--search-comparison", str(comparison)]) == 0
    text = readme.read_text()
    assert "accounting: first_passage" in text and "| method | shrink_perturb | full_reset |" in text
    assert "| fptopt | 10,000 (1×) | not reached |" in text and "| grid_R10 | 25,000 (2.5×) | 40,000 |" in text
    front = tmp_path / "FRONT.md"
    front.write_text("# title\n<!-- headline:begin -->\nold\n<!-- headline:end -->\nrest\n")
    assert main(["results-doc", "--results", str(tiny_run / "results"), "--doc", "", "--headline-in", str(front)]) == 0
    recommendation = pd.read_csv(tiny_run / "results/tables/recommendation.csv")
    best = recommendation.iloc[0]
    assert f"{best['protocol'].replace('_', ' ').capitalize()} every {best['tau']} epochs" in front.read_text()
    assert "old" not in front.read_text() and front.read_text().endswith("<!-- headline:end -->\nrest\n")
    (tmp_path / "plain.md").write_text("no markers\n")
    assert main(["results-doc", "--results", str(tiny_run / "results"), "--doc", str(tmp_path / "plain.md")]) == 2


def test_the_regret_grid_with_more_replicas_than_a_periodic_run_trains_only_the_rest(tiny_run, tmp_path):
    """regret.replicas = 90 on periodic runs of 60: each dense period is its two
    train_sweep blocks (shared with the design and the sweep) plus one
    train_dense block of replicas 60..89; the regret tables read all 90."""
    workdir = tmp_path / "copy"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    text = (workdir / "tests/config/tiny.yaml").read_text()
    assert "  max_tau: 4" in text
    (workdir / "dense.yaml").write_text(text.replace("  max_tau: 4", "  max_tau: 4\n  replicas: 90\n  replicas_per_job: 30"))
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", snakemake(workdir, "-n", "regret", "--configfile", "dense.yaml").stdout,
                             flags=re.M))
    assert counts.get("train_dense") == str(2 * 4)  # one block per period τ = 1..4 of both protocols
    assert not {"train_baseline", "train_single_frequency", "predict", "validate"} & set(counts)
    snakemake(workdir, "regret", "--configfile", "dense.yaml")
    dense = pd.read_parquet(workdir / "results/regret/dense_mfpt.parquet")
    assert len(dense) == 8 and (dense["replicas"] == 90).all()
    passages = pd.read_parquet(workdir / "results/regret/first_passage.parquet")
    grid = passages[passages["condition"].str.startswith("train_sweep/")]
    for condition, rows in grid.groupby("condition"):
        assert sorted(rows["replica"].astype(int)) == list(range(90)), condition
    extra = pd.read_parquet(workdir / "results/train_dense/full_reset/tau3/block0.parquet")
    assert sorted(extra["replica"].unique()) == list(range(60, 90))
    assert (extra["condition"] == "train_sweep/full_reset/tau3").all()  # the condition whose seeds it continues
    regret = pd.read_csv(workdir / "results/tables/regret.csv")
    assert set(regret["protocol"]) == {"shrink_perturb", "full_reset"} and (regret["grid_replicas"] == 90).all()
