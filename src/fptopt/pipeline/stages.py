"""The pipeline's analysis stages: survival → predict → validate.

Each stage reads the tidy training tables, refuses inputs made under a
different config than the current one (their provenance hash must match),
calls the same theory code as ``fptopt analyze``, and writes tidy tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..stats.analyze import analyze, write_analysis
from ..stats.design import SCHEDULE_COLUMNS, Schedule
from ..stats.logs import trajectories_from_frame
from ..stats.qss import detect_qss, distance_table
from ..stats.survival import FirstPassage, first_passage, kaplan_meier
from ..stats.validation import compare
from ..storage import config_hash, file_sha256, read_table, table_meta, write_json, write_table, write_texts
from .config import design_settings, qss_settings
from .config import horizon as config_horizon
from .jobs import (
    Job,
    condition_section,
    dense_replicas,
    exempt_replicas,
    protocol_config,
    schedule_from_label,
    schedule_label,
    stage_replicas,
)
from .provenance import provenance


class StaleInputError(ValueError):
    """An input table was made under another config than the current one."""


def load_condition(paths, config: dict, stage: str, protocol: str | None = None,
                   tau: int | None = None, schedule: str | None = None) -> pd.DataFrame:
    """Concatenate the blocks of one condition, checking their provenance."""
    expected = config_hash(condition_section(config, Job(stage, protocol, tau, 0, schedule)))
    frames = []
    for path in paths:
        made_by = table_meta(path).get("config_hash") if str(path).endswith(".parquet") else None
        if made_by != expected:
            raise StaleInputError(
                f"{path}: made under config hash {made_by}, but the current config gives {expected}; "
                "rerun its training rule (snakemake reruns it when its params changed)")
        frames.append(read_table(path))
    frame = pd.concat(frames, ignore_index=True)
    duplicated = frame.duplicated(["replica", "epoch"])
    if duplicated.any():
        raise ValueError(f"{paths[0]} …: replica/epoch rows appear in more than one block")
    return frame


def trajectories(frame: pd.DataFrame, column: str) -> np.ndarray:
    return trajectories_from_frame(frame, column)[1]


def replica_epochs_trained(frame: pd.DataFrame) -> int:
    """Replica-epochs a training table cost: the rows whose replica was computed."""
    return int(frame["trained"].sum())


def full_horizon(frame: pd.DataFrame, exempt: frozenset) -> pd.DataFrame:
    """The rows of an unselected sample of replicas that trained to the horizon:
    the only ones final and best accuracy may be read from.

    When some replica of the table stopped at its first passage, that is the
    replicas exempt from stopping (``exempt``, :func:`fptopt.pipeline.jobs.exempt_replicas`),
    not every replica that did not stop: those that never passed would be a
    sample selected for not reaching the target, biased low. A table in which
    nobody stopped (stopping off, no passage yet, or logs from elsewhere without
    a ``stopped`` column) is whole, unselected."""
    if "stopped" not in frame or not frame["stopped"].any():
        return frame
    return frame[frame["replica"].isin(exempt)]


def n_diverged(frame: pd.DataFrame) -> int:
    """Replicas whose loss became NaN/inf (censored at their last finite epoch)."""
    return int(frame.groupby("replica")["diverged"].any().sum())


def _observable(config: dict) -> tuple[str, float, str]:
    observable = config["observable"]
    return observable["column"], float(observable["target"]), observable["direction"]


def _curve_frame(curve, condition: str, protocol: str, tau: int) -> pd.DataFrame:
    return pd.DataFrame({"condition": condition, "protocol": protocol, "tau": tau, "t": curve.t,
                         "sf": curve.sf, "low": curve.low, "high": curve.high,
                         "n_at_risk": curve.n_at_risk, "n_events": curve.n_events})


def _passage_frame(fp, replicas, condition: str, protocol: str, tau: int) -> pd.DataFrame:
    return pd.DataFrame({"condition": condition, "protocol": protocol, "tau": tau, "replica": replicas,
                         "time": fp.times, "observed": fp.observed})


@dataclass(frozen=True)
class ConditionSurvival:
    """One condition's trajectories to the horizon, first passages, Kaplan–Meier
    curve (tidy), first-passage rows (tidy) and summary row."""

    values: np.ndarray
    first_passage: FirstPassage
    curve: pd.DataFrame
    passages: pd.DataFrame
    summary: dict


def _condition_survival(frame: pd.DataFrame, config: dict, condition: str, protocol: str,
                        tau: int) -> ConditionSurvival:
    """First passages and the KM curve of one condition, plus its summary row."""
    column, target, direction = _observable(config)
    h = config_horizon(config)
    replicas, values = trajectories_from_frame(frame, column)
    fp = first_passage(values[:, :h], target, direction)
    curve = kaplan_meier(fp, h, config["analysis"]["confidence_level"])
    mean = curve.restricted_mean(h)
    summary = {"replicas": fp.n_replicas, "censored_fraction": fp.censored_fraction, "diverged": n_diverged(frame),
               "mfpt_restricted": mean.estimate, "mfpt_low": mean.low, "mfpt_high": mean.high}
    return ConditionSurvival(values=values[:, :h], first_passage=fp,
                             curve=_curve_frame(curve, condition, protocol, tau),
                             passages=_passage_frame(fp, replicas, condition, protocol, tau), summary=summary)


def survival_stage(config: dict, *, baseline_paths, outputs: dict) -> None:
    """Baseline Kaplan–Meier curve, restricted MFPT and QSS detection.

    Writes ``outputs["first_passage"]`` (one row per replica),
    ``outputs["survival"]`` (one row per t), ``outputs["qss"]`` (JSON) and
    ``outputs["distance"]`` (one row per compared epoch: the KS distance to
    ``lag`` epochs later, its interval and whether it is within
    ``analysis.qss.tolerance``); :func:`fptopt.pipeline.paths.survival_outputs`
    names them.
    """
    column, target, direction = _observable(config)
    frame = load_condition(baseline_paths, config, "train_baseline")
    measured = _condition_survival(frame, config, "baseline", "none", 0)
    qss = detect_qss(measured.values, measured.first_passage, **qss_options(config))
    plateau = trajectories(full_horizon(frame, exempt_replicas(config)), column)[:, -min(20, measured.values.shape[1]):]
    summary = {"horizon": config_horizon(config), "target": target, "direction": direction, "column": column,
               "conditions": {"baseline": measured.summary},
               "qss": {"found": qss.found, "t_q": qss.t_q, "hazard": qss.hazard, "hazard_low": qss.hazard_low,
                       "hazard_high": qss.hazard_high, "message": qss.message, "tolerance": qss.tolerance,
                       "lag": qss.lag},
               "baseline_plateau": {"epochs": int(plateau.shape[1]), "replicas": int(plateau.shape[0]),
                                    "mean": float(np.nanmean(plateau)),
                                    "replica_spread": float(np.nanstd(np.nanmean(plateau, axis=1)))}}
    meta = provenance(config, stage="survival")
    write_table(measured.passages, outputs["first_passage"], meta)
    write_table(measured.curve, outputs["survival"], meta)
    write_table(distance_table(qss), outputs["distance"], meta)
    write_json({**summary, "provenance": meta}, outputs["qss"])


def prediction_taus(config: dict, protocol: str) -> list[int]:
    """The theory's grid: ``analysis.predict_taus`` ∪ the sweep periods ∪ {τ*}, below H."""
    entry = protocol_config(config, protocol)
    h = config_horizon(config)
    taus = set(config["analysis"]["predict_taus"]) | set(entry["sweep_taus"]) | {entry["tau_star"]}
    return sorted(t for t in taus if t < h)


