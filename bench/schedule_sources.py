"""How much of a schedule's prediction error is its source's noise: the
configured schedules of the default predicted from the design's measured
periods (as ``predict`` does), and from the same periods with every replica the
dense truth trained at them, side by side, against their training.

    python bench/schedule_sources.py [--results results] [--draws 40] [--out bench/results/schedule_sources.json]

Needs ``make run`` and ``snakemake --cores all regret`` (the dense truth trains
``training.sweep_replicas`` replicas at every τ the design measured). Also
checks the bootstrap intervals against that truth: ``--draws`` random subsets of
the design's size are drawn from each source's replicas, and their 95 %
intervals are asked to cover the prediction from all replicas (the coverage of
the interval the validation table shows) and the spread of their point
predictions (``subset_prediction_sd``), beside the trained value's standard
error (``measured_se``). With ``--truth DIR`` (a committed dense truth of the
same config, e.g. ``tests/data/dense_default``) each schedule is also predicted
from that truth's baseline and every one of its periods (``predicted_truth``,
``rel_error_truth``): the source is then the period equal to the schedule's
typical gap, with all of its replicas (800 on the default's truth), so what is
left is the closure's own error plus the trained schedule's noise. Results:
bench/results/schedule_sources.json.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import yaml

from fptopt.pipeline import paths, stages
from fptopt.pipeline.config import horizon as config_horizon
from fptopt.pipeline.config import parse_config
from fptopt.stats.design import predict_schedules
from fptopt.stats.survival import first_passage, kaplan_meier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def passages(files, config, stage, protocol=None, tau=None, schedule=None):
    """First passages of one condition's training blocks, checked as ``predict`` checks them."""
    column, target, direction = stages._observable(config)
    frame = stages.load_condition(files, config, stage, protocol, tau, schedule)
    return first_passage(stages.trajectories(frame, column)[:, :config_horizon(config)], target, direction)


def truth_runs(folder: Path, horizon: int) -> dict:
    """``{protocol: (baseline, {τ: FirstPassage})}`` of a committed dense truth (its periodic sweep rows)."""
    from compare_search import build_sweeps, dense_rows, read_truth  # bench/compare_search.py

    frame, meta = read_truth(folder)
    if int(meta["horizon"]) != horizon:
        raise SystemExit(f"{folder}: horizon {meta['horizon']} is not the config's {horizon}")
    return {name: (sweep.baseline, sweep.runs) for name, sweep in build_sweeps(dense_rows(frame, "train_sweep"),
                                                                                 horizon).items()}


def protocol_report(config: dict, protocol: str, root: str, draws: int, seed: int, truth=None) -> dict:
    h = config_horizon(config)
    tau_star = stages.protocol_config(config, protocol)["tau_star"]
    plan = paths.design_plan(config, protocol, root)
    design = paths.design_blocks(config, protocol, plan, root)
    dense = paths.sweep_blocks(config, protocol, root, taus=sorted(set(plan) | {tau_star}))
    baseline = passages(paths.baseline_blocks(config, root), config, "train_baseline")
    column, target, direction = stages._observable(config)
    frames = stages._measured_frames(config, protocol, paths.single_frequency_blocks(config, protocol, root), design)
    as_designed = {tau: first_passage(stages.trajectories(frame, column)[:, :h], target, direction)
                   for tau, frame in frames.items()}  # what predict reads (τ* with any extra replicas)
    every = {tau: passages(files, config, "train_sweep", protocol, tau) for tau, files in dense.items()}
    labels = stages.configured_schedules(config, protocol)
    schedules = list(labels.values())
    designed = predict_schedules(baseline, as_designed, schedules, h)
    full = predict_schedules(baseline, every, schedules, h)
    dense = None if truth is None else predict_schedules(*truth, schedules, h)
    rng = np.random.default_rng([seed, len(protocol)])
    covered = np.zeros(len(schedules))
    points = []
    for draw in range(draws):
        subset = {tau: every[tau].subset(rng.choice(every[tau].n_replicas, fp.n_replicas, replace=False))
                  for tau, fp in as_designed.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            intervals = predict_schedules(baseline, subset, schedules, h, n_resamples=200, seed=draw)
        points.append(intervals["mfpt"].to_numpy())
        covered += ((intervals["mfpt_low"] <= full["mfpt"]) & (full["mfpt"] <= intervals["mfpt_high"])).to_numpy()
    rows = []
    for j, (label, schedule) in enumerate(labels.items()):
        trained = passages(paths.schedule_blocks(config, protocol, root)[label], config, "train_schedule",
                           protocol, schedule=label)
        trained_mean = kaplan_meier(trained, h).restricted_mean(h)
        measured = trained_mean.estimate
        rows.append({"schedule": schedule.label, "source_tau": int(designed["source_tau"][j]),
                     "source_replicas_designed": int(as_designed[int(designed["source_tau"][j])].n_replicas),
                     "source_replicas_all": int(every[int(full["source_tau"][j])].n_replicas),
                     "measured_mfpt": measured, "predicted_designed": float(designed["mfpt"][j]),
                     "predicted_all": float(full["mfpt"][j]),
                     "rel_error_designed": float(designed["mfpt"][j]) / measured - 1,
                     "rel_error_all": float(full["mfpt"][j]) / measured - 1,
                     **({} if dense is None else {
                         "predicted_truth": float(dense["mfpt"][j]), "source_tau_truth": int(dense["source_tau"][j]),
                         "rel_error_truth": float(dense["mfpt"][j]) / measured - 1}),
                     "subset_intervals_covering_all": f"{int(covered[j])}/{draws}",
                     "subset_prediction_sd": float(np.std(np.array(points)[:, j], ddof=1)),
                     "measured_se": trained_mean.standard_error})
    return {"sources": {f"tau{tau}": {"designed": fp.n_replicas, "all": every[tau].n_replicas}
                        for tau, fp in sorted(as_designed.items())}, "schedules": rows}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--draws", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--truth", type=Path, default=None, help="a committed dense truth of the same config")
    args = parser.parse_args(argv)
    config = parse_config(yaml.safe_load(args.config.read_text()), str(args.config))
    truths = None if args.truth is None else truth_runs(args.truth, config_horizon(config))
    report = {name: protocol_report(config, name, args.results, args.draws, args.seed,
                                    None if truths is None else truths[name])
              for name in (p["name"] for p in config["protocols"])}
    everything = [row for entry in report.values() for row in entry["schedules"]]
    report["median_abs_rel_error"] = {
        "designed_sources": float(np.median([abs(r["rel_error_designed"]) for r in everything])),
        "all_replicas_at_the_same_sources": float(np.median([abs(r["rel_error_all"]) for r in everything]))}
    if truths is not None:
        report["median_abs_rel_error"]["dense_truth_sources"] = float(
            np.median([abs(r["rel_error_truth"]) for r in everything]))
    emit(report, args.out)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
