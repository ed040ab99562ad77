"""How often the adaptive design's final answer is near-best, for given
``DesignSettings``, replayed on a committed dense truth over bootstrap worlds:
the quick check behind the defaults of ``adaptive.*`` (docs/theory.md).

Each world draws, per condition, a pool of ``--pool`` replicas with
replacement from the recorded ones (the periodic rows of the sweep; τ* from
the sweep too), replays the design on it (every replica charged up to its
first passage) and scores the final choice: regret = true ⟨T∧H⟩ / best true
one − 1, "true" being Kaplan–Meier on all recorded replicas. Prints, per
protocol, the share of worlds within ``--tolerance`` and the mean and 90th
percentile of the replica-epochs spent. Unlike ``compare_search.py`` it
judges only the final answer (no budget curve, no other methods).

    python bench/replay_settings.py [--truth DIR] [--worlds 40] [--settings JSON]
    python bench/replay_settings.py --settings '{"max_replicas": 400, "settle_replicas": 400, "rounds": 16}'
    python bench/replay_settings.py --show-misses     # also: every world whose answer misses, and why it stopped
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import yaml
from compare_search import build_sweeps, dense_rows, read_truth  # bench/compare_search.py (same folder)

from fptopt.pipeline.config import design_settings, parse_config
from fptopt.stats.design import replay_design

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truth", type=Path, default=ROOT / "tests" / "data" / "dense_default")
    parser.add_argument("--settings", default="{}", help="JSON of DesignSettings fields to change from config.yaml's")
    parser.add_argument("--worlds", type=int, default=40)
    parser.add_argument("--pool", type=int, default=400, help="replicas drawn per condition and world")
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-misses", action="store_true",
                        help="print the periods within the tolerance and, for every world that misses, its answer")
    args = parser.parse_args(argv)
    config = parse_config(yaml.safe_load((ROOT / "config.yaml").read_text()), "config.yaml")
    settings = dataclasses.replace(design_settings(config), **json.loads(args.settings))
    frame, meta = read_truth(args.truth)
    horizon, tau_star = int(meta["horizon"]), int(meta["tau_star"])
    sweeps = build_sweeps(dense_rows(frame, "train_sweep"), horizon)
    print(f"{args.truth.name}: {dataclasses.asdict(settings)}")
    out = {}
    for protocol, sweep in sorted(sweeps.items()):
        baseline, by_tau, truth, best = sweep.baseline, sweep.runs, sweep.truth, sweep.best_mfpt
        regrets, costs, misses = [], [], []
        for world in range(args.worlds):
            rng = np.random.default_rng([world, args.seed])

            def pool(fp, rng=rng):
                return fp.subset(rng.integers(0, fp.n_replicas, args.pool))

            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                final = replay_design(pool(baseline), {tau: pool(fp) for tau, fp in by_tau.items()},
                                      tau_star=tau_star, taus=sweep.taus, horizon=horizon,
                                      settings=settings)[-1]
            regrets.append(truth[final["optimal_tau"]] / best - 1)
            costs.append(final["replica_epochs"])
            if regrets[-1] > args.tolerance:
                misses.append({"world": world, "tau": int(final["optimal_tau"]), "regret": float(regrets[-1]),
                               "settled": bool(final["settled"]), "reason": final["reason"],
                               "replicas": final["replicas"]})
        out[protocol] = {"share_near_best": float(np.mean(np.array(regrets) <= args.tolerance)),
                         "replica_epochs_mean": float(np.mean(costs)),
                         "replica_epochs_p90": float(np.percentile(costs, 90))}
        print(f"  {protocol:15s} near-best {out[protocol]['share_near_best']:.2f}  replica-epochs mean "
              f"{out[protocol]['replica_epochs_mean']:,.0f}, p90 {out[protocol]['replica_epochs_p90']:,.0f}")
        if args.show_misses:
            near = [tau for tau in sweep.taus if truth[tau] / best - 1 <= args.tolerance]
            print(f"    best tau {sweep.best_tau} ({best:.2f}); within {args.tolerance:.0%}: {near}")
            for miss in misses:
                print(f"    world {miss['world']:2d}: tau {miss['tau']} at {miss['regret']:.1%}, "
                      f"{miss['reason']}, replicas {miss['replicas']}")
            out[protocol]["misses"] = misses
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
