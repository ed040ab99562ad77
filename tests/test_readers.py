"""Readers of the common trainers' logs (fptopt.stats.logs.read_runs / read_trajectories).

Every fixture is written the way the trainer lays it out on disk; the key test
writes the same replicas in every format and requires the same array back.
"""

import argparse
import csv
import json
import sys

import numpy as np
import pandas as pd
import pytest

from fptopt.cli.analyze import add_analyze_arguments, run_analyze
from fptopt.stats.analyze import analyze
from fptopt.stats.logs import FORMATS, parse_per_epoch_from, read_runs, read_trajectories
from fptopt.stats.survival import first_passage

REPLICAS, EPOCHS, STEPS_PER_EPOCH = 120, 40, 120
SHORT = {7: 33, 50: 21}  # replica -> epochs it recorded (killed early)
TARGET, TAU_STAR = 0.72, 8


def accuracy_runs(replicas=REPLICAS, epochs=EPOCHS, seed=0, period=None):
    """Validation accuracy of a seeded synthetic process: a rise to a 0.70 plateau
    with sd-0.01 noise, as correct answers out of 1024 images (exact in float32,
    so TensorBoard's float32 scalars round-trip too); NaN after a short run's end."""
    rng = np.random.default_rng(seed)
    age = (np.arange(epochs) % period + 1) if period else np.arange(1, epochs + 1)
    mean = 0.70 - 0.40 * np.exp(-age / 2.5)
    runs = np.round((mean + rng.normal(0.0, 0.01, (replicas, epochs))) * 1024) / 1024
    for replica, length in SHORT.items():
        if replica < replicas:
            runs[replica, length:] = np.nan
    return runs


def recorded(run):
    return run[np.isfinite(run)]


def number(value):
    return repr(float(value))


# ---------------------------------------------------------------- writers: one per trainer

def write_csv_dir(root, runs):
    """Today's layout: one CSV per replica, 1-based epoch + the observable."""
    folder = root / "csv_dir"
    folder.mkdir()
    for i, run in enumerate(runs):
        values = recorded(run)
        pd.DataFrame({"epoch": np.arange(1, values.size + 1), "test_acc": values}).to_csv(
            folder / f"seed{i:03d}.csv", index=False)
    return folder, "test_acc", [f"seed{i:03d}" for i in range(len(runs))]


def long_frame(runs):
    rows, cols = np.nonzero(np.isfinite(runs))
    return pd.DataFrame({"replica": [f"seed{i:03d}" for i in rows], "epoch": cols + 1,
                         "test_acc": runs[rows, cols]}).sample(frac=1.0, random_state=0)


def write_long_csv(root, runs):
    long_frame(runs).to_csv(root / "runs.csv", index=False)
    return root / "runs.csv", "test_acc", [f"seed{i:03d}" for i in range(len(runs))]


def write_long_parquet(root, runs):
    long_frame(runs).to_parquet(root / "runs.parquet")
    return root / "runs.parquet", "test_acc", [f"seed{i:03d}" for i in range(len(runs))]


