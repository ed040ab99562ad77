"""Nothing lost, nothing wrong: kills, stale inputs, divergence, bad input, determinism."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from fptopt.cli import main
from fptopt.pipeline.config import parse_config
from fptopt.pipeline.jobs import Job
from fptopt.pipeline.stages import StaleInputError, load_condition
from fptopt.pipeline.train_job import run_training_job
from fptopt.storage import read_table

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(**training) -> dict:
    config = parse_config(yaml.safe_load((ROOT / "tests/config/tiny.yaml").read_text()))
    config["training"].update(training)
    if "replicas" in training:  # the design's ceiling cannot exceed the replicas a run has
        config["adaptive"].update(max_replicas=training["replicas"], settle_replicas=training["replicas"])
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def train_command(config_path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "fptopt.cli", "train", "--config", str(config_path), "--stage",
            "train_single_frequency", "--protocol", "shrink_perturb", "--out", str(out)]


def checkpoint_epoch(directory: Path) -> int:
    files = list(directory.glob("*.pt"))
    if not files:
        return 0
    try:
        return torch.load(files[0], weights_only=False)["snapshot"]["epoch"]
    except Exception:  # caught between write and rename: try again
        return 0


# The kill is requested once the checkpoint holds this epoch (of 40), chosen in
# the middle of the run, away from the first and last epochs. The process may
# still finish an epoch or two before SIGKILL lands: the epoch it actually
# resumes from is checked and shown in the messages.
KILL_AFTER_EPOCH = 17


@pytest.mark.parametrize("kill_after", [KILL_AFTER_EPOCH], ids=lambda epoch: f"kill_after_epoch_{epoch}")
def test_sigkill_at_a_fixed_epoch_then_rerun_is_byte_identical(tmp_path, kill_after):
    config = tiny_config(replicas=60, replicas_per_job=60, epochs=40)
    config["checkpoint_dir"] = str(tmp_path / "checkpoints")
    config_path = write_config(tmp_path / "config.yaml", config)
    reference = tmp_path / "reference.parquet"
    subprocess.run(train_command(config_path, reference), check=True, cwd=tmp_path, capture_output=True)
    assert not list((tmp_path / "checkpoints").glob("*.pt")), "checkpoint must be removed on success"

    out = tmp_path / "killed.parquet"
    process = subprocess.Popen(train_command(config_path, out), cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while checkpoint_epoch(tmp_path / "checkpoints") < kill_after and process.poll() is None:
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists(), f"killed at epoch ≥ {kill_after}: no output may exist yet"
    resumed_from = checkpoint_epoch(tmp_path / "checkpoints")
    assert resumed_from >= kill_after, f"asked to kill after epoch {kill_after}, checkpoint at {resumed_from}"
    rerun = subprocess.run(train_command(config_path, out), cwd=tmp_path, capture_output=True, text=True, check=True)
    assert f"resumed from epoch {resumed_from}" in rerun.stderr
    assert out.read_bytes() == reference.read_bytes(), f"resumed from epoch {resumed_from}: output differs"
    # stopping at the target was on (the default): replicas had stopped before the kill, and the
    # checkpoint the rerun resumed from held the compacted stack
    table = pd.read_parquet(out)
    stopped_by_kill = table[(table["epoch"] == resumed_from) & table["stopped"]]
    assert config["training"]["stop_at_target"] and len(stopped_by_kill) >= 5


def test_same_config_and_seed_give_the_same_trajectories(tmp_path):
    config = tiny_config(replicas=8, replicas_per_job=8, epochs=3)
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (first, second):
        run_training_job(config, Job("train_baseline", None, None, 0), out)
    assert first.read_bytes() == second.read_bytes()
    table = pd.read_parquet(first)
    assert not {"created_utc", "host"} & set(table.columns)


def test_outputs_of_another_config_are_refused(tmp_path):
    config = tiny_config(replicas=4, replicas_per_job=4, epochs=2)
    out = tmp_path / "block0.parquet"
    run_training_job(config, Job("train_single_frequency", "shrink_perturb", 8, 0), out)
    load_condition([out], config, "train_single_frequency", "shrink_perturb", 8)  # same config: accepted
    changed = yaml.safe_load(yaml.safe_dump(config))
    changed["protocols"][0]["options"]["shrink"] = 0.5
    with pytest.raises(StaleInputError, match="block0.parquet: made under config hash"):
        load_condition([out], changed, "train_single_frequency", "shrink_perturb", 8)


@pytest.mark.parametrize("content", [b"", b"PAR1\x00\x01garbage"])
def test_corrupt_or_truncated_parquet_names_the_file(tmp_path, content):
    path = tmp_path / "block0.parquet"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="block0.parquet: cannot read table.*corrupt or truncated"):
        read_table(path)
    good = tmp_path / "good.parquet"
    pd.DataFrame({"replica": range(100), "x": 1.0}).to_parquet(good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.parquet: cannot read table"):
        read_table(truncated)


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["protocols"][0].update(kind="warm_restart"), r"protocols\[0\] \(shrink_perturb\)\.kind: unknown name 'warm_restart'"),
    (lambda c: c["protocols"][0].update(tau_star=50), r"tau_star: 50 must be below the horizon 24"),
    (lambda c: c["training"].update(batch_size=0), r"config key training.batch_size: 0 is less than the minimum of 1"),
    (lambda c: c["observable"].update(direction="up"), r"config key observable.direction: 'up' is not one of"),
    (lambda c: c["analysis"].update(horizon=99), r"analysis.horizon: 99 exceeds training.epochs = 24"),
    (lambda c: c["training"].update(engine="grouped"), r"config key training.engine: 'grouped' is not one of"),
    (lambda c: c["training"].update(cuda_graph=True), r"training.cuda_graph: CUDA graphs need training.device cuda or auto, got 'cpu'"),
    (lambda c: c["training"].update(streams=4), r"training.streams: only training.engine 'loop' has it; got engine 'vmap'"),
    (lambda c: c["protocols"][0]["schedules"].append({"epochs": [5, 3]}),
     r"protocols\[0\] \(shrink_perturb\)\.schedules\[2\]\.epochs: expected strictly increasing epochs, got \[5, 3\]"),
    (lambda c: c["protocols"][0]["schedules"].append({"epochs": [30]}), r"schedules\[2\]\.epochs: \[30\] never act before the horizon 24"),
    (lambda c: c["protocols"][0]["schedules"].append({"poisson": 1.5}), r"config key protocols\.0\.schedules\.2: .* is not valid under any"),
    (lambda c: c["protocols"][0]["schedules"].append({"poisson": 0.15}), r"schedules: each schedule must be listed once, got \['epochs6-12-18', 'poisson0.15', 'poisson0.15'\]"),
])
def test_bad_config_values_are_named(tmp_path, capsys, edit, message):
    config = tiny_config()
    edit(config)
    code, err = run_cli(capsys, "check-config", "--config", str(write_config(tmp_path / "bad.yaml", config)))
    assert code == 2
    assert pytest.importorskip("re").search(message, err), err


def test_unwritable_results_path_fails_cleanly(tmp_path, capsys):
    config_path = write_config(tmp_path / "c.yaml", tiny_config(replicas=2, replicas_per_job=2, epochs=13))
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory is expected")
    code, err = run_cli(capsys, "train", "--config", str(config_path), "--stage", "train_baseline",
                        "--out", str(blocker / "train_baseline" / "block0.parquet"))
    assert code == 2 and "results/train_baseline" in err
    assert blocker.read_text() == "a file where a directory is expected"


def test_missing_config_file_is_named(tmp_path, capsys):
    code, err = run_cli(capsys, "check-config", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml: config file not found" in err
