"""From a config to training jobs: blocks and replicas per stage, and what is hashed."""

import math
from pathlib import Path

import pytest
import yaml

from fptopt.pipeline.config import parse_config
from fptopt.pipeline.jobs import Job, block_replicas, condition_section, n_blocks, stage_replicas
from fptopt.storage import config_hash

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    config = parse_config(yaml.safe_load((ROOT / "tests/config/tiny.yaml").read_text()))
    config["training"].update(replicas=70, replicas_per_job=30)
    return config


def test_blocks_cover_each_stage_replicas_once(config):
    config["training"]["sweep_replicas"] = 25
    assert [stage_replicas(config, s) for s in ("train_baseline", "train_single_frequency", "train_sweep")] == [70, 70, 25]
    for stage, total in (("train_baseline", 70), ("train_sweep", 25)):
        replicas = [r for b in range(n_blocks(config, stage)) for r in block_replicas(config, b, stage)]
        assert replicas == list(range(total))
    assert n_blocks(config, "train_baseline") == 3 and n_blocks(config, "train_sweep") == 1
    with pytest.raises(ValueError, match="block: expected 0 ≤ block < 1 for train_sweep, got 1"):
        block_replicas(config, 1, "train_sweep")
    config["training"]["sweep_replicas"] = None
    assert stage_replicas(config, "train_sweep") == 70


def test_sweep_replicas_change_only_the_sweep_jobs_identity(config):
    jobs = [Job("train_baseline", None, None, 0), Job("train_single_frequency", "shrink_perturb", 8, 0),
            Job("train_sweep", "shrink_perturb", 4, 0)]
    before = [config_hash(condition_section(config, job)) for job in jobs]
    config["training"]["sweep_replicas"] = 70  # the same count, said explicitly: nothing changes
    assert [config_hash(condition_section(config, job)) for job in jobs] == before
    config["training"]["sweep_replicas"] = 20
    after = [config_hash(condition_section(config, job)) for job in jobs]
    assert after[:2] == before[:2] and after[2] != before[2]


def test_a_schedule_job_is_seeded_and_hashed_by_its_own_schedule(config):
    schedule_job = Job("train_schedule", "shrink_perturb", None, 0, "poisson0.15")
    period_job = Job("train_sweep", "shrink_perturb", 4, 0)
    assert schedule_job.condition == "train_schedule/shrink_perturb/poisson0.15"
    assert condition_section(config, schedule_job)["protocol"]["schedule"] == {"poisson": 0.15}
    before = [config_hash(condition_section(config, job)) for job in (schedule_job, period_job)]
    config["protocols"][0]["schedules"][1]["poisson"] = 0.2  # another rate: another condition
    renamed = Job("train_schedule", "shrink_perturb", None, 0, "poisson0.2")
    assert config_hash(condition_section(config, renamed)) != before[0]
    assert config_hash(condition_section(config, period_job)) == before[1]  # the periods are untouched
    # a label not configured (a schedule the design chose) is the schedule it spells: the same condition
    assert config_hash(condition_section(config, schedule_job)) == before[0]
    design_job = Job("train_schedule", "shrink_perturb", None, 0, "epochs10-16-22")
    assert condition_section(config, design_job)["protocol"]["schedule"] == {"epochs": [10, 16, 22]}
    with pytest.raises(ValueError, match="schedule 'every10': expected epochsE1-E2-... or poissonRATE"):
        condition_section(config, Job("train_schedule", "shrink_perturb", None, 0, "every10"))
    assert stage_replicas(config, "train_schedule") == stage_replicas(config, "train_sweep")


def test_dense_blocks_continue_the_periodic_runs_replicas_under_their_seeds(config):
    config["training"]["sweep_replicas"] = 25
    assert n_blocks(config, "train_dense") == 0  # regret.replicas unset: the periodic runs' 25 are the grid
    config["regret"].update(replicas=100, replicas_per_job=40)
    assert stage_replicas(config, "train_dense") == 100 and n_blocks(config, "train_dense") == 2
    assert [block_replicas(config, b, "train_dense") for b in range(2)] == [list(range(25, 65)), list(range(65, 100))]
    dense, sweep = Job("train_dense", "shrink_perturb", 4, 1), Job("train_sweep", "shrink_perturb", 4, 0)
    assert dense.condition == sweep.condition == "train_sweep/shrink_perturb/tau4"  # replica r's seed is the same
    before = [config_hash(condition_section(config, job)) for job in (dense, sweep)]
    config["regret"]["replicas"] = 120  # more dense replicas: only the dense blocks change identity
    after = [config_hash(condition_section(config, job)) for job in (dense, sweep)]
    assert after[0] != before[0] and after[1] == before[1]
    config["regret"]["replicas_per_job"] = 20  # other blocks hold other replicas: a new identity too
    assert config_hash(condition_section(config, dense)) != after[0]
    config["regret"]["replicas_per_job"] = None
    assert n_blocks(config, "train_dense") == math.ceil(95 / 30)  # training.replicas_per_job then


def test_fewer_dense_replicas_than_a_periodic_run_is_a_config_error(config):
    from fptopt.pipeline.config import ConfigError, check_config

    config["training"]["sweep_replicas"] = 25
    config["adaptive"].update(max_replicas=25, settle_replicas=25)
    config["training"]["replicas"] = 25
    config["regret"]["replicas"] = 24
    with pytest.raises(ConfigError, match=r"regret.replicas: 24 is fewer than a periodic run has \(25"):
        check_config(config)
    config["regret"]["replicas"] = 25
    check_config(config)


def test_schedule_replicas_change_only_the_schedule_jobs(config):
    config["training"]["sweep_replicas"] = 25
    jobs = [Job("train_sweep", "shrink_perturb", 4, 0), Job("train_schedule", "shrink_perturb", None, 0, "poisson0.15")]
    before = [config_hash(condition_section(config, job)) for job in jobs]
    assert stage_replicas(config, "train_schedule") == 25  # unset: a periodic run's
    config["training"]["schedule_replicas"] = 100
    assert stage_replicas(config, "train_schedule") == 100 and n_blocks(config, "train_schedule") == 4
    after = [config_hash(condition_section(config, job)) for job in jobs]
    assert after[0] == before[0] and after[1] != before[1]