def write_lightning(root, runs):
    """CSVLogger: lightning_logs/version_N/{hparams.yaml,metrics.csv}, 0-based epochs;
    training rows every 50 steps (validation cells empty), then one validation
    row per epoch (training cells empty)."""
    folder = root / "lightning_logs"
    for i, run in enumerate(runs):
        version = folder / f"version_{i}"
        version.mkdir(parents=True)
        (version / "hparams.yaml").write_text("lr: 0.05\nbatch_size: 64\n")
        with open(version / "metrics.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "step", "train_loss", "val_acc", "val_loss"])
            for epoch, acc in enumerate(recorded(run)):
                for step in range(49, STEPS_PER_EPOCH, 50):
                    writer.writerow([epoch, epoch * STEPS_PER_EPOCH + step, number(1 - acc + 0.05), "", ""])
                writer.writerow([epoch, (epoch + 1) * STEPS_PER_EPOCH - 1, "", number(acc), number(1 - acc)])
    return folder, "val_acc", [f"version_{i}" for i in range(len(runs))]


def write_keras(root, runs):
    """keras.callbacks.CSVLogger("seed000.log"): epoch from 0, metrics in sorted order."""
    folder = root / "keras"
    folder.mkdir()
    for i, run in enumerate(runs):
        with open(folder / f"seed{i:03d}.log", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
            for epoch, acc in enumerate(recorded(run)):
                writer.writerow([epoch, number(acc + 0.02), number(0.9 - acc), number(acc), number(1 - acc)])
    return folder, "val_accuracy", [f"seed{i:03d}" for i in range(len(runs))]


def trainer_state(values, until_epoch):
    """A Hugging Face trainer_state.json: training logs at fractional epochs, one
    evaluation per epoch (float epoch 1.0, 2.0, ...), the final summary entry."""
    history = []
    for epoch, acc in enumerate(values[:until_epoch], start=1):
        for step in (50, 100):
            global_step = (epoch - 1) * STEPS_PER_EPOCH + step
            history.append({"epoch": round(global_step / STEPS_PER_EPOCH, 4), "grad_norm": 1.5,
                            "learning_rate": 5e-5, "loss": float(1 - acc), "step": global_step})
        history.append({"epoch": float(epoch), "eval_accuracy": float(acc), "eval_loss": float(1 - acc),
                        "eval_runtime": 1.2, "eval_samples_per_second": 850.0, "step": epoch * STEPS_PER_EPOCH})
    last = min(until_epoch, len(values))
    if until_epoch >= len(values):
        history.append({"epoch": float(last), "step": last * STEPS_PER_EPOCH, "total_flos": 1e15,
                        "train_loss": 0.3, "train_runtime": 100.0})
    return {"best_metric": None, "best_model_checkpoint": None, "epoch": float(last),
            "eval_steps": 500, "global_step": last * STEPS_PER_EPOCH, "is_hyper_param_search": False,
            "is_local_process_zero": True, "is_world_process_zero": True, "log_history": history,
            "logging_steps": 50, "max_steps": len(values) * STEPS_PER_EPOCH,
            "num_train_epochs": len(values), "save_steps": 500, "total_flos": 1e15,
            "train_batch_size": 8, "trial_name": None, "trial_params": None}


def write_huggingface(root, runs):
    """output_dir/run_N/checkpoint-S/trainer_state.json, an early and the latest checkpoint."""
    folder = root / "hf"
    for i, run in enumerate(runs):
        values = recorded(run)
        for until in (len(values) // 2, len(values)):
            checkpoint = folder / f"run_{i}" / f"checkpoint-{until * STEPS_PER_EPOCH}"
            checkpoint.mkdir(parents=True)
            (checkpoint / "trainer_state.json").write_text(json.dumps(trainer_state(values, until), indent=2))
    return folder, "eval_accuracy", [f"run_{i}" for i in range(len(runs))]


def write_wandb(root, runs):
    """The runs table's chart export: Step (W&B's _step, from 0), and per run
    '<run> - val_acc' with its __MIN/__MAX; empty cells after a short run's end."""
    header = ["Step"]
    for i in range(len(runs)):
        header += [f"seed-{i} - val_acc", f"seed-{i} - val_acc__MIN", f"seed-{i} - val_acc__MAX"]
    with open(root / "wandb_export.csv", "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for step in range(runs.shape[1]):
            row = [step]
            for run in runs:
                cell = "" if np.isnan(run[step]) else number(run[step])
                row += [cell, cell, cell]
            writer.writerow(row)
    return root / "wandb_export.csv", "val_acc", [f"seed-{i}" for i in range(len(runs))]


def write_tensorboard(root, runs):
    """SummaryWriter(runs/seedN): add_scalar('val/acc', acc, epoch) for epoch in range(n)."""
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    folder = root / "runs"
    for i, run in enumerate(runs):
        writer = SummaryWriter(str(folder / f"seed{i}"))
        for epoch, acc in enumerate(recorded(run)):
            writer.add_scalar("train/loss", 1 - acc, epoch)
            writer.add_scalar("val/acc", acc, epoch)
        writer.close()
    return folder, "val/acc", [f"seed{i}" for i in range(len(runs))]


WRITERS = {"csv_dir": write_csv_dir, "long": write_long_csv, "long_parquet": write_long_parquet,
           "lightning": write_lightning, "keras": write_keras, "huggingface": write_huggingface,
           "wandb": write_wandb, "tensorboard": write_tensorboard}


# ---------------------------------------------------------------- the same replicas in every format

@pytest.fixture(scope="module")
def runs():
    return accuracy_runs()


@pytest.fixture(scope="module")
def reference(runs):
    perturbed = accuracy_runs(seed=1, period=TAU_STAR)
    summary = analyze(runs, perturbed, tau_star=TAU_STAR, target=TARGET).summary()
    return {"fp": first_passage(runs, TARGET), "perturbed": perturbed, "summary": summary}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_gives_the_same_replicas(name, runs, reference, tmp_path):
    path, column, ids = WRITERS[name](tmp_path, runs)
    forced = name.removesuffix("_parquet")
    for format in ("auto", forced):
        read_ids, array = read_trajectories(path, column, format=format)
        assert read_ids == ids
        np.testing.assert_array_equal(array, runs)  # NaN padding where a short replica ended
    fp = first_passage(array, TARGET)
    np.testing.assert_array_equal(fp.times, reference["fp"].times)
    np.testing.assert_array_equal(fp.observed, reference["fp"].observed)
    np.testing.assert_array_equal(fp.last_epoch, [SHORT.get(i, EPOCHS) for i in range(REPLICAS)])
    summary = analyze(array, reference["perturbed"], tau_star=TAU_STAR, target=TARGET).summary()
    for key in ("optimal_tau", "baseline_mfpt_restricted"):
        assert summary[key] == reference["summary"][key]
    assert summary["qss"]["t_q"] == reference["summary"]["qss"]["t_q"]


def test_read_runs_is_tidy_and_names_the_source(runs, tmp_path):
    path, column, _ = write_keras(tmp_path, runs[:3])
    tidy = read_runs(path, column)
    assert list(tidy.columns) == ["replica", "epoch", "val_accuracy", "source"]
    assert tidy.epoch.dtype.kind == "i" and tidy.epoch.min() == 1  # Keras's epoch 0 is epoch 1
    assert tidy.groupby("replica").epoch.max().to_dict() == {"seed000": 40, "seed001": 40, "seed002": 40}
    assert set(tidy.source) == {str(path / f"seed00{i}.log") for i in range(3)}
    np.testing.assert_array_equal(tidy.val_accuracy[tidy.replica == "seed001"], runs[1])


def test_natural_replica_order(tmp_path, runs):
    path, column, _ = write_lightning(tmp_path, runs[:12])
    ids, _ = read_trajectories(path, column)
    assert ids[:3] == ["version_0", "version_1", "version_2"] and ids[-1] == "version_11"


def test_a_short_replica_is_padded_not_an_error(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.csv").write_text("epoch,acc\n0,0.5\n1,0.6\n2,0.7\n")
    (folder / "b.csv").write_text("epoch,acc\n0,0.5\n")
    ids, array = read_trajectories(folder, "acc")
    np.testing.assert_array_equal(array, [[0.5, 0.6, 0.7], [0.5, np.nan, np.nan]])
    assert first_passage(array, 0.65).last_epoch.tolist() == [3, 1]  # b censored at its own end


# ---------------------------------------------------------------- details of each trainer

def test_lightning_keeps_the_last_row_holding_the_column(tmp_path):
    version = tmp_path / "lightning_logs" / "version_0"
    version.mkdir(parents=True)
    (version / "metrics.csv").write_text(
        "epoch,step,train_loss,val_acc,val_loss\n"
        "0,49,0.9,,\n0,99,,0.40,1.1\n0,99,,0.45,1.0\n"  # validation ran twice in epoch 0
        "1,149,0.7,,\n1,199,,0.60,0.8\n"
        "2,249,0.5,,\n2,299,,nan,nan\n")                 # diverged: logged NaN stays NaN
    tidy = read_runs(tmp_path / "lightning_logs", "val_acc")
    np.testing.assert_array_equal(tidy.val_acc, [0.45, 0.60, np.nan])
    np.testing.assert_array_equal(read_runs(tmp_path / "lightning_logs", "train_loss").train_loss,
                                  [0.9, 0.7, 0.5])
    assert read_trajectories(version / "metrics.csv", "val_acc")[0] == ["version_0"]
    assert read_trajectories(version, "val_acc")[0] == ["version_0"]


def test_huggingface_takes_the_latest_checkpoint_and_rounds_epochs(tmp_path):
    run = tmp_path / "out" / "run_a"
    for step, history in ((240, [{"epoch": 1.0, "eval_accuracy": 0.5, "step": 120}]),
                          (360, [{"epoch": 0.0, "eval_accuracy": 0.1, "step": 0},  # eval_on_start
                                 {"epoch": 0.99, "eval_accuracy": 0.5, "step": 119},
                                 {"epoch": 1.5, "eval_accuracy": 0.55, "step": 180},
                                 {"epoch": 2.0, "eval_accuracy": 0.6, "step": 240},
                                 {"epoch": 3.0, "eval_accuracy": 0.7, "step": 360}])):
        (run / f"checkpoint-{step}").mkdir(parents=True)
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text(
            json.dumps({"global_step": step, "log_history": history}))
    ids, array = read_trajectories(tmp_path / "out", "eval_accuracy")
    assert ids == ["run_a"]
    np.testing.assert_array_equal(array, [[0.5, 0.6, 0.7]])  # 0.99 -> 1; 1.5 and the epoch-0 eval dropped
    _, binned = read_trajectories(tmp_path / "out", "eval_accuracy", per_epoch_steps=120)
    np.testing.assert_array_equal(binned, [[0.5, 0.6, 0.7]])  # step 180 < 240 = last of epoch 2


def test_huggingface_step_logs_need_per_epoch_steps(tmp_path):
    history = [{"epoch": round(step / 120, 4), "eval_accuracy": step / 1000, "step": step}
               for step in range(50, 360, 50)]  # eval_strategy="steps", eval_steps=50: never at an epoch end
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 350, "log_history": history}))
    with pytest.raises(ValueError, match=r"trainer_state.json: 'eval_accuracy' is logged only at fractional "
                                         r"epochs .*--per-epoch-from steps=N"):
        read_runs(tmp_path / "trainer_state.json", "eval_accuracy")
    _, array = read_trajectories(tmp_path / "trainer_state.json", "eval_accuracy", per_epoch_steps=120)
    np.testing.assert_array_equal(array, [[0.1, 0.2, 0.35]])  # steps 100, 200, 350 end epochs 1, 2, 3


def test_wandb_ignores_min_max_and_empty_cells(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('"Step","a - val_acc","a - val_acc__MIN","a - val_acc__MAX","b - val_acc",'
                    '"b - val_acc__MIN","b - val_acc__MAX"\n'
                    '"0","0.5","0.1","0.9","0.4","0.4","0.4"\n"1","0.6","0.1","0.9","",""," "\n')
    tidy = read_runs(path, "val_acc")
    assert tidy[["replica", "epoch"]].values.tolist() == [["a", 1], ["a", 2], ["b", 1]]
    np.testing.assert_array_equal(tidy.val_acc, [0.5, 0.6, 0.4])
    path.write_text('"Step","a - val_acc","a - val_acc"\n"0","0.5","0.4"\n')
    with pytest.raises(ValueError, match=r"export.csv: two columns 'a - val_acc'"):
        read_runs(path, "val_acc")


def test_tensorboard_steps_per_epoch(tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "runs" / "seed0"))
    for step in range(1, 301):  # global steps; 100 per epoch
        writer.add_scalar("val/acc", step / 512, step)
    writer.close()
    ids, array = read_trajectories(tmp_path / "runs", "val/acc", per_epoch_steps=100)
    assert ids == ["seed0"]
    np.testing.assert_array_equal(array, [[100 / 512, 200 / 512, 300 / 512]])
    assert read_trajectories(tmp_path / "runs", "val/acc")[1].shape == (1, 300)  # step = epoch by default


def test_a_bom_does_not_hide_the_epoch_column(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "seed0.csv").write_bytes("\ufeffepoch,acc\n0,0.5\n1,0.6\n".encode())
    (folder / "seed1.log").write_bytes("\ufeffepoch,val_accuracy\n0,0.4\n".encode())
    _, array = read_trajectories(folder / "seed0.csv", "acc")
    np.testing.assert_array_equal(array, [[0.5, 0.6]])
    _, array = read_trajectories(folder / "seed1.log", "val_accuracy")
    np.testing.assert_array_equal(array, [[0.4]])


def test_zero_based_directory_is_shifted(tmp_path, runs):
    folder = tmp_path / "logs"
    folder.mkdir()
    for i, run in enumerate(runs[:3]):
        pd.DataFrame({"epoch": np.arange(EPOCHS), "acc": run}).to_csv(folder / f"s{i}.csv", index=False)
    np.testing.assert_array_equal(read_trajectories(folder, "acc")[1], runs[:3])


# ---------------------------------------------------------------- errors name the file, the replica, the option

def logs_dir(tmp_path, files: dict):
    folder = tmp_path / "logs"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


@pytest.mark.parametrize("files, column, match", [
    ({"s0.csv": "epoch,acc\n1,0.5\n2,0.6\n", "s1.csv": "epoch,acc\n5,0.5\n6,0.6\n"}, "acc",
     r"s1.csv: replica 's1' starts at epoch 5 \(1-based\): epochs 1..4 are missing"),
    ({"s0.csv": "epoch,acc\n5,0.5\n6,0.6\n"}, "acc", r"s0.csv: replica 's0' starts at epoch 5"),
    ({"s0.log": "epoch,val_accuracy\n4,0.5\n5,0.6\n"}, "val_accuracy",  # Keras resumed at initial_epoch=4
     r"s0.log: replica 's0' starts at epoch 4 \(0-based, shifted by 1\): epochs 1..4 are missing"),
    ({"s0.csv": b"epoch,acc\n1,0.5\n2,0.6 \xe9t\xe9\n"}, "acc", r"s0.csv: not UTF-8 text \(byte 0xe9 at offset 22\)"),
    ({"s0.log": b"\xff\xfee\x00p\x00"}, "acc", r"s0.log: not UTF-8 text"),
    ({"s0.csv": "epoch,acc\n1,0.5\n", "s1.csv": "epoch,acc\n1,nan\n2,\n"}, "acc",
     r"s1.csv: every value of 'acc' is NaN for replica 's1'"),
    ({"s0.log": "epoch,val_accuracy\n0,0.5\n1,0.6\n2,0.7\n1,0.65\n2,0.75\n"}, "val_accuracy",  # appended resume
     r"s0.log: duplicate epoch 1 for replica 's0'"),
    ({"s0.log": "epoch,val_accuracy\n0,0.5\n1,NA\n2,0.7\n"}, "val_accuracy",  # validation_freq=2
     r"s0.log: missing epochs for replica 's0': no value of 'val_accuracy' at epoch\(s\) \[1\] "
     r"\(as logged, 0-based"),
    ({"v0/metrics.csv": "epoch,step,train_loss,val_acc\n0,9,0.5,\n1,19,0.4,\n"}, "val_acc",
     r"v0/metrics.csv: no epochs recorded for replica 'v0' \(no row holds a value of 'val_acc'\)"),
    ({"v0/metrics.csv": "step,train_loss,val_acc\n9,0.5,\n10,,0.5\n"}, "val_acc",
     r"v0/metrics.csv: no 'epoch' column, only 'step': pass --per-epoch-from steps=N"),
    ({"v0/metrics.csv": "epoch,step,lr-SGD,train_acc,train_loss,val_acc,val_loss,grad_norm\n0,9,1,1,1,1,1,1\n"},
     "val_accuracy", r"v0/metrics.csv: no column 'val_accuracy'; closest of the 8 columns found: "
                     r"\['val_acc', 'train_acc', 'val_loss', 'lr-SGD', 'grad_norm'\]$"),
    ({"s0.csv": "epoch,acc\n1,0.5\n", "s0.log": "epoch,acc\n0,0.5\n"}, "acc",
     r"logs: holds logs of several formats: keras \(s0.log\); csv_dir \(s0.csv\); pass --format with one of "
     r"\['keras', 'csv_dir'\] to read only those files"),
    ({"notes.txt": "hello"}, "acc", r"logs: directory holds no CSV files \(one per replica\) nor other"),
])
def test_bad_logs(tmp_path, files, column, match):
    with pytest.raises(ValueError, match=match):
        read_trajectories(logs_dir(tmp_path, files), column)


def test_missing_metric_suggestions_in_wandb_and_huggingface(tmp_path):
    names = ["val_acc", "val_loss", "train_acc", "train_loss", "lr", "epoch_time", "grad_norm"]
    export = tmp_path / "export.csv"
    export.write_text(",".join(["Step"] + [f"run1 - {n}" for n in names]) + "\n" + ",".join(["0"] + ["1"] * 7))
    with pytest.raises(ValueError, match=r"export.csv: no metric 'val_accuracy'; closest of the 7 metrics "
                                         r"found: \['val_acc', 'train_acc', 'val_loss'"):
        read_runs(export, "val_accuracy")
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"global_step": 1, "log_history": [{"epoch": 1.0, "eval_acc": 0.5, "step": 1}]}))
    with pytest.raises(ValueError, match=r"trainer_state.json: no metric 'eval_accuracy'; metrics found: "
                                         r"\['eval_acc'\]"):
        read_runs(state, "eval_accuracy")


