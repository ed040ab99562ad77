"""Figures, rebuilt from saved result tables only (never by retraining).

Each function draws one figure from tidy DataFrames and returns the
matplotlib Figure; :func:`save` writes it as PNG and PDF.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on clusters or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .jobs import exempt_replicas  # noqa: E402
from .stages import full_horizon  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")
OBSERVABLE_LABELS = {"test_acc": "test accuracy (%)", "test_loss": "test loss", "train_loss": "train loss",
                     "test_r2": "test R² (%)"}


def save(figure, stem, formats=("png", "pdf")) -> list[Path]:
    """Write ``stem.<format>`` for each format; close the figure."""
    from ..storage import atomic_path

    stem = Path(stem)
    paths = [stem.with_suffix(f".{suffix}") for suffix in formats]
    for path in paths:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=150, bbox_inches="tight", format=path.suffix[1:])
    plt.close(figure)
    return paths


def trajectories(frames: dict[str, pd.DataFrame], column: str, target: float, *, exempt: frozenset,
                 n_shown: int = 40):
    """Observable vs epoch: a sample of replicas per condition, their mean, the target."""
    figure, axes = plt.subplots(1, len(frames), figsize=(4.2 * len(frames), 3.4), sharey=True, squeeze=False)
    for axis, (title, frame) in zip(axes[0], frames.items(), strict=True):
        shown = frame[frame["replica"].isin(sorted(frame["replica"].unique())[:n_shown])].dropna(subset=[column])
        sns.lineplot(shown, x="epoch", y=column, units="replica", estimator=None, lw=0.5, alpha=0.35,
                     color="tab:blue", ax=axis)
        # Replicas that stopped at their first passage have no values after it: the
        # mean is over those that trained to the horizon.
        whole = full_horizon(frame, exempt)
        mean = whole.groupby("epoch")[column].mean()
        axis.plot(mean.index, mean.to_numpy(), color="black", lw=1.5,
                  label=f"mean of the {whole['replica'].nunique()} full-horizon replicas")
        axis.axhline(target, color="tab:red", ls="--", lw=1, label=f"target θ = {target:g}")
        axis.set(title=title, xlabel="epoch", ylabel=OBSERVABLE_LABELS.get(column, column))
        values = frame[column].to_numpy()
        finite = values[np.isfinite(values)]
        if finite.size:
            axis.set_ylim(np.percentile(finite, 5) - 1, finite.max() + 0.5)
    axes[0][0].legend(loc="lower right", fontsize=7)
    return figure


def survival(curves: pd.DataFrame):
    """Kaplan–Meier Ψ(t) with pointwise CIs: the baseline and each single-frequency run."""
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for condition, curve in curves.groupby("condition", sort=False):
        label = "baseline" if condition == "baseline" else f"{curve['protocol'].iloc[0]}, τ* = {curve['tau'].iloc[0]}"
        line = axis.step(curve["t"], curve["sf"], where="post", label=label)[0]
        axis.fill_between(curve["t"], curve["low"], curve["high"], step="post", alpha=0.2, color=line.get_color())
    axis.set(xlabel="epoch t", ylabel="survival Ψ(t) = P(T > t)", yscale="log", ylim=(1e-2, 1.05))
    axis.legend(fontsize=7)
    return figure


def qss_evidence(distance: pd.DataFrame, t_q: int | None, tolerance: float, lag: int):
    """Per epoch t, the KS distance D̂(t) between the survivors' observable at t and
    at t + lag with its interval (a ``distance_table``); epoch t is stationary when
    the interval's lower end is within the tolerance, and the QSS starts where
    every later epoch is."""
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    axis.fill_between(distance["epoch"], distance["distance_low"], distance["distance_high"], alpha=0.2,
                      color="tab:blue", lw=0, label="confidence interval")
    axis.plot(distance["epoch"], distance["distance"], marker="o", ms=3, lw=1, color="tab:blue",
              label=f"KS distance D̂(t) to epoch t + {lag}")
    axis.axhline(tolerance, color="tab:red", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    if t_q is not None:
        axis.axvline(t_q, color="black", ls=":", lw=1.2, label=f"QSS onset t_q = {t_q}")
    outcome = f"QSS from t_q = {t_q}" if t_q is not None else "no QSS found"
    axis.set_title(f"QSS criterion: lower end of D̂'s interval ≤ {tolerance:g} for every t ≥ t_q ({outcome})",
                   fontsize=8)
    axis.set(xlabel="epoch t", ylabel=f"KS distance, survivors at t vs t + {lag}", ylim=(0, 1.02))
    axis.legend(fontsize=7)
    return figure


def _period_axis(axis) -> None:
    """A log τ axis with plain integer tick labels."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    axis.set_xscale("log")
    axis.set_xticks([1, 2, 3, 5, 10, 20, 30, 50, 100])
    axis.xaxis.set_major_formatter(ScalarFormatter())
    axis.xaxis.set_minor_formatter(NullFormatter())