def qss_options(config: dict) -> dict:
    """``detect_qss`` keyword arguments from ``analysis.qss`` and ``analysis.confidence_level``
    (absent keys take their schema defaults)."""
    return qss_settings(config)


# Replica ids of the periodic run at τ* when the design adds replicas to τ*: its
# own replicas 0, 1, … come after the τ* run's (an independent seed stream).
EXTRA_TAU_STAR_REPLICAS = 1_000_000


def _measured_frames(config: dict, protocol: str, single_paths, design_paths: dict) -> dict[int, pd.DataFrame]:
    """``{τ: training table}`` of τ* and of the design's frequencies (more
    replicas of τ*, from the periodic run at τ*, join the τ* run's)."""
    tau_star = protocol_config(config, protocol)["tau_star"]
    frames = {tau_star: load_condition(single_paths, config, "train_single_frequency", protocol, tau_star)}
    for tau, paths in sorted(design_paths.items()):
        frame = load_condition(paths, config, "train_sweep", protocol, int(tau))
        if int(tau) == tau_star:
            frame = pd.concat([frames[tau_star], frame.assign(replica=frame["replica"] + EXTRA_TAU_STAR_REPLICAS)],
                              ignore_index=True)
        frames[int(tau)] = frame
    return frames


@dataclass(frozen=True)
class DesignAnalysis:
    """The analysis of baseline + τ* + the design's frequencies so far, the
    replica-epochs trained for it, and the measured runs' tables by period."""

    result: object  # fptopt.stats.analyze.AnalysisResult
    replica_epochs: int
    frames: dict
    schedule_frames: dict  # {path label: training table} of the schedules the design measured