def test_tensorboard_errors(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "runs" / "seed0"))
    for epoch in (0, 1, 3):
        writer.add_scalar("val/acc", 0.5, epoch)
    writer.close()
    with pytest.raises(ValueError, match=r"seed0: missing epochs for replica 'seed0': .* \[2\] .*"
                                         r"pass --per-epoch-from steps=N"):
        read_runs(tmp_path / "runs", "val/acc")
    with pytest.raises(ValueError, match=r"seed0: no scalar tag 'val_acc'; scalar tags found: \['val/acc'\]"):
        read_runs(tmp_path / "runs", "val_acc")
    monkeypatch.setitem(sys.modules, "tensorboard.backend.event_processing", None)
    with pytest.raises(ValueError, match=r"runs: reading TensorBoard event files needs the tensorboard "
                                         r"package: pip install tensorboard"):
        read_runs(tmp_path / "runs", "val/acc")


@pytest.mark.parametrize("kwargs, match", [
    (dict(format="comet"), "format must be one of"),
    (dict(per_epoch_steps=0), r"per_epoch_steps \(--per-epoch-from steps=N\) must be a positive integer"),
    (dict(format="wandb"), "logs: a W&B export is one CSV file"),
    (dict(format="long"), "logs: a long table is one .csv or .parquet file"),
    (dict(format="huggingface"), "logs: no trainer_state.json below this folder"),
])
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_runs(logs_dir(tmp_path, {"s0.csv": "epoch,acc\n1,0.5\n"}), "acc", **kwargs)