def response(phi: pd.DataFrame):
    """φ(u) = P(T > τ* + u | T > τ*) per protocol, with pointwise CIs."""
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for protocol, curve in phi.groupby("protocol", sort=False):
        label = f"{protocol} (τ* = {curve['tau_star'].iloc[0]})"
        line = axis.step(curve["u"], curve["phi"], where="post", label=label)[0]
        axis.fill_between(curve["u"], curve["low"], curve["high"], step="post", alpha=0.2, color=line.get_color())
    axis.set(xlabel="epochs u after a perturbation in the QSS", ylabel="response φ(u)", ylim=(0, 1.05))
    axis.legend(fontsize=7)
    return figure


def mfpt_vs_tau(predictions: pd.DataFrame, validation: pd.DataFrame, baseline_mfpt: float, horizon: int,
                summaries: dict | None = None):
    """⟨T_τ ∧ H⟩ vs τ per protocol: the closure's prediction (solid where
    trusted, dashed where not, bootstrap band), the measured frequencies of
    the design (squares), the validation sweep (circles), the chosen τ and
    ``next_tau``. Only what is present gets a legend entry."""
    protocols = list(predictions["protocol"].unique())
    summaries = summaries or {}
    figure, axes = plt.subplots(1, len(protocols), figsize=(4.4 * len(protocols), 3.8), sharey=True, squeeze=False)
    for axis, protocol in zip(axes[0], protocols, strict=True):
        pred = predictions[predictions["protocol"] == protocol].sort_values("tau")
        measured_flag = pred["measured"].astype(bool) if "measured" in pred else pd.Series(False, index=pred.index)
        trusted = pred["trusted"].astype(bool) if "trusted" in pred else pd.Series(True, index=pred.index)
        closure = pred["predicted"] if "predicted" in pred else pred["mfpt"]
        unmeasured = pred[~measured_flag]
        axis.fill_between(unmeasured["tau"], unmeasured["mfpt_low"], unmeasured["mfpt_high"], color="tab:blue",
                          alpha=0.15, lw=0)
        axis.plot(pred["tau"], closure.where(~trusted), color="tab:blue", ls="--", alpha=0.6,
                  label="predicted, not trusted" if (~trusted).any() else None)
        axis.plot(pred["tau"], closure.where(trusted), color="tab:blue",
                  label="predicted, trusted" if (trusted & ~measured_flag).any() else None)
        design = pred[measured_flag]
        if not design.empty:
            low = design["mfpt_low"].fillna(design["mfpt"])
            high = design["mfpt_high"].fillna(design["mfpt"])
            axis.errorbar(design["tau"], design["mfpt"], yerr=[design["mfpt"] - low, high - design["mfpt"]],
                          fmt="s", color="black", capsize=3, label="measured (design)")
        sweep = validation[validation["protocol"] == protocol] if "protocol" in validation else validation.iloc[0:0]
        if not sweep.empty:
            axis.errorbar(sweep["tau"], sweep["measured_mfpt"],
                          yerr=[sweep["measured_mfpt"] - sweep["measured_low"],
                                sweep["measured_high"] - sweep["measured_mfpt"]],
                          fmt="o", color="tab:orange", capsize=3, alpha=0.8, label="measured (validation sweep)")
        axis.axhline(baseline_mfpt, color="gray", ls=":", label="unperturbed")
        summary = summaries.get(protocol, {})
        if summary.get("optimal_tau") is not None:
            axis.axvline(summary["optimal_tau"], color="tab:green", lw=1.2,
                         label=f"chosen τ = {summary['optimal_tau']}")
        if summary.get("next_tau") is not None:
            axis.axvline(summary["next_tau"], color="tab:red", ls=":", lw=1.2,
                         label=f"next τ to measure = {summary['next_tau']}")
        axis.set(title=f"{protocol}", xlabel="period τ (epochs)", ylabel=f"restricted MFPT ⟨T ∧ {horizon}⟩ (epochs)")
        _period_axis(axis)
        axis.set_xlim(pred["tau"].min() * 0.8, pred["tau"].max() * 1.25)
        axis.legend(fontsize=6)
    return figure