def analysis_schedule(spec: dict) -> Schedule:
    """The analysis' :class:`fptopt.stats.design.Schedule` of a config entry
    (``{epochs: [...]}`` or ``{poisson: RATE}``)."""
    return Schedule(epochs=tuple(spec["epochs"])) if "epochs" in spec else Schedule(rate=float(spec["poisson"]))


def configured_schedules(config: dict, protocol: str) -> dict:
    """The protocol's configured schedules as ``{label: Schedule}`` (label: the
    name in paths, :func:`fptopt.pipeline.jobs.schedule_label`), in config order."""
    return {schedule_label(spec): analysis_schedule(spec) for spec in protocol_config(config, protocol)["schedules"]}


def design_analysis(config: dict, protocol: str, *, baseline_paths, single_paths, design_paths: dict,
                    bootstrap: int | None = None, schedules=None, search_schedules: bool = False,
                    search_resamples: int | None = None, search_when_settled: bool = False,
                    design_schedule_paths: dict | None = None) -> DesignAnalysis:
    """:class:`DesignAnalysis` of one protocol from its training tables (with
    ``schedules`` also their predictions, :func:`fptopt.stats.design.predict_schedules`)."""
    column, target, direction = _observable(config)
    analysis = config["analysis"]
    baseline_frame = load_condition(baseline_paths, config, "train_baseline")
    frames = _measured_frames(config, protocol, single_paths, design_paths)
    runs = {tau: trajectories(frame, column) for tau, frame in frames.items()}
    schedule_frames = {label: load_condition(paths, config, "train_schedule", protocol, schedule=label)
                       for label, paths in sorted((design_schedule_paths or {}).items())}
    result = analyze(trajectories(baseline_frame, column), runs,
                     tau_star=protocol_config(config, protocol)["tau_star"], target=target, direction=direction,
                     horizon=config_horizon(config), taus=prediction_taus(config, protocol),
                     bootstrap=analysis["bootstrap"] if bootstrap is None else bootstrap, seed=config["seed"],
                     confidence_level=analysis["confidence_level"],
                     trust_ratio=config["adaptive"]["trust_ratio"], qss_options=qss_options(config),
                     design=design_settings(config), schedules=schedules, search_schedules=search_schedules,
                     search_resamples=search_resamples, search_when_settled=search_when_settled,
                     measured_schedules={analysis_label(label): trajectories(frame, column)
                                         for label, frame in schedule_frames.items()})
    cost = replica_epochs_trained(baseline_frame) + sum(map(replica_epochs_trained, frames.values())) + sum(
        map(replica_epochs_trained, schedule_frames.values()))
    return DesignAnalysis(result=result, replica_epochs=cost, frames=frames, schedule_frames=schedule_frames)


def analysis_label(path_label: str) -> str:
    """A schedule's label in the analysis (``"7,22,37"``) from its label in paths (``epochs7-22-37``)."""
    return analysis_schedule(schedule_from_label(path_label)).label