def test_parse_per_epoch_from():
    assert parse_per_epoch_from(None) is None and parse_per_epoch_from("steps=390") == 390
    for text in ("390", "steps=0", "epochs=3", "steps=x"):
        with pytest.raises(ValueError, match="--per-epoch-from must look like steps=N"):
            parse_per_epoch_from(text)


# ---------------------------------------------------------------- fptopt analyze --format / --per-epoch-from

def cli(arguments):
    parser = add_analyze_arguments(argparse.ArgumentParser(prog="fptopt analyze"))
    return run_analyze(parser.parse_args(arguments))


def test_cli_reads_keras_logs(tmp_path, runs, reference, capsys):
    baseline, column, _ = write_keras(tmp_path, runs)
    perturbed = tmp_path / "perturbed"
    perturbed.mkdir()
    for i, run in enumerate(reference["perturbed"]):
        values = recorded(run)
        pd.DataFrame({"epoch": np.arange(values.size), "val_accuracy": values}).to_csv(
            perturbed / f"seed{i:03d}.log", index=False)
    out = tmp_path / "analysis"
    arguments = ["--baseline", str(baseline), "--perturbed", str(perturbed), "--tau-star", str(TAU_STAR),
                 "--target", str(TARGET), "--column", column, "--format", "keras", "--no-figures",
                 "--out", str(out)]
    assert cli(arguments) == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["optimal_tau"] == reference["summary"]["optimal_tau"]
    assert cli(arguments[:-2] + ["--per-epoch-from", "steps=x", "--out", str(tmp_path / "no")]) == 2
    assert "--per-epoch-from must look like steps=N" in capsys.readouterr().err
    assert cli(arguments[:-2] + ["--format", "huggingface", "--out", str(tmp_path / "no")]) == 2
    assert "no trainer_state.json below this folder" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_formats_listed_in_the_cli():
    parser = add_analyze_arguments(argparse.ArgumentParser(prog="fptopt analyze"))
    option = next(action for action in parser._actions if "--format" in action.option_strings)
    assert tuple(option.choices) == FORMATS and option.default == "auto"


