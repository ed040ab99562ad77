"""Replica-epochs to find a near-best perturbation period: fptopt's adaptive
design against a grid, random search and Optuna (TPE, with successive-halving
and Hyperband pruning), all replayed on one dense sweep.

The oracle is a dense sweep recorded as first-passage times (every period τ of
every protocol, plus the unperturbed baseline), in the tidy layout of
``tests/data/dense_default``: ``first_passage.parquet`` with the columns
protocol (``"none"`` for the baseline), tau (0 for the baseline), replica, time
(epoch of first passage or of censoring) and observed, and ``meta.json`` with
at least the horizon (and ``tau_star`` for fptopt; else ``--tau-star``). A
``condition`` column, when present, selects the sweep's own rows
(``--condition-prefix``, default ``train_sweep``; see :func:`dense_rows`).

Rules, the same for every method:

* **Training** R replicas at τ = drawing R recorded replicas of τ with
  replacement (``--draw bootstrap``, seeded per repeat). ``--draw subsample``
  draws without replacement instead: with R = the recorded count a method
  then sees the oracle's own data, which the test uses for exact checks.
* **Cost**: a trial of R replicas followed to epoch e costs R·e
  replica-epochs, censored replicas included: no replica stops at its first
  passage (a trial cannot tell when its last replica will pass). A full trial
  costs R·H, a trial pruned after epoch e costs R·e. fptopt also pays for the
  unperturbed baseline (R·H); the other methods never need it.
* **True MFPT** of τ = the Kaplan–Meier restricted mean ``⟨T∧H⟩`` of *all*
  recorded replicas of τ; **regret** of a chosen τ = true MFPT(τ) / best true
  MFPT over the sweep's periods − 1.
* **Budget**: a method's answer at budget b is the one it gives once it has
  spent at most b (a run that stopped earlier keeps its last answer; before
  its first complete trial Optuna has no answer, counted as a miss).
  ``replica_epochs_to_target`` is the smallest budget on a method's curve
  from which on the regret is ≤ 10 % in ≥ 90 % of the repeats (``null``:
  never within the budgets it was given).

Methods: ``grid`` (every τ at full horizon, the lowest measured restricted
MFPT), ``random`` (k periods without replacement, k = 1..len(taus)),
``fptopt`` (baseline + τ* + up to ``--rounds`` rounds of ``next_tau``,
:func:`fptopt.stats.design.replay_design`), ``optuna_tpe`` (TPE, no pruning) and
``optuna_sh_*`` / ``optuna_hb_*`` (TPE with ``SuccessiveHalvingPruner`` /
``HyperbandPruner``). Optuna's intermediate value at epoch e is the
Kaplan–Meier restricted mean so far, ``Σ_{t<e} Ψ(t)`` of the trial's R
replicas: pruners compare trials at equal steps, and the accuracy itself
would be a biased signal (a perturbation lowers the accuracy right after it
hits, so short periods look bad at almost every step); the restricted mean
so far is what the objective accumulates, it is censoring-aware, and at
epoch e it uses only what was observed up to e.

Grid, random and fptopt of one repeat read the same draws (one draw per
condition: "a world"); every Optuna trial draws afresh (TPE may ask for a
period twice). Needs numpy, scipy, pandas, matplotlib and optuna; no torch.

    python bench/compare_search.py                     # the default's dense sweep
    python bench/compare_search.py --truth DIR         # any sweep in the same layout
    python bench/compare_search.py --truth synthetic   # a simulated sweep (labelled as such)
    python bench/compare_search.py --quick             # smoke test: 1 protocol, R = 50, 4 repeats
    python bench/compare_search.py --plot-only         # redraw the figure from the JSON
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from report import write_json  # bench/report.py (the script's folder is on sys.path)

from fptopt.pipeline.provenance import file_sha256, provenance
from fptopt.stats.design import DEFAULT_TRUST_RATIO, replay_design
from fptopt.stats.survival import FirstPassage, kaplan_meier, survival_matrix, weighted_counts

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRUTH = ROOT / "tests" / "data" / "dense_default"
DEFAULT_OUT = ROOT / "bench" / "results" / "search_comparison.json"
COLUMNS = ("protocol", "tau", "replica", "time", "observed")
BASELINE = "none"
# name: (pruner, min_resource, reduction_factor); None = no pruning
OPTUNA_SETTINGS = {"optuna_tpe": None} | {
    f"optuna_{kind}_min{min_resource}_rf{factor}": (kind, min_resource, factor)
    for kind in ("sh", "hb") for min_resource in (5, 10) for factor in (3, 4)}


# ---------------------------------------------------------------- the oracle

@dataclass(frozen=True)
class Sweep:
    """One protocol's recorded sweep: the baseline and every period, with the
    true restricted MFPT of each period (all recorded replicas)."""

    protocol: str
    horizon: int
    baseline: FirstPassage
    runs: dict
    truth: dict

    @property
    def taus(self) -> list[int]:
        return sorted(self.runs)

    @property
    def best_tau(self) -> int:
        return min(self.taus, key=lambda tau: (self.truth[tau], tau))

    @property
    def best_mfpt(self) -> float:
        return self.truth[self.best_tau]

    def regret(self, tau) -> float:
        return math.inf if tau is None else self.truth[int(tau)] / self.best_mfpt - 1.0


def read_truth(folder: Path) -> tuple[pd.DataFrame, dict]:
    """The tidy first-passage table and its meta.json (empty when absent)."""
    folder = Path(folder)
    table = folder / "first_passage.parquet"
    if not table.exists():
        raise FileNotFoundError(f"no dense sweep at {table} (give --truth DIR or --truth synthetic)")
    frame = pd.read_parquet(table)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{table} lacks the columns {missing} (needs {list(COLUMNS)})")
    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return frame, meta


def dense_rows(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """With a ``condition`` column, the baseline and the periodic rows whose
    condition starts with ``prefix`` (the committed default also holds each
    protocol's τ* run, a second set of replicas at τ = 15, which would make
    that one period better measured than the others). Without the column, or
    when no condition has the prefix, every row."""
    if "condition" not in frame.columns:
        return frame
    keep = (frame["protocol"] == BASELINE) | frame["condition"].astype(str).str.startswith(prefix)
    if keep[frame["protocol"] != BASELINE].sum() == 0:
        print(f"no condition starts with {prefix!r}: every row is part of the sweep")
        return frame
    if not keep.all():
        dropped = sorted(frame.loc[~keep, "condition"].astype(str).unique())
        print(f"kept the conditions starting with {prefix!r}; left out {len(dropped)}: {dropped}")
    return frame[keep]


def build_sweeps(frame: pd.DataFrame, horizon: int, protocols=None) -> dict[str, Sweep]:
    """One :class:`Sweep` per protocol (all, or those named) of a tidy table."""
    frame = frame.sort_values(["protocol", "tau", "replica"])
    if (frame["time"] > horizon).any() or (frame["time"] < 0).any():
        raise ValueError(f"time must lie in 0..{horizon} (the horizon)")
    repeated = frame.duplicated(["protocol", "tau", "replica"], keep=False)
    if repeated.any():
        first = frame[repeated].iloc[0]
        raise ValueError(f"replica {first['replica']!r} appears more than once at protocol {first['protocol']!r}, "
                         f"tau {first['tau']}: several runs of one period (select one with a condition column)")
    baseline_rows = frame[frame["protocol"] == BASELINE]
    if baseline_rows.empty:
        raise ValueError(f"the sweep has no baseline rows (protocol == {BASELINE!r})")
    available = sorted(set(frame["protocol"]) - {BASELINE})
    chosen = available if protocols is None else list(protocols)
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise ValueError(f"protocols {unknown} are not in the sweep (it has {available})")
    baseline = _first_passage(baseline_rows, horizon)
    sweeps = {}
    for protocol in chosen:
        rows = frame[frame["protocol"] == protocol]
        runs = {int(tau): _first_passage(group, horizon) for tau, group in rows.groupby("tau")}
        truth = {tau: kaplan_meier(fp, horizon).restricted_mean(horizon).estimate for tau, fp in runs.items()}
        sweeps[protocol] = Sweep(protocol, horizon, baseline, runs, truth)
    return sweeps


def _first_passage(rows: pd.DataFrame, horizon: int) -> FirstPassage:
    times = rows["time"].to_numpy(dtype=int)
    observed = rows["observed"].to_numpy(dtype=bool)
    return FirstPassage(times, observed, np.where(observed, horizon, times), horizon, np.nan, "above")


# ------------------------------------------------------- a synthetic sweep

def _baseline_hazard(t):
    """No passage for 5 epochs, then 3.5 % per epoch (a QSS)."""
    return np.where(t <= 5, 0.0, 0.035)


# Hazard at age u since the last perturbation (cycles >= 1).
SYNTHETIC_RESPONSES = {
    "shrink_perturb": lambda u: np.where(u <= 3, 0.0, 0.035 + 0.10 * np.exp(-(u - 4) / 5.0)),
    "partial_reset": lambda u: np.where(u <= 2, 0.0, 0.035 + 0.03 * np.exp(-(u - 3) / 8.0)),
    "full_reset": _baseline_hazard,
}


def synthetic_truth(replicas: int = 200, horizon: int = 60, taus=range(1, 31), protocols=None,
                    seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A simulated dense sweep in the tidy layout: the hazard depends on the
    epoch before the first perturbation and on the age since the last one
    after it (shrink-and-perturb best at a few epochs, restarts best rarely)."""
    protocols = list(SYNTHETIC_RESPONSES) if protocols is None else list(protocols)
    rng = np.random.default_rng(seed)
    frames = [_simulate(rng, BASELINE, 0, _baseline_hazard(np.arange(1, horizon + 1)), replicas)]
    for protocol in protocols:
        for tau in taus:
            t = np.arange(1, horizon + 1)
            cycle = (t - 1) // tau
            hazard = np.where(cycle == 0, _baseline_hazard(t), SYNTHETIC_RESPONSES[protocol](t - cycle * tau))
            frames.append(_simulate(rng, protocol, tau, hazard, replicas))
    meta = {"horizon": horizon, "tau_star": 15, "target": None, "replicas": replicas, "synthetic": True,
            "seed": seed}
    return pd.concat(frames, ignore_index=True), meta