def path_label(schedule: Schedule) -> str:
    """The inverse of :func:`analysis_label`."""
    return schedule_label({"epochs": list(schedule.epochs)} if schedule.rate is None else {"poisson": schedule.rate})


def design_round_stage(config: dict, protocol: str, *, round_index: int, baseline_paths, single_paths,
                       design_paths: dict, out_json, design_schedule_paths: dict | None = None) -> None:
    """One round of the adaptive design: predict from what is measured so far
    (no bootstrap: the decision needs the point values and the measured runs'
    standard errors) and record the next experiment: a period and how many
    replicas to add there (:func:`fptopt.stats.design.decide`). Once no period
    is asked for, the search beyond periods runs (with bootstrap intervals for
    its best candidates) and may name a two-phase schedule to measure
    (``next_schedule``, :func:`fptopt.stats.design.next_schedule`)."""
    analysis = design_analysis(config, protocol, baseline_paths=baseline_paths, single_paths=single_paths,
                               design_paths=design_paths, design_schedule_paths=design_schedule_paths, bootstrap=0,
                               search_when_settled=True, search_resamples=config["analysis"]["bootstrap"])
    summary = analysis.result.summary()
    schedule = analysis.result.next_schedule
    record = {"protocol": protocol, "round": int(round_index), "measured_taus": summary["measured_taus"],
              "optimal_tau": summary["optimal_tau"], "optimal_mfpt": summary["optimal_mfpt"],
              "optimal_measured": summary["optimal_measured"], "optimal_trusted": summary["optimal_trusted"],
              "next_tau": summary["next_tau"], "next_replicas": summary["next_replicas"],
              "next_reason": summary["next_reason"], "settled": summary["settled"],
              "indifferent_taus": summary["indifferent_taus"], "replicas": summary["replicas"],
              "next_schedule": None if schedule is None else path_label(schedule[0]),
              "next_schedule_replicas": None if schedule is None else schedule[1],
              "next_schedule_reason": None if schedule is None else schedule[2],
              "replica_epochs_trained": analysis.replica_epochs}
    write_json({**record, "provenance": provenance(config, stage="design", protocol=protocol)}, out_json)


