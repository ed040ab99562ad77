"""Add replicas to every dense period of a committed dense truth, with the
pipeline's own training rule, so that the judge of the head-to-head is
precise enough for a 10 % regret line.

A 200-replica period's ⟨T∧H⟩ has a standard error of 1.0–1.5 epochs (5–6 %)
on the digits tasks, so "within 10 % of the best period" decided on such a
truth is about two standard errors: which periods count as near-best is
partly a pattern of noise (and the best one is biased low: the minimum of 30
noisy means). More replicas per period shrink that for every method alike.

The new replicas are the next blocks of the same conditions: the scratch
config is the truth's own config with ``training.sweep_replicas`` raised to
``--replicas`` and ``training.replicas_per_job`` equal to the recorded count,
so block 0 would be the recorded replicas (not retrained) and blocks 1, 2, …
are replicas ``recorded..replicas-1``, seeded by ``(seed, condition, replica)``
as always (:func:`fptopt.train.training.replica_seed`; a replica's seed does
not depend on the block size). Snakemake trains them in ``--workdir``; their
first passages (the target of the config, stopping at it) are appended to
``first_passage.parquet`` and ``meta.json`` says how many each condition has.
The baseline and the τ* runs are left as they are (the judge reads the dense
periods only).

The pipeline now trains the same replicas itself: ``regret.replicas`` (with
``regret.replicas_per_job`` equal to the recorded count) makes the regret
target's train_dense blocks exactly these (docs/pipeline.md). This script is
kept for extending a committed truth without a pipeline run behind it.

    python bench/extend_truth.py --truth tests/data/dense_default --config config.yaml \\
        --replicas 800 --workdir /tmp/extend_default
    python bench/extend_truth.py --truth tests/data/dense_mlp2x32 \\
        --config config/truths/digits_mlp2x32.yaml --replicas 600 --workdir /tmp/extend_mlp2x32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from fptopt.pipeline import paths
from fptopt.pipeline.config import check_config, parse_config
from fptopt.pipeline.jobs import n_blocks
from fptopt.pipeline.provenance import provenance
from fptopt.pipeline.stages import _condition_survival, load_condition
from fptopt.storage import table_meta, write_table

ROOT = Path(__file__).resolve().parents[1]
DENSE_PREFIX = "train_sweep/"


def recorded_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Replicas per dense condition; each must hold ids 0..n-1 (the blocks the pipeline trains)."""
    counts = {}
    for condition, rows in frame[frame["condition"].str.startswith(DENSE_PREFIX)].groupby("condition"):
        ids = sorted(rows["replica"].astype(int))
        if ids != list(range(len(ids))):
            raise ValueError(f"{condition}: replica ids are not 0..{len(ids) - 1}; cannot tell which blocks exist")
        counts[condition] = len(ids)
    return counts


def scratch_config(config: dict, recorded: int, replicas: int) -> dict:
    """The truth's config with ``replicas`` per dense period in blocks of ``recorded``."""
    if replicas <= recorded:
        raise ValueError(f"--replicas must exceed the recorded {recorded} per period, got {replicas}")
    out = json.loads(json.dumps(config))
    out["training"]["sweep_replicas"] = int(replicas)
    out["training"]["replicas_per_job"] = int(recorded)
    return out


def _check_same_condition(config: dict, meta: dict, source: str) -> None:
    """The config must be the one the truth was made with (horizon and target)."""
    observable, horizon = config["observable"], config["training"]["epochs"]
    made = (int(meta["horizon"]), float(meta["target"]), meta["direction"])
    given = (int(horizon), float(observable["target"]), observable["direction"])
    if made != given:
        raise ValueError(f"{source}: horizon/target/direction {given} differ from the truth's meta.json {made}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truth", type=Path, required=True, help="folder with first_passage.parquet and meta.json")
    parser.add_argument("--config", type=Path, required=True, help="the config the truth was made with")
    parser.add_argument("--replicas", type=int, required=True, help="replicas per dense period afterwards")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch working directory for Snakemake")
    parser.add_argument("--cores", default="all")
    args = parser.parse_args(argv)

    table_path, meta_path = args.truth / "first_passage.parquet", args.truth / "meta.json"
    frame, meta = pd.read_parquet(table_path), json.loads(meta_path.read_text())
    counts = recorded_counts(frame)
    if len(set(counts.values())) != 1:
        raise ValueError(f"{table_path}: dense periods have different replica counts {sorted(set(counts.values()))}")
    recorded = next(iter(counts.values()))
    raw = scratch_config(yaml.safe_load(args.config.read_text()), recorded, args.replicas)
    config = check_config(parse_config(raw, str(args.config)))
    _check_same_condition(config, meta, str(args.config))

    args.workdir.mkdir(parents=True, exist_ok=True)
    config_path = args.workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    new_blocks = range(1, n_blocks(config, "train_sweep"))
    conditions = []
    for condition in sorted(counts):
        _, protocol, tau = condition.split("/")
        conditions.append((condition, protocol, int(tau.removeprefix("tau"))))
    targets = {c: [paths.sweep_block(p, t, b) for b in new_blocks] for c, p, t in conditions}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--configfile",
                    str(config_path.resolve()), "--cores", str(args.cores), "--keep-going",
                    *[f for files in targets.values() for f in files]], cwd=args.workdir, check=True)
    trained_s = time.perf_counter() - started

    added, replica_epochs = [], 0
    for condition, protocol, tau in conditions:
        blocks = [args.workdir / f for f in targets[condition]]
        rows = load_condition(blocks, config, "train_sweep", protocol, tau)
        replica_epochs += int(rows["trained"].sum())
        passages = _condition_survival(rows, config, condition, protocol, tau).passages
        if passages["replica"].astype(int).min() < recorded:
            raise ValueError(f"{condition}: a new block holds an already recorded replica")
        added.append(passages.assign(replica=passages["replica"].astype(int).astype(str)))
    new = pd.concat([frame, *added], ignore_index=True)[list(frame.columns)]
    made_by = table_meta(table_path)
    extension = provenance(config, stage="extend_truth", replicas_per_dense_period=args.replicas,
                           recorded_before=recorded, replica_epochs_trained=replica_epochs)
    write_table(new, table_path, made_by | {"extended_by": extension})
    meta.setdefault("replicas", recorded)  # the baseline and τ* runs keep theirs (compare_search's default R)
    meta["dense_replicas"] = int(args.replicas)
    meta["extended"] = (f"dense periods extended from {recorded} to {args.replicas} replicas by "
                        f"`python bench/extend_truth.py --truth {args.truth} --config {args.config} "
                        f"--replicas {args.replicas} --workdir DIR` (replicas {recorded}..{args.replicas - 1} of "
                        "each train_sweep condition; first_passage.parquet's metadata 'extended_by' holds the "
                        "provenance)")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    summary = {"truth": str(args.truth), "dense_conditions": len(conditions), "replicas_before": recorded,
               "replicas_after": args.replicas, "replica_epochs_trained": replica_epochs,
               "wall_s": round(trained_s, 1)}
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