def _simulate(rng, protocol, tau, hazard, replicas) -> pd.DataFrame:
    passes = rng.random((replicas, hazard.size)) < hazard[None, :]
    observed = passes.any(axis=1)
    times = np.where(observed, np.argmax(passes, axis=1) + 1, hazard.size)
    return pd.DataFrame({"protocol": protocol, "tau": tau, "replica": np.arange(replicas), "time": times,
                         "observed": observed})


def write_synthetic_truth(folder: Path, **kwargs) -> None:
    """:func:`synthetic_truth` written as ``first_passage.parquet`` + ``meta.json``."""
    frame, meta = synthetic_truth(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "first_passage.parquet", index=False)
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


# ---------------------------------------------------- measuring a period

def survival(fp: FirstPassage, horizon: int) -> np.ndarray:
    """Kaplan–Meier ``Ψ(t)``, ``t = 0..H`` (vectorized over replicas; equals
    :func:`fptopt.stats.survival.kaplan_meier`)."""
    return survival_matrix(*weighted_counts(fp, np.ones((1, fp.n_replicas)), horizon))[0]


def restricted_mean(fp: FirstPassage, horizon: int) -> float:
    return float(survival(fp, horizon)[:horizon].sum())


def running_restricted_mean(fp: FirstPassage, horizon: int) -> np.ndarray:
    """``Σ_{t<e} Ψ(t)`` for ``e = 1..H``: Optuna's intermediate values. The
    Kaplan–Meier ``Ψ(t)`` at ``t < e`` uses only events and risk sets up to
    ``e``, so the value at ``e`` is what a trial stopped at ``e`` knows."""
    return np.cumsum(survival(fp, horizon)[:horizon])