def predict_stage(config: dict, protocol: str, *, baseline_paths, single_paths, outputs: dict,
                  design_paths: dict | None = None, design_schedule_paths: dict | None = None) -> None:
    """Measured and predicted ⟨T_τ ∧ H⟩ on the whole grid from baseline + τ* +
    the adaptive design's frequencies, with bootstrap CIs, the optimum and
    ``next_tau``; the responses φ_m and the renewal check of every measured run,
    and ``outputs["closure"]``: the pooled unperturbed Ψ(t) and the continued
    pooled φ_m(u) of every measured period that the closure used. The files
    are ``outputs[name]`` (:func:`fptopt.pipeline.paths.predict_outputs`)."""
    design_paths = design_paths or {}
    tau_star = protocol_config(config, protocol)["tau_star"]
    schedules = list(configured_schedules(config, protocol).values())
    analysis = design_analysis(config, protocol, baseline_paths=baseline_paths, single_paths=single_paths,
                               design_paths=design_paths, schedules=schedules, search_schedules=True,
                               design_schedule_paths=design_schedule_paths)
    result, replica_epochs, frames = analysis.result, analysis.replica_epochs, analysis.frames
    answer = _answer(config, result, analysis.schedule_frames)
    inputs = {str(p): file_sha256(p) for p in [*baseline_paths, *single_paths,
                                               *(q for paths in design_paths.values() for q in paths),
                                               *(q for paths in (design_schedule_paths or {}).values() for q in paths)]}
    destinations = {"prediction.csv": outputs["prediction"], "prediction_survival.csv": outputs["survival"],
                    "summary.json": outputs["summary"], "schedules.csv": outputs["schedules"],
                    "schedules_survival.csv": outputs["schedules_survival"],
                    "schedule_search.csv": outputs["schedule_search"]}
    if not schedules:  # the files exist either way: the validate rule reads them
        write_texts({Path(outputs["schedules"]): ",".join(SCHEDULE_COLUMNS) + "\n",
                     Path(outputs["schedules_survival"]): "schedule,t,sf\n"})
    write_analysis(result, inputs_hashes=inputs, destinations=destinations,
                   extra_summary={"protocol": protocol, "replica_epochs_trained": replica_epochs,
                                  # a grid of every predicted period, each replica stopping at its first
                                  # passage: E[min(T_τ, H)] = ⟨T_τ ∧ H⟩ replica-epochs per replica
                                  "grid_expected_replica_epochs": float(
                                      stage_replicas(config, "train_sweep") * np.sum(result.multi.mfpt)),
                                  "rounds": config["adaptive"]["rounds"],
                                  # final/best observable at the chosen period, from its replicas that
                                  # trained to the horizon (None when the chosen period is predicted only)
                                  "optimal_accuracy": _optimal_accuracy(config, result, frames),
                                  # the period, or a measured schedule distinguishably faster than it
                                  "answer": answer})
    response = result.response
    low, high = response.confidence_interval()
    phi = pd.DataFrame({"protocol": protocol, "tau_star": tau_star, "u": np.arange(response.phi.size),
                        "phi": response.phi, "low": low, "high": high})
    meta = provenance(config, stage="predict", protocol=protocol)
    write_table(phi, outputs["response"], meta)
    write_table(result.renewal.assign(protocol=protocol), outputs["renewal"], meta)
    multi = result.multi
    closure = [pd.DataFrame({"protocol": protocol, "curve": "unperturbed", "tau_m": 0,
                             "t": np.arange(multi.unperturbed.size), "value": multi.unperturbed})]
    closure += [pd.DataFrame({"protocol": protocol, "curve": "response", "tau_m": tau_m,
                              "t": np.arange(pooled.size), "value": pooled})
                for tau_m, pooled in multi.responses.items()]
    write_table(pd.concat(closure, ignore_index=True), outputs["closure"], meta)
    condition = f"train_single_frequency/{protocol}/tau{tau_star}"
    measured = _condition_survival(frames[tau_star], config, condition, protocol, tau_star)
    write_table(measured.curve, outputs["single_survival"], meta)
    write_json({**measured.summary, "condition": condition, "provenance": meta}, outputs["single_summary"])


def _answer(config: dict, result, schedule_frames: dict) -> dict:
    """What to use (``result.answer()``: the chosen period, or a measured
    schedule distinguishably faster than it), with the final accuracy of a
    schedule's full-horizon replicas."""
    answer = result.answer()
    if answer["kind"] == "schedule":
        table = next(frame for label, frame in schedule_frames.items() if analysis_label(label) == answer["schedule"])
        answer["accuracy"] = _accuracy_summary(table, config)
    return answer


def _optimal_accuracy(config: dict, result, frames: dict) -> dict | None:
    tau = int(result.multi.optimal_tau)
    if tau not in frames:
        return None
    return _accuracy_summary(frames[tau], config)


def _accuracy_summary(frame: pd.DataFrame, config: dict) -> dict:
    """Final-epoch and best-epoch observable, mean over the replicas that
    trained to the horizon (:func:`full_horizon`) with a 95% CI."""
    column, h = config["observable"]["column"], config_horizon(config)
    return accuracy_summary(trajectories(full_horizon(frame, exempt_replicas(config)), column), h)


def accuracy_summary(values: np.ndarray, h: int) -> dict:
    """Mean final-epoch (epoch ``h``) and best-epoch observable of full-horizon
    trajectories (replicas × epochs), each with a 95 % normal half-width."""
    final = values[:, h - 1]
    best = np.nanmax(values[:, :h], axis=1)
    out = {}
    for name, sample in (("final", final), ("best", best)):
        sample = sample[np.isfinite(sample)]
        half = 1.96 * sample.std(ddof=1) / np.sqrt(sample.size) if sample.size > 1 else np.nan
        out.update({f"{name}_value": float(sample.mean()) if sample.size else np.nan,
                    f"{name}_value_halfwidth": float(half)})
    return out | {"full_horizon_replicas": int(values.shape[0])}


