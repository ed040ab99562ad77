"""The paper's experiment configs: valid, faithful to the recipe, and plannable.

Each config under ``config/paper/`` must pass the schema and
:func:`fptopt.pipeline.config.check_config`; a Snakemake dry run with the documented
command must plan exactly ``ceil(replicas / replicas_per_job)`` training jobs
per condition; and the CPU-sized regression experiment's baseline must show
the plateau its target was chosen for.
"""

import copy
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from fptopt.pipeline.config import check_config, parse_config
from fptopt.pipeline.jobs import Job
from fptopt.pipeline.train_job import run_training_job

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper"
SCHEMA = ROOT / "src" / "fptopt" / "schemas" / "config.schema.yaml"
CONFIGS = ["cifar10_resnet18", "cifar100_resnet18_momentum", "cifar100_resnet18_nomomentum", "fc_adam_regression"]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def load(name):
    with open(PAPER / f"{name}.yaml") as handle:
        return parse_config(yaml.safe_load(handle), f"{name}.yaml")


def all_taus(config, protocol):
    entry = next(p for p in config["protocols"] if p["name"] == protocol)
    return sorted({entry["tau_star"], *entry["sweep_taus"]})


@pytest.mark.parametrize("name", CONFIGS)
def test_config_validates_and_every_key_is_commented(name):
    config = load(name)
    validate(copy.deepcopy(config), str(SCHEMA))
    check_config(config)
    for line in (PAPER / f"{name}.yaml").read_text().splitlines():
        if re.match(r"^\s*(- )?[A-Za-z_]+:", line):
            assert "#" in line, f"{name}.yaml: key without a comment: {line!r}"
    for entry in config["protocols"]:
        assert entry["tau_star"] not in entry["sweep_taus"], "τ* is trained in stage 2; the sweep need not repeat it"


def test_cifar10_config_follows_the_published_recipe():
    config = load("cifar10_resnet18")
    training = config["training"]
    assert (config["data"]["name"], config["model"]["name"]) == ("cifar10", "resnet18_cifar")
    assert (training["replicas"], training["epochs"], training["batch_size"]) == (1000, 200, 125)
    assert training["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0}
    assert config["observable"] == {"column": "test_acc", "target": 72.0, "direction": "above"}
    assert all_taus(config, "shrink_perturb") == [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100]
    assert all_taus(config, "partial_reset") == [1, 2, 3, 4, 5, 6, 7, 10, 12, 15, 20, 30, 50, 100]
    assert config["protocols"][0]["options"] == {"shrink": 0.4, "noise": 0.1}
    assert config["resources"]["train"]["gpu"] == 1 and training["device"] == "cuda"


@pytest.mark.parametrize("variant, momentum", [("momentum", 0.9), ("nomomentum", 0.0)])
def test_cifar100_transfer_configs(variant, momentum):
    config = load(f"cifar100_resnet18_{variant}")
    assert (config["data"]["name"], config["training"]["epochs"]) == ("cifar100", 100)
    assert config["training"]["optimizer"]["momentum"] == momentum
    assert [p["kind"] for p in config["protocols"]] == ["shrink_perturb"]
    taus = all_taus(config, "shrink_perturb")
    assert taus[0] == 1 and taus[-1] == 80
    assert config["resources"]["train"]["gpu"] == 1 and config["training"]["device"] == "cuda"


def expected_train_jobs(config):
    blocks = math.ceil(config["training"]["replicas"] / config["training"]["replicas_per_job"])
    return {
        "train_baseline": blocks,
        "train_single_frequency": blocks * len(config["protocols"]),
        "train_sweep": blocks * sum(len(p["sweep_taus"]) for p in config["protocols"]),
    }


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory):
    """The documented dry run of every paper config, started together: each is
    mostly imports and DAG building, so side by side they cost about half the
    time. Output goes to a file (a full pipe would block the process)."""
    runs = {}
    for name in CONFIGS:
        directory = tmp_path_factory.mktemp(name)
        shutil.copy(ROOT / "config.yaml", directory / "config.yaml")
        log = (directory / "dry_run.log").open("w")
        command = [str(SNAKEMAKE), "-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(directory),
                   "--configfile", str(PAPER / f"{name}.yaml"), "--quiet", "rules"]
        runs[name] = (subprocess.Popen(command, cwd=directory, stdout=log, stderr=subprocess.STDOUT), log)
    yield runs
    for process, log in runs.values():
        if process.poll() is None:
            process.kill()
        log.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_dry_run_plans_one_job_per_block_and_condition(name, dry_runs):
    """The documented command, in a scratch working directory holding a copy of
    config.yaml (as the repository root does): nothing of it may leak in."""
    process, log = dry_runs[name]
    returncode = process.wait(timeout=300)
    log.flush()
    output = Path(log.name).read_text()
    assert returncode == 0, output[-3000:]
    counts = {rule: int(n) for rule, n in re.findall(r"^(train_\w+)\s+(\d+)\s*$", output, flags=re.M)}
    assert counts == expected_train_jobs(load(name)), output[-3000:]


def test_regression_baseline_plateaus_on_cpu(tmp_path):
    """24 baseline replicas of the regression config, its full 150 epochs, through
    the pipeline's own job function: test R² rises, then plateaus around θ."""
    config = load("fc_adam_regression")
    config["training"].update(replicas=24, replicas_per_job=24, stop_at_target=False)  # the whole trajectories
    path = run_training_job(config, Job("train_baseline", None, None, 0), tmp_path / "block0.parquet")
    table = pd.read_parquet(path)
    assert len(table) == 24 * 150 and not table["diverged"].any()
    r2 = table.pivot(index="replica", columns="epoch", values="test_r2").to_numpy()
    mean = r2.mean(axis=0)
    assert mean[4] < 20.0 < 40.0 < mean[49]  # a rise over the first ~40 epochs
    plateau = mean[59:]
    assert 37.0 < plateau.min() and plateau.max() < 46.0 and plateau.max() - plateau.min() < 5.0
    theta = config["observable"]["target"]
    passed = (np.maximum.accumulate(r2, axis=1)[:, -1] >= theta).mean()
    assert 0.2 < passed < 0.9, f"share reaching θ = {theta}: {passed:.2f} (a censored share is wanted)"