def draw(fp: FirstPassage, replicas: int, rng: np.random.Generator, mode: str) -> FirstPassage:
    """``replicas`` recorded replicas of one condition: with replacement
    (``bootstrap``) or without (``subsample``)."""
    if mode == "bootstrap":
        index = rng.integers(0, fp.n_replicas, replicas)
    elif replicas <= fp.n_replicas:
        index = rng.permutation(fp.n_replicas)[:replicas]
    else:
        raise ValueError(f"--draw subsample needs R <= the recorded replicas ({fp.n_replicas}), got R = {replicas}")
    return fp.subset(index)


# ------------------------------------------------------------ the methods
# Each method returns, per repeat, its steps [(cumulative replica-epochs, chosen τ or None), ...].

def draw_world(sweep: Sweep, replicas: int, rng, mode: str):
    """One draw of the baseline and of every period: what training each would give."""
    return draw(sweep.baseline, replicas, rng, mode), {tau: draw(fp, replicas, rng, mode)
                                                        for tau, fp in sweep.runs.items()}


def grid_steps(sweep: Sweep, runs: dict, replicas: int) -> list:
    taus = sweep.taus
    measured = [restricted_mean(runs[tau], sweep.horizon) for tau in taus]
    return [(len(taus) * replicas * sweep.horizon, taus[int(np.argmin(measured))])]