def validate_stage(config: dict, protocol: str, *, prediction_path, prediction_survival_path,
                   sweep_paths: dict[int, list], baseline_paths, outputs: dict, schedules_path=None,
                   schedules_survival_path=None, schedule_paths: dict[str, list] | None = None) -> None:
    """Predicted vs measured ⟨T ∧ H⟩ and Ψ at every swept period (``kind``
    ``sweep``) and under every configured schedule (``schedule``: its label,
    ``kind`` ``schedule``); writes ``outputs["validation"]`` and
    ``outputs["measured"]`` (:func:`fptopt.pipeline.paths.validate_outputs`)."""
    column, target, direction = _observable(config)
    h = config_horizon(config)
    level = config["analysis"]["confidence_level"]
    prediction = read_table(prediction_path).set_index("tau")
    curves = read_table(prediction_survival_path)
    rows, measured_curves = [], []
    baseline = load_condition(baseline_paths, config, "train_baseline")
    rows.append({"protocol": protocol, "tau": 0, "kind": "baseline", **_accuracy_summary(baseline, config)})
    for tau, paths in sorted(sweep_paths.items()):
        frame = load_condition(paths, config, "train_sweep", protocol, tau)
        values = trajectories(frame, column)
        measured = first_passage(values[:, :h], target, direction)
        predicted_curve = curves.loc[curves["tau"] == tau].sort_values("t")["sf"].to_numpy()
        row = prediction.loc[tau]
        comparison = compare(predicted_curve, row["mfpt"], row["mfpt_low"], row["mfpt_high"], measured, h, level)
        rows.append({"protocol": protocol, "tau": tau, "kind": "sweep", **comparison.as_dict(),
                     "extrapolated": bool(row["extrapolated"]), "outside_qss": bool(row["outside_qss"]),
                     "censored_fraction": measured.censored_fraction, "n_diverged": n_diverged(frame),
                     "replica_epochs_trained": replica_epochs_trained(frame), **_accuracy_summary(frame, config)})
        measured_curves.append(_curve_frame(kaplan_meier(measured, h, level), f"train_sweep/{protocol}/tau{tau}",
                                            protocol, tau))
    labels = configured_schedules(config, protocol)
    if schedule_paths:
        predicted = read_table(schedules_path).set_index("schedule")
        schedule_curves = read_table(schedules_survival_path)
    for label, paths in (schedule_paths or {}).items():
        name = labels[label].label  # as fptopt analyze names it in schedules.csv
        frame = load_condition(paths, config, "train_schedule", protocol, schedule=label)
        measured = first_passage(trajectories(frame, column)[:, :h], target, direction)
        row = predicted.loc[name]
        predicted_curve = schedule_curves.loc[schedule_curves["schedule"] == name].sort_values("t")["sf"].to_numpy()
        comparison = compare(predicted_curve, row["mfpt"], row["mfpt_low"], row["mfpt_high"], measured, h, level)
        rows.append({"protocol": protocol, "tau": None, "schedule": name, "kind": "schedule", **comparison.as_dict(),
                     "extrapolated": not bool(row["trusted"]), "source_tau": int(row["source_tau"]),
                     "outside_qss": None if pd.isna(row["outside_qss"]) else bool(row["outside_qss"]),
                     "censored_fraction": measured.censored_fraction, "n_diverged": n_diverged(frame),
                     "replica_epochs_trained": replica_epochs_trained(frame), **_accuracy_summary(frame, config)})
        measured_curves.append(_curve_frame(kaplan_meier(measured, h, level), f"train_schedule/{protocol}/{label}",
                                            protocol, 0).assign(schedule=name))
    meta = provenance(config, stage="validate", protocol=protocol)
    write_table(pd.DataFrame(rows), outputs["validation"], meta)
    write_table(pd.concat(measured_curves, ignore_index=True), outputs["measured"], meta)


def _dense_period(sweep_paths, extra_paths, config: dict, protocol: str, tau: int) -> pd.DataFrame:
    """One period of the dense grid: the periodic run's blocks, then the train_dense
    blocks that continue its replicas; every replica once, as many as ``regret.replicas``."""
    frames = [load_condition(sweep_paths, config, "train_sweep", protocol, tau)]
    if extra_paths:
        frames.append(load_condition(extra_paths, config, "train_dense", protocol, tau))
    frame = pd.concat(frames, ignore_index=True)
    replicas = frame["replica"].nunique()
    if frame.duplicated(["replica", "epoch"]).any() or replicas != dense_replicas(config):
        raise ValueError(f"{sweep_paths[0]} …: the dense period tau = {tau} of {protocol} holds {replicas} "
                         f"distinct replicas (some twice?); regret.replicas asks for {dense_replicas(config)}")
    return frame