def accuracy_vs_tau(validation: pd.DataFrame, baseline_final: float, column: str):
    """Final and best-epoch observable vs τ (mean over replicas, 95% CI)."""
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for (protocol, measure), marker in zip(
            [(p, m) for p in validation["protocol"].unique() for m in ("final", "best")], "osos^v^v",
            strict=False):  # more markers than a study has protocols: the unused ones are dropped
        rows = validation[validation["protocol"] == protocol].sort_values("tau")
        axis.errorbar(rows["tau"], rows[f"{measure}_acc"], yerr=rows[f"{measure}_acc_halfwidth"], marker=marker,
                      capsize=2, ls="-" if measure == "final" else "--", label=f"{protocol}, {measure} epoch")
    axis.axhline(baseline_final, color="gray", ls=":", label="unperturbed, final epoch")
    axis.set(xlabel="period τ (epochs)", ylabel=OBSERVABLE_LABELS.get(column, column))
    _period_axis(axis)
    axis.legend(fontsize=6)
    return figure


def predicted_vs_measured(validation: pd.DataFrame, horizon: int, band: float = 0.05):
    """Predicted against measured ⟨T ∧ H⟩ for every validated condition: the
    swept periods (filled circles) and the configured schedules (open diamonds), per
    protocol, with both intervals; the diagonal and a ±``band`` relative band."""
    figure, axis = plt.subplots(figsize=(5.0, 4.4))
    colors = dict(zip(validation["protocol"].unique(), sns.color_palette(n_colors=validation["protocol"].nunique()),
                      strict=True))
    for (protocol, is_schedule), rows in validation.groupby([validation["protocol"], validation["schedule"].notna()]):
        label = f"{protocol}, {'schedules' if is_schedule else 'periods'}"
        axis.errorbar(rows["measured_mfpt"], rows["predicted_mfpt"],
                      xerr=[rows["measured_mfpt"] - rows["measured_low"],
                            rows["measured_high"] - rows["measured_mfpt"]],
                      yerr=[(rows["predicted_mfpt"] - rows["predicted_low"]).clip(lower=0).fillna(0),
                            (rows["predicted_high"] - rows["predicted_mfpt"]).clip(lower=0).fillna(0)],
                      fmt="D" if is_schedule else "o", color=colors[protocol], capsize=2, alpha=0.85, label=label,
                      markersize=6, markerfacecolor="white" if is_schedule else colors[protocol])
    values = validation[["measured_mfpt", "predicted_mfpt"]].to_numpy(dtype=float)
    low, high = np.nanmin(values) * 0.9, np.nanmax(values) * 1.1
    line = np.linspace(low, high, 2)
    axis.plot(line, line, color="gray", lw=1)
    axis.fill_between(line, line * (1 - band), line * (1 + band), color="gray", alpha=0.12, lw=0,
                      label=f"±{band:.0%} of measured")
    axis.set(xlim=(low, high), ylim=(low, high), xlabel=f"measured ⟨T ∧ {horizon}⟩ (epochs)",
             ylabel=f"predicted ⟨T ∧ {horizon}⟩ (epochs)")
    axis.legend(fontsize=6)
    return figure