def random_steps(sweep: Sweep, runs: dict, replicas: int, rng) -> list:
    order = rng.permutation(sweep.taus)
    measured = np.array([restricted_mean(runs[int(tau)], sweep.horizon) for tau in order])
    best = np.minimum.accumulate(measured)
    chosen = [int(order[int(np.flatnonzero(measured[: k + 1] == best[k])[0])]) for k in range(order.size)]
    return [((k + 1) * replicas * sweep.horizon, tau) for k, tau in enumerate(chosen)]


def fptopt_steps(sweep: Sweep, baseline: FirstPassage, runs: dict, tau_star: int, rounds: int) -> tuple[list, list]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        records = replay_design(baseline, runs, tau_star, rounds, sweep.taus, sweep.horizon)
    return [(r["replica_epochs"], r["optimal_tau"]) for r in records], records[-1]["measured_taus"]


def make_pruner(setting, horizon: int):
    import optuna

    if setting is None:
        return optuna.pruners.NopPruner()
    kind, min_resource, reduction_factor = setting
    if kind == "sh":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource, reduction_factor=reduction_factor)
    return optuna.pruners.HyperbandPruner(min_resource=min_resource, max_resource=horizon,
                                          reduction_factor=reduction_factor)


def optuna_steps(sweep: Sweep, replicas: int, setting, n_trials: int, rng, sampler_seed: int, mode: str,
                 study_name: str) -> tuple[list, list]:
    """One TPE study over τ; a trial = R fresh replicas of τ, reporting the
    restricted mean so far after every epoch. Returns the steps and the
    replica-epochs of every trial."""
    import optuna

    taus, horizon = sweep.taus, sweep.horizon
    contiguous = taus == list(range(taus[0], taus[-1] + 1))

    def objective(trial):
        tau = trial.suggest_int("tau", taus[0], taus[-1]) if contiguous else trial.suggest_categorical("tau", taus)
        running = running_restricted_mean(draw(sweep.runs[tau], replicas, rng, mode), horizon)
        for epoch in range(1, horizon + 1):
            trial.report(float(running[epoch - 1]), epoch)
            if epoch < horizon and trial.should_prune():
                trial.set_user_attr("epochs", epoch)
                raise optuna.TrialPruned()
        trial.set_user_attr("epochs", horizon)
        return float(running[-1])

    study = optuna.create_study(direction="minimize", study_name=study_name,
                                sampler=optuna.samplers.TPESampler(seed=sampler_seed),
                                pruner=make_pruner(setting, horizon))
    study.optimize(objective, n_trials=n_trials)
    steps, costs, spent, best, chosen = [], [], 0, math.inf, None
    for trial in study.trials:
        cost = replicas * trial.user_attrs["epochs"]
        spent += cost
        costs.append(cost)
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value < best:
            best, chosen = trial.value, int(trial.params["tau"])
        steps.append((spent, chosen))
    return steps, costs


# ----------------------------------------------------------- the metric

def regrets_at(sweep: Sweep, steps_per_repeat: list, budgets: np.ndarray) -> np.ndarray:
    """``(repeats, budgets)`` regret of each repeat's answer once it has spent
    at most each budget (inf: no answer yet)."""
    out = np.full((len(steps_per_repeat), budgets.size), math.inf)
    for r, steps in enumerate(steps_per_repeat):
        costs = np.array([cost for cost, _ in steps])
        last = np.searchsorted(costs, budgets, side="right") - 1
        for b, i in enumerate(last):
            if i >= 0:
                out[r, b] = sweep.regret(steps[i][1])
    return out