def regret_stage(config: dict, *, baseline_paths, single_paths: dict[str, list],
                 dense_paths: dict[str, dict[int, list]], summary_paths: dict[str, str],
                 prediction_paths: dict[str, str], outputs: dict,
                 extra_paths: dict[str, dict[int, list]] | None = None) -> None:
    """The dense truth: every period of ``regret.taus`` trained for each protocol.

    Writes ``first_passage.parquet`` (one row per condition × replica: the
    baseline as protocol ``none``, τ = 0, each protocol's τ* run and every
    dense period; the column ``condition`` tells them apart), ``dense_mfpt.parquet`` (measured
    ⟨T_τ ∧ H⟩ per protocol × τ with its interval) under ``out_dir`` and
    ``regret.{csv,md}`` and ``prediction_check.{csv,md}`` (every predicted,
    unmeasured period of the grid against its dense measurement) under
    ``tables_dir``; each lands at ``outputs[name]`` (:func:`fptopt.pipeline.paths.regret_outputs`);
    the per-protocol inputs are keyed by protocol name (:func:`fptopt.pipeline.paths.regret_from_inputs`).
    A period's replicas are its periodic run's blocks (``dense_paths``) and, when
    ``regret.replicas`` asks for more, its train_dense blocks (``extra_paths``)."""
    import json

    from .tables import prediction_check_table, regret_table, write_tables

    h = config_horizon(config)
    level = config["analysis"]["confidence_level"]
    frame = load_condition(baseline_paths, config, "train_baseline")
    passage_frames = [_condition_survival(frame, config, "baseline", "none", 0).passages]
    mfpt_rows, dense_runs = [], {}
    for protocol, paths in single_paths.items():
        tau_star = protocol_config(config, protocol)["tau_star"]
        frame = load_condition(paths, config, "train_single_frequency", protocol, tau_star)
        passage_frames.append(_condition_survival(frame, config, f"train_single_frequency/{protocol}/tau{tau_star}",
                                                  protocol, tau_star).passages)
    for protocol, by_tau in dense_paths.items():
        for tau, paths in sorted(by_tau.items()):
            frame = _dense_period(paths, (extra_paths or {}).get(protocol, {}).get(tau, []), config, protocol, tau)
            measured = _condition_survival(frame, config, f"train_sweep/{protocol}/tau{tau}", protocol, tau)
            summary = measured.summary
            passage_frames.append(measured.passages)
            dense_runs.setdefault(protocol, {})[tau] = measured.first_passage
            mfpt_rows.append({"protocol": protocol, "tau": tau, "mfpt": summary["mfpt_restricted"],
                              "mfpt_low": summary["mfpt_low"], "mfpt_high": summary["mfpt_high"],
                              "replicas": measured.first_passage.n_replicas,
                              "replica_epochs": replica_epochs_trained(frame), "confidence_level": level})
    dense = pd.DataFrame(mfpt_rows)
    meta = provenance(config, stage="regret")
    write_table(pd.concat(passage_frames, ignore_index=True), outputs["first_passage"], meta)
    write_table(dense, outputs["dense_mfpt"], meta)
    summaries = {name: json.loads(Path(path).read_text()) for name, path in summary_paths.items()}
    predictions = pd.concat([read_table(path).assign(protocol=name) for name, path in prediction_paths.items()],
                            ignore_index=True)
    write_tables({"regret": (regret_table(dense, summaries, dense_runs, h, level),
                             f"The design's choice against every period measured (⟨T_τ ∧ {h}⟩, epochs)"),
                  "prediction_check": (prediction_check_table(predictions, dense),
                                       f"Predicted vs densely measured ⟨T_τ ∧ {h}⟩ at every unmeasured period")},
                 Path(outputs["table"]).parent)