def test_read_runs_docstring_example():
    import doctest

    import fptopt.stats.logs

    assert doctest.testmod(fptopt.stats.logs, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_the_format_advice_works_and_reads_only_that_formats_files(tmp_path):
    """A stray summary.csv beside Keras logs: the error names both kinds, and --format keras then
    reads the *.log files only."""
    folder = logs_dir(tmp_path, {"seed0.log": "epoch,val_accuracy\n0,0.5\n1,0.7\n",
                                 "seed1.log": "epoch,val_accuracy\n0,0.4\n1,0.6\n",
                                 "summary.csv": "seed,best\n0,0.7\n1,0.6\n"})
    with pytest.raises(ValueError, match=r"summary.csv.*pass --format with one of"):
        read_trajectories(folder, "val_accuracy")
    ids, values = read_trajectories(folder, "val_accuracy", format="keras")
    assert ids == ["seed0", "seed1"] and values.tolist() == [[0.5, 0.7], [0.4, 0.6]]


def test_keras_logs_kept_one_folder_per_run_are_found(tmp_path):
    folder = logs_dir(tmp_path, {f"seed{i}/training.log": f"epoch,val_accuracy\n0,0.{i}\n1,0.{i + 5}\n"
                                 for i in (1, 2, 10)})
    ids, values = read_trajectories(folder, "val_accuracy")
    assert ids == ["seed1", "seed2", "seed10"] and values[:, 1].tolist() == [0.6, 0.7, 0.15]


def test_a_huggingface_checkpoint_folder_or_its_state_file_is_read_as_its_run(tmp_path):
    folder, column, _ = write_huggingface(tmp_path, np.array([[0.5, 0.6, 0.7, 0.8]]))
    whole = read_trajectories(folder / "run_0", column)[1]
    latest = sorted((folder / "run_0").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    for path in (latest, latest / "trainer_state.json"):
        ids, values = read_trajectories(path, column)
        assert ids == ["run_0"] and np.array_equal(values, whole, equal_nan=True)


def hf_state_with_evaluations_within_epochs(tmp_path):
    """Three evaluations per epoch of 120 steps (eval_steps=40), the middle one of epoch 2 the best."""
    values = {40: 0.2, 80: 0.3, 120: 0.4, 160: 0.5, 200: 0.9, 240: 0.6, 280: 0.65, 320: 0.7, 360: 0.75}
    history = [{"epoch": round(step / 120, 4), "eval_accuracy": value, "step": step} for step, value in values.items()]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 360, "log_history": history}))
    return path