def summarize(budgets: np.ndarray, regrets: np.ndarray, tolerance: float, share: float) -> dict:
    """Curve rows ``[budget, median, p10, p90]`` (null where infinite), the
    share of repeats within the tolerance, and the budget to the target."""
    with np.errstate(invalid="ignore"):
        quantiles = np.percentile(regrets, [50, 10, 90], axis=0, method="lower")
    success = (regrets <= tolerance).mean(axis=0)
    curve = [[int(b)] + [_finite(q) for q in column] for b, column in zip(budgets, quantiles.T)]
    reached = np.flatnonzero(success >= share)
    return {"replica_epochs_to_target": budget_to_target(budgets, success, share),
            "first_replica_epochs_at_target": int(budgets[reached[0]]) if reached.size else None, "curve": curve,
            "success_share": [[int(b), float(s)] for b, s in zip(budgets, success)]}


def budget_to_target(budgets: np.ndarray, success: np.ndarray, share: float) -> int | None:
    """The smallest budget from which on ``success >= share`` at every budget."""
    failing = np.flatnonzero(success < share)
    start = 0 if failing.size == 0 else int(failing[-1]) + 1
    return None if start >= budgets.size else int(budgets[start])


def _finite(value) -> float | None:
    return float(value) if np.isfinite(value) else None


# ------------------------------------------------------------- the run

def compare(sweep: Sweep, args, protocol_index: int) -> dict:
    """Every method on one protocol, ``args.repeats`` times; one entry per method."""
    replicas, horizon, unit = args.replicas, sweep.horizon, args.replicas * sweep.horizon
    tau_star = args.tau_star
    if tau_star not in sweep.runs:
        raise ValueError(f"tau_star {tau_star} is not a recorded period of {sweep.protocol} ({sweep.taus})")
    worlds = {"grid": [], "random": [], "fptopt": []}
    measured_counts = []
    for repeat in range(args.repeats):
        rng = np.random.default_rng([args.seed, protocol_index, repeat, 0])
        baseline, runs = draw_world(sweep, replicas, rng, args.draw)
        worlds["grid"].append(grid_steps(sweep, runs, replicas))
        worlds["random"].append(random_steps(sweep, runs, replicas, rng))
        steps, measured = fptopt_steps(sweep, baseline, runs, tau_star, args.rounds)
        worlds["fptopt"].append(steps)
        measured_counts.append(len(measured))
    n = len(sweep.taus)
    budgets = {"grid": np.array([n * unit]), "random": unit * np.arange(1, n + 1),
               "fptopt": unit * np.arange(2, args.rounds + 3)}
    settings = {"grid": {"periods": n, "horizon": horizon},
                "random": {"periods": f"k = 1..{n} drawn without replacement"},
                "fptopt": {"tau_star": tau_star, "rounds": args.rounds, "trust_ratio": DEFAULT_TRUST_RATIO,
                           "baseline_paid": True}}
    stats = {"fptopt": {"measured_periods_mean": float(np.mean(measured_counts)),
                        "measured_periods_max": int(np.max(measured_counts))}}
    results = {}
    for name in ("grid", "random", "fptopt"):
        results[name] = summarize(budgets[name], regrets_at(sweep, worlds[name], budgets[name]),
                                  args.tolerance, args.share) | {"settings": settings[name]}
    results["fptopt"]["stats"] = stats["fptopt"]
    _progress(sweep.protocol, "grid, random, fptopt", results)
    for name in args.optuna:
        results[name] = optuna_method(sweep, args, protocol_index, name)
        _progress(sweep.protocol, name, {name: results[name]})
    return results


