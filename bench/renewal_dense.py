"""The renewal test on every period of the dense truth: at which periods does
each protocol's response depend on which perturbation it follows?

    python bench/renewal_dense.py [--results results] [--from-tau 5] [--out bench/results/renewal_dense.json]

Needs ``snakemake --cores all regret`` (every τ in 1..``regret.max_tau`` trained
with ``training.sweep_replicas`` replicas). Runs
:func:`fptopt.stats.design.renewal_tests` per protocol over the periods from
``--from-tau`` on (Holm across them) and lists the periods rejected after
adjustment and those with a raw p-value below 1 − ``analysis.confidence_level``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from fptopt.pipeline import paths
from fptopt.pipeline.config import horizon as config_horizon
from fptopt.pipeline.config import parse_config
from fptopt.stats.design import renewal_tests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit  # noqa: E402
from schedule_sources import passages  # noqa: E402  (bench/schedule_sources.py, same folder)

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--from-tau", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    config = parse_config(yaml.safe_load(args.config.read_text()), str(args.config))
    h, level = config_horizon(config), config["analysis"]["confidence_level"]
    taus = range(args.from_tau, config["regret"]["max_tau"] + 1)
    report = {}
    for protocol in (p["name"] for p in config["protocols"]):
        runs = {tau: passages(files, config, "train_sweep", protocol, tau)
                for tau, files in paths.sweep_blocks(config, protocol, args.results, taus=taus).items()}
        table = renewal_tests(runs, h, level)
        report[protocol] = {"replicas": sorted({fp.n_replicas for fp in runs.values()}),
                            "rejected_after_holm": [int(t) for t in table.loc[table["consistent"].eq(False), "tau"]],
                            "raw_p_below_alpha": [int(t) for t in table.loc[table["p_value"] < 1 - level, "tau"]],
                            "tests": table.to_dict("records")}
    emit(report, args.out)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
