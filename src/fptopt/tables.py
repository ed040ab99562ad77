"""The study's summary tables (CSV + Markdown) from the validate/predict outputs.

``validation``: one row per protocol × swept τ: predicted and measured
restricted MFPT with intervals, relative error, survival gap, in-CI, and the
final/best value of the observable.
``optimum``: one row per protocol: the predicted best τ with its bootstrap
interval, the predicted speedup, and what the theory cost in replica-epochs
against the validation sweep and against a sweep of the whole grid.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .config import horizon as config_horizon
from .jobs import stage_replicas
from .provenance import atomic_path, read_table, write_table

VALIDATION_COLUMNS = ["protocol", "tau", "predicted_mfpt", "predicted_low", "predicted_high", "measured_mfpt",
                      "measured_low", "measured_high", "rel_error", "survival_gap", "in_ci", "extrapolated",
                      "outside_qss", "censored_fraction", "final_acc", "final_acc_halfwidth", "best_acc",
                      "best_acc_halfwidth", "horizon", "n_replicas", "n_diverged"]


def validation_table(validate_paths: list) -> pd.DataFrame:
    """All swept periods of all protocols, in the fixed column order above."""
    frames = [read_table(path) for path in validate_paths]
    table = pd.concat(frames, ignore_index=True)
    table = table[table["kind"] == "sweep"].rename(columns={
        "final_value": "final_acc", "final_value_halfwidth": "final_acc_halfwidth",
        "best_value": "best_acc", "best_value_halfwidth": "best_acc_halfwidth"})
    return table[VALIDATION_COLUMNS].sort_values(["protocol", "tau"]).reset_index(drop=True)


def baseline_final_value(validate_paths: list) -> float:
    """The unperturbed replicas' mean final-epoch observable (stored with every validation)."""
    rows = read_table(validate_paths[0]).query("kind == 'baseline'")
    return float(rows["final_value"].iloc[0])


def optimum_table(config: dict, summaries: dict[str, dict], validation: pd.DataFrame,
                  baseline_final: float) -> pd.DataFrame:
    """Per protocol: predicted optimum, speedup, and the replica-epoch cost.

    Theory = baseline + one single-frequency run; the validation sweep is what
    this study spent checking it; a grid sweep is what finding the optimum by
    training every period of ``analysis.predict_taus`` would have cost.
    """
    replicas, epochs = config["training"]["replicas"], config["training"]["epochs"]
    sweep_replicas = stage_replicas(config, "train_sweep")
    grid = [t for t in config["analysis"]["predict_taus"] if t < config_horizon(config)]
    rows = []
    for entry in config["protocols"]:
        name, summary = entry["name"], summaries[entry["name"]]
        swept = validation[validation["protocol"] == name]
        measured_best = swept.loc[swept["measured_mfpt"].idxmin()] if not swept.empty else None
        rows.append({
            "protocol": name, "tau_star": entry["tau_star"],
            "best_tau": summary["optimal_tau"], "best_tau_low": summary["optimal_tau_low"],
            "best_tau_high": summary["optimal_tau_high"], "predicted_mfpt_at_best": summary["optimal_mfpt"],
            "baseline_mfpt": summary["baseline_mfpt_restricted"], "speedup": summary["speedup"],
            "speedup_low": summary["speedup_low"], "speedup_high": summary["speedup_high"],
            "measured_best_tau_in_sweep": None if measured_best is None else int(measured_best["tau"]),
            "measured_best_mfpt_in_sweep": None if measured_best is None else float(measured_best["measured_mfpt"]),
            "qss_found": summary["qss"]["found"], "t_q": summary["qss"]["t_q"],
            "theory_replica_epochs": 2 * replicas * epochs,
            "validation_sweep_replica_epochs": len(entry["sweep_taus"]) * sweep_replicas * epochs,
            "grid_sweep_replica_epochs": len(grid) * replicas * epochs,
            "baseline_final_acc": baseline_final,
        })
    table = pd.DataFrame(rows)
    table["grid_sweep_cost_ratio"] = table["grid_sweep_replica_epochs"] / table["theory_replica_epochs"]
    return table


def _markdown(table: pd.DataFrame, title: str) -> str:
    body = table.to_markdown(index=False, floatfmt=".4g")
    return f"# {title}\n\n{body}\n"


def tables_stage(config: dict, validate_paths: list, summary_paths: list, out_dir) -> None:
    """Write ``validation.{csv,md}`` and ``optimum.{csv,md}`` under ``out_dir``."""
    out_dir = Path(out_dir)
    validation = validation_table(validate_paths)
    summaries = {}
    for entry, path in zip(config["protocols"], summary_paths):
        summaries[entry["name"]] = json.loads(Path(path).read_text())
    optimum = optimum_table(config, summaries, validation, baseline_final_value(validate_paths))
    h = config_horizon(config)
    for name, table, title in (
        ("validation", validation, f"Predicted vs measured ⟨T_τ ∧ {h}⟩ (epochs, restricted to H = {h})"),
        ("optimum", optimum, "Predicted optimal period, speedup and cost"),
    ):
        write_table(table, out_dir / f"{name}.csv")
        with atomic_path(out_dir / f"{name}.md") as temporary:
            temporary.write_text(_markdown(table.replace({np.nan: None}), title))