def optuna_method(sweep: Sweep, args, protocol_index: int, name: str) -> dict:
    """One Optuna setting, ``args.repeats`` studies of ``args.trials`` trials.
    A study's first k trials are what ``n_trials = k`` would have run (TPE and
    the pruners only look back), so one study gives the whole budget sweep;
    its curve is read every half full trial (R·H/2)."""
    unit = args.replicas * sweep.horizon
    setting_index = list(OPTUNA_SETTINGS).index(name)
    runs, trial_costs = [], []
    for repeat in range(args.repeats):
        sequence = np.random.SeedSequence([args.seed, protocol_index, repeat, 1 + setting_index])
        rng = np.random.default_rng(sequence)
        sampler_seed = int(sequence.generate_state(1)[0])
        steps, costs = optuna_steps(sweep, args.replicas, OPTUNA_SETTINGS[name], args.trials, rng, sampler_seed,
                                    args.draw, f"{name}-{sweep.protocol}-{repeat}")
        runs.append(steps)
        trial_costs.extend(costs)
    spent = min(steps[-1][0] for steps in runs)
    budgets = (unit // 2) * np.arange(1, spent // (unit // 2) + 1)
    setting = OPTUNA_SETTINGS[name]
    settings = {"sampler": "TPESampler", "n_trials": args.trials, "intermediate_value": "restricted mean so far",
                "pruner": "NopPruner" if setting is None else
                {"sh": "SuccessiveHalvingPruner", "hb": "HyperbandPruner"}[setting[0]]}
    if setting is not None:
        settings |= {"min_resource": setting[1], "reduction_factor": setting[2]}
        if setting[0] == "hb":
            settings["max_resource"] = sweep.horizon
    costs = np.array(trial_costs)
    stats = {"trials": int(costs.size), "pruned_share": float((costs < unit).mean()),
             "mean_trial_replica_epochs": float(costs.mean()), "full_trial_replica_epochs": int(unit),
             "mean_pruned_trial_replica_epochs": float(costs[costs < unit].mean()) if (costs < unit).any() else None,
             "spent_after_all_trials_min": int(spent)}
    return summarize(budgets, regrets_at(sweep, runs, budgets), args.tolerance, args.share) | {
        "settings": settings, "stats": stats}


def _progress(protocol: str, label: str, results: dict) -> None:
    found = {name: entry["replica_epochs_to_target"] for name, entry in results.items()}
    print(f"[{time.strftime('%H:%M:%S')}] {protocol}: {label} done; replica-epochs to target: {found}", flush=True)


def oracle_entry(sweeps: dict, args, source: str, synthetic: bool, meta: dict) -> dict:
    any_sweep = next(iter(sweeps.values()))
    return {
        "source": source, "synthetic": synthetic, "horizon": any_sweep.horizon, "taus": any_sweep.taus,
        "replicas_per_trial": args.replicas, "repeats": args.repeats, "draw": args.draw, "seed": args.seed,
        "tau_star": args.tau_star, "target": meta.get("target"), "condition_prefix": args.condition_prefix,
        "recorded_replicas": {p: {str(t): fp.n_replicas for t, fp in s.runs.items()} | {
            BASELINE: s.baseline.n_replicas} for p, s in sweeps.items()},
        "regret_tolerance": args.tolerance, "success_share": args.share,
        "target_rule": "replica_epochs_to_target: the smallest budget on the curve from which on, at every larger "
                       "budget, regret <= regret_tolerance in >= success_share of the repeats",
        "answer_at_budget": "the answer a repeat gives once it has spent at most the budget; no answer yet "
                            "(Optuna before its first complete trial) = infinite regret",
        "curve_quantiles": "order statistics over repeats (numpy percentile, method='lower')",
        "cost_rule": "a trial of R replicas followed to epoch e costs R*e replica-epochs (censored included); "
                     "fptopt also pays the baseline (R*H)",
        "protocols": list(sweeps),
        "best_tau": {p: s.best_tau for p, s in sweeps.items()},
        "best_mfpt": {p: s.best_mfpt for p, s in sweeps.items()},
        "baseline_mfpt": restricted_mean(any_sweep.baseline, any_sweep.horizon),
        "mfpt": {p: {str(t): s.truth[t] for t in s.taus} for p, s in sweeps.items()},
    }


def add_multiples(methods: dict) -> None:
    """``multiple_of_fptopt``: a method's replica-epochs to target over fptopt's."""
    for entries in methods.values():
        reference = entries.get("fptopt", {}).get("replica_epochs_to_target")
        for entry in entries.values():
            own = entry["replica_epochs_to_target"]
            entry["multiple_of_fptopt"] = None if own is None or not reference else own / reference


# --------------------------------------------------------------- figure

PLOT_ROWS = (("grid, random, TPE without pruning", ("grid", "random", "optuna_tpe")),
             ("TPE + successive halving", "optuna_sh_"), ("TPE + Hyperband", "optuna_hb_"))


def plot(result: dict, out: Path) -> None:
    """Regret vs replica-epochs: one column per protocol; rows: the plain
    searches, then each pruner's settings; fptopt in every panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = list(result["methods"])
    fig, axes = plt.subplots(len(PLOT_ROWS), len(protocols), figsize=(5.2 * len(protocols), 3.3 * len(PLOT_ROWS)),
                             squeeze=False, sharex=True, sharey=True)
    tolerance = result["oracle"]["regret_tolerance"]
    for column, protocol in enumerate(protocols):
        entries = result["methods"][protocol]
        for row, (label, members) in enumerate(PLOT_ROWS):
            ax = axes[row][column]
            names = [n for n in entries if (n in members if isinstance(members, tuple) else n.startswith(members))]
            shades = iter(plt.cm.viridis(np.linspace(0.0, 0.8, max(len(names), 1))))
            for name in names + ["fptopt"]:
                color = {"grid": "black", "random": "0.5", "fptopt": "tab:red"}.get(name) or next(shades)
                _plot_curve(ax, entries[name]["curve"], name, color)
            ax.axhline(tolerance, color="0.3", ls=":", lw=1)
            ax.set_xscale("log")
            ax.set_yscale("symlog", linthresh=0.1)
            ax.set_ylim(0, None)
            ax.legend(fontsize=7, loc="upper right", title=label, title_fontsize=7)
            if row == 0:
                ax.set_title(f"{protocol} (best τ = {result['oracle']['best_tau'][protocol]})")
            if row == len(PLOT_ROWS) - 1:
                ax.set_xlabel("replica-epochs spent")
            if column == 0:
                ax.set_ylabel("regret (true MFPT / best − 1)")
    synthetic = " — SYNTHETIC oracle" if result["oracle"]["synthetic"] else ""
    fig.suptitle(f"Regret of the chosen period vs replica-epochs: median and 10–90 % band over "
                 f"{result['oracle']['repeats']} repeats, R = {result['oracle']['replicas_per_trial']}; "
                 f"dotted: {tolerance:.0%}{synthetic}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _plot_curve(ax, rows, name: str, color) -> None:
    curve = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    budget, median, low, high = curve.T
    style = dict(color=color, lw=2.2 if name == "fptopt" else 1.2, label=name)
    if budget.size == 1:
        ax.errorbar(budget, median, yerr=[median - low, high - median], fmt="s", ms=5, capsize=3, **style)
        return
    ax.plot(budget, median, marker="o" if name == "fptopt" else None, ms=3.5, **style)
    ax.fill_between(budget, low, high, color=color, alpha=0.13, lw=0)


# ---------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truth", default=str(DEFAULT_TRUTH),
                        help="folder with first_passage.parquet (+ meta.json), or 'synthetic'")
    parser.add_argument("--protocols", nargs="+", help="protocols to compare (default: all in the sweep)")
    parser.add_argument("--replicas", type=int, help="R, replicas per trial (default: meta's replicas, else 200)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--trials", type=int, default=60, help="Optuna's largest n_trials (the budget sweep)")
    parser.add_argument("--rounds", type=int, default=4, help="fptopt's next_tau rounds after baseline + tau*")
    parser.add_argument("--tau-star", type=int, help="fptopt's first period (default: meta's tau_star)")
    parser.add_argument("--horizon", type=int, help="H (default: meta's horizon, else the largest time)")
    parser.add_argument("--condition-prefix", default="train_sweep",
                        help="with a condition column: the periodic rows of the sweep (see dense_rows)")
    parser.add_argument("--optuna", nargs="*", default=list(OPTUNA_SETTINGS), choices=list(OPTUNA_SETTINGS))
    parser.add_argument("--draw", choices=("bootstrap", "subsample"), default="bootstrap")
    parser.add_argument("--tolerance", type=float, default=0.10, help="regret counted as near-best")
    parser.add_argument("--share", type=float, default=0.90, help="share of repeats that must be near-best")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke test: first protocol, R = 50, 4 repeats, "
                                                             "20 trials, 2 rounds")
    parser.add_argument("--out", type=Path, help=f"default: {_relative(DEFAULT_OUT)}; with --quick, a file in the "
                                                  "temporary folder (a smoke test never overwrites the results)")
    parser.add_argument("--figure", type=Path, help="default: the JSON's path with .png")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from --out")
    args = parser.parse_args(argv)
    quick_out = Path(tempfile.gettempdir()) / "search_comparison_quick.json"
    args.out = args.out or (quick_out if args.quick and not args.plot_only else DEFAULT_OUT)
    args.figure = args.figure or args.out.with_suffix(".png")
    if args.quick:
        args.replicas = args.replicas or 50
        args.repeats, args.trials, args.rounds = min(args.repeats, 4), min(args.trials, 20), min(args.rounds, 2)
    return args


def load(args):
    """The sweeps, a description of their source, whether synthetic, and meta."""
    if args.truth == "synthetic":
        frame, meta = synthetic_truth(replicas=args.replicas or 200, seed=args.seed)
        source = f"synthetic (compare_search.synthetic_truth, seed {args.seed})"
    else:
        frame, meta = read_truth(Path(args.truth))
        table = Path(args.truth) / "first_passage.parquet"
        source = f"{_relative(table)} (sha256 {file_sha256(table)[:16]})"
    horizon = args.horizon or meta.get("horizon")
    if horizon is None:
        horizon = int(frame["time"].max())
        print(f"meta.json gives no horizon: taking the largest recorded time, {horizon} (else --horizon)")
    horizon = int(horizon)
    protocols = args.protocols
    if args.quick and not protocols:
        protocols = sorted(set(frame["protocol"]) - {BASELINE})[:1]
    sweeps = build_sweeps(dense_rows(frame, args.condition_prefix), horizon, protocols)
    args.replicas = args.replicas or int(meta.get("replicas") or 200)
    if args.tau_star is None:
        if meta.get("tau_star") is None:
            raise ValueError("meta.json has no tau_star: give --tau-star")
        args.tau_star = int(meta["tau_star"])
    return sweeps, source, bool(meta.get("synthetic", False)), meta


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv=None) -> dict:
    import optuna

    args = parse_args(argv)
    if args.plot_only:
        result = json.loads(args.out.read_text())
        plot(result, args.figure)
        print(markdown_table(result))
        return result
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    started = time.perf_counter()
    sweeps, source, synthetic, meta = load(args)
    print(f"oracle: {source}, protocols {list(sweeps)}, H = {next(iter(sweeps.values())).horizon}, "
          f"R = {args.replicas}, {args.repeats} repeats, draw = {args.draw}", flush=True)
    methods = {protocol: compare(sweep, args, index) for index, (protocol, sweep) in enumerate(sweeps.items())}
    add_multiples(methods)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "figure", "plot_only")}
    result = {"oracle": oracle_entry(sweeps, args, source, synthetic, meta), "methods": methods,
              "provenance": provenance(settings, optuna_version=optuna.__version__,
                                       command=" ".join(["python bench/compare_search.py", *(argv or [])])),
              "runtime_s": round(time.perf_counter() - started, 1)}
    write_json(result, args.out)
    plot(result, args.figure)
    print(markdown_table(result))
    print(f"wrote {args.out} and {args.figure} in {result['runtime_s']} s")
    return result


def markdown_table(result: dict) -> str:
    """Replica-epochs to the target per method (rows) and protocol (columns),
    with the multiple of fptopt's: the README's table."""
    protocols = list(result["methods"])
    lines = ["| method | " + " | ".join(protocols) + " |", "|---|" + "---|" * len(protocols)]
    for name in result["methods"][protocols[0]]:
        cells = []
        for protocol in protocols:
            entry = result["methods"][protocol].get(name, {})
            spent, multiple = entry.get("replica_epochs_to_target"), entry.get("multiple_of_fptopt")
            cells.append("not reached" if spent is None else
                         f"{spent:,}" + ("" if multiple is None else f" ({multiple:.2g}×)"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
