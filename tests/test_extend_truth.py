"""Tests of bench/extend_truth.py (more replicas for a committed dense truth)
and of the committed truths it extended: the new replicas are the next blocks
of the same conditions, never a recorded one again."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import extend_truth as et  # noqa: E402  (bench/ is not a package)

from fptopt.pipeline.config import check_config, parse_config  # noqa: E402
from fptopt.pipeline.jobs import block_replicas, n_blocks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRUTHS = {"dense_default": ROOT / "config.yaml", "dense_mlp2x32": ROOT / "config" / "truths" / "digits_mlp2x32.yaml"}


def _frame(ids_by_condition):
    return pd.DataFrame([{"condition": c, "protocol": c.split("/")[1], "tau": 1, "replica": str(r), "time": 5,
                          "observed": True} for c, ids in ids_by_condition.items() for r in ids])


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_a_committed_truth_has_one_replica_count_per_dense_period_and_ids_without_gaps(name):
    folder = ROOT / "tests" / "data" / name
    frame, meta = pd.read_parquet(folder / "first_passage.parquet"), json.loads((folder / "meta.json").read_text())
    counts = et.recorded_counts(frame)
    assert len(counts) == 90 and set(counts.values()) == {meta.get("dense_replicas", meta["replicas"])}
    baseline = frame[frame["condition"] == "baseline"]
    assert len(baseline) == meta["replicas"]
    assert not frame.duplicated(["condition", "replica"]).any()
    et._check_same_condition(check_config(parse_config(yaml.safe_load(TRUTHS[name].read_text()))), meta, name)


def test_recorded_counts_refuse_a_gap_in_the_replica_ids():
    assert et.recorded_counts(_frame({"train_sweep/full_reset/tau1": range(4)})) == {"train_sweep/full_reset/tau1": 4}
    with pytest.raises(ValueError, match="tau1: replica ids are not 0..2"):
        et.recorded_counts(_frame({"train_sweep/full_reset/tau1": [0, 1, 3]}))


def test_the_scratch_configs_new_blocks_are_exactly_the_unrecorded_replicas():
    """Block 0 of the scratch config is the recorded replicas (not retrained);
    blocks 1.. are recorded..N-1, each once."""
    raw = et.scratch_config(yaml.safe_load((ROOT / "config.yaml").read_text()), 200, 700)
    config = check_config(parse_config(raw))
    assert n_blocks(config, "train_sweep") == 4
    assert block_replicas(config, 0, "train_sweep") == list(range(200))
    new = [r for b in range(1, 4) for r in block_replicas(config, b, "train_sweep")]
    assert new == list(range(200, 700))
    with pytest.raises(ValueError, match="must exceed the recorded 200"):
        et.scratch_config(raw, 200, 200)


def test_a_config_with_another_target_is_refused():
    config = check_config(parse_config(yaml.safe_load((ROOT / "config.yaml").read_text())))
    meta = {"horizon": config["training"]["epochs"], "target": 99.0, "direction": "above"}
    with pytest.raises(ValueError, match="differ from the truth's meta.json"):
        et._check_same_condition(config, meta, "config.yaml")