def figures_stage(config: dict, inputs: dict, out_dir) -> list[Path]:
    """Draw every figure of the study from the stage outputs named in ``inputs``
    (keys: baseline, single, survival, single_survivals, qss, distance, predictions, summaries,
    responses, validations)."""
    import json

    from ..storage import read_table
    from .config import horizon as config_horizon
    from .tables import baseline_final_value, periods_only, validation_table

    out_dir = Path(out_dir)
    column, target = config["observable"]["column"], config["observable"]["target"]
    h = config_horizon(config)
    qss = json.loads(Path(inputs["qss"]).read_text())
    first = config["protocols"][0]
    frames = {"unperturbed": pd.concat([read_table(p) for p in inputs["baseline"]]),
              f"{first['name']}, τ* = {first['tau_star']}": pd.concat([read_table(p) for p in inputs["single"]])}
    predictions = pd.concat([read_table(p).assign(protocol=e["name"])
                             for p, e in zip(inputs["predictions"], config["protocols"], strict=True)])
    validated = validation_table(inputs["validations"])
    sweeps = periods_only(validated)
    baseline_final = baseline_final_value(inputs["validations"])
    baseline_mfpt = qss["conditions"]["baseline"]["mfpt_restricted"]
    summaries = {}
    if "summaries" in inputs:
        summaries = {e["name"]: json.loads(Path(p).read_text())
                     for p, e in zip(inputs["summaries"], config["protocols"], strict=True)}
    figures = {
        "trajectories": trajectories(frames, column, target, exempt=exempt_replicas(config)),
        "survival": survival(pd.concat([read_table(p) for p in [inputs["survival"], *inputs["single_survivals"]]])),
        "qss_evidence": qss_evidence(read_table(inputs["distance"]), qss["qss"]["t_q"], qss["qss"]["tolerance"],
                                     qss["qss"]["lag"]),
        "response": response(pd.concat([read_table(p) for p in inputs["responses"]])),
        "mfpt_vs_tau": mfpt_vs_tau(predictions, sweeps, baseline_mfpt, h, summaries),
        "accuracy_vs_tau": accuracy_vs_tau(sweeps, baseline_final, column),
        "predicted_vs_measured": predicted_vs_measured(validated, h),
    }
    return [path for name, figure in figures.items() for path in save(figure, out_dir / name)]


def _tidy(values: np.ndarray, column: str) -> pd.DataFrame:
    replicas, epochs = np.indices(values.shape)
    return pd.DataFrame({"replica": replicas.ravel(), "epoch": epochs.ravel() + 1, column: values.ravel()})


def analysis_figures(result, baseline: np.ndarray, perturbed: np.ndarray, column: str, out_dir,
                     formats=("png",)) -> list[Path]:
    """The study's figures for ``fptopt analyze``: anyone's logs, one perturbed run."""
    from ..stats.qss import distance_table
    from ..stats.survival import first_passage, kaplan_meier

    out_dir = Path(out_dir)
    label = f"perturbed, τ* = {result.tau_star}"
    measured = kaplan_meier(first_passage(perturbed[:, :result.horizon], result.target, result.direction),
                            result.horizon, result.baseline.confidence_level)
    curves = pd.concat([
        pd.DataFrame({"condition": name, "protocol": "perturbed", "tau": result.tau_star, "t": c.t, "sf": c.sf,
                      "low": c.low, "high": c.high}) for name, c in (("baseline", result.baseline), (label, measured))])
    response_frame = pd.DataFrame({"protocol": "perturbed", "tau_star": result.tau_star, "u": result.response.u,
                                   "phi": result.response.phi, "low": result.response.low,
                                   "high": result.response.high})
    predictions = result.prediction_table().assign(protocol="perturbed")
    validation = result.validation_table()
    validation = (validation.rename(columns={"measured": "measured_mfpt"}).assign(protocol="perturbed")
                  if not validation.empty else pd.DataFrame(columns=["protocol", "tau", "measured_mfpt",
                                                                      "measured_low", "measured_high"]))
    figures = {
        "trajectories": trajectories({"baseline": _tidy(baseline, column), label: _tidy(perturbed, column)},
                                     column, result.target, exempt=frozenset()),  # logs stopped no replica
        "survival": survival(curves),
        "qss_evidence": qss_evidence(distance_table(result.qss), result.qss.t_q, result.qss.tolerance,
                                     result.qss.lag),
        "response": response(response_frame),
        "mfpt_vs_tau": mfpt_vs_tau(predictions, validation, result.multi.baseline_mfpt, result.horizon,
                                   {"perturbed": result.summary()}),
    }
    return [path for name, figure in figures.items() for path in save(figure, out_dir / name, formats)]