def test_evaluations_within_epochs_are_reported_and_can_count(tmp_path):
    path = hf_state_with_evaluations_within_epochs(tmp_path)
    tidy = read_runs(path, "eval_accuracy")
    assert tidy["eval_accuracy"].tolist() == [0.4, 0.6, 0.75]  # the end-of-epoch evaluations
    assert tidy.attrs["notes"] == [f"{path}: 6 evaluation(s) of 'eval_accuracy' fall between epochs and are not "
                                   f"used: a replica passes at the end-of-epoch evaluation (--any-evaluation counts "
                                   f"a pass at any evaluation, at the epoch it falls in)"]
    best = read_runs(path, "eval_accuracy", within_epoch="max")
    assert best["eval_accuracy"].tolist() == [0.4, 0.9, 0.75] and best.attrs["notes"] == []
    with pytest.raises(ValueError, match="is for Hugging Face logs"):
        read_runs(logs_dir(tmp_path, {"s0.log": "epoch,acc\n0,0.5\n"}), "acc", within_epoch="max")


@pytest.mark.parametrize("files, column, wrong, right", [
    (None, "eval_accuracy", 15, 120),  # Hugging Face: an N that is the evaluation interval, not an epoch
    ({"v0/metrics.csv": "epoch,step,val_acc\n0,44,0.5\n1,89,0.6\n2,134,0.7\n3,179,0.8\n"}, "val_acc", 50, 45),
])
def test_a_per_epoch_steps_that_disagrees_with_the_logs_epochs_is_refused(tmp_path, files, column, wrong, right):
    path = hf_state_with_evaluations_within_epochs(tmp_path) if files is None else logs_dir(tmp_path, files)
    with pytest.raises(ValueError, match=rf"--per-epoch-from steps={wrong} disagrees with the log's own epoch "
                                         rf"field, which puts {right} steps in an epoch; pass --per-epoch-from "
                                         rf"steps={right}"):
        read_runs(path, column, per_epoch_steps=wrong)
    assert read_runs(path, column, per_epoch_steps=right)["epoch"].tolist() == [1, 2, 3] + ([4] if files else [])
