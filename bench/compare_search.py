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
Every condition needs ``--min-recorded`` (default 20) recorded replicas: a
bootstrap of R replicas from 3 recorded ones would measure those 3 over and
over, so such a sweep is refused (naming the condition), never resampled.

Rules, the same for every method:

* **Training** R replicas at τ = drawing R recorded replicas of τ with
  replacement (``--draw bootstrap``, seeded per repeat). ``--draw subsample``
  draws without replacement instead: with R = the recorded count a method
  then sees the oracle's own data, which the test uses for exact checks.
* **Cost** (``"accounting": "first_passage"``, :func:`first_passage_cost`):
  the objective is the time to the target, so a replica stops at its first
  passage; a trial whose replicas have first-passage (or censoring) times
  ``T_i`` and which is followed to epoch e costs ``Σ_i min(T_i, e)``
  replica-epochs. A full trial costs ``Σ_i min(T_i, H)``, a trial pruned
  after epoch e ``Σ_i min(T_i, e)``. fptopt also pays for the unperturbed
  baseline; the other methods never need it.
* **True MFPT** of τ = the Kaplan–Meier restricted mean ``⟨T∧H⟩`` of *all*
  recorded replicas of τ; **regret** of a chosen τ = true MFPT(τ) / best true
  MFPT over the sweep's periods − 1.
* **Budget**: one geometric budget grid per protocol for every method
  (:func:`budget_grid`, ``--budget-points`` points from the cheapest first
  answer of any method to the most any grid, random search or fptopt spends;
  every Optuna study runs until it has spent that much). A
  method's answer at budget b is the last one it gave with cumulative cost
  ≤ b (no answer yet = a miss). ``replica_epochs_to_target`` is the smallest
  budget of the grid from which on, at every larger budget of the grid, the
  regret is ≤ 10 % in ≥ 90 % of the repeats (:func:`budget_to_target`, one
  function for every method; ``null``: not reached within the grid).

Methods:

* ``grid_R<R>``: every τ with R replicas to the horizon, the lowest measured
  restricted MFPT; ``random_R<R>``: periods in a random order without
  replacement, the answer after k periods the best measured so far; both at
  every R of ``--grid-replicas`` (10, 25, 50, 100, 200). ``grid`` and
  ``random`` are the R with the fewest replica-epochs to target, **chosen
  after the fact**: no user knows the best R beforehand, so this favours them.
* ``fptopt``: baseline + τ* + the design's rounds
  (:func:`fptopt.stats.design.replay_design`) with the pipeline's settings
  (:func:`resolve_design`: config.yaml's ``DesignSettings``, through
  :func:`fptopt.pipeline.config.design_settings`; ``--rounds`` overrides its
  rounds; the adapter is :func:`fptopt_steps`). The design decides how many
  replicas each condition gets; it does not pay for the pipeline's
  ``training.full_horizon_replicas`` (replicas trained to the horizon for the
  accuracy columns), which the other methods do not report either.
* ``optuna_tpe`` (TPE, no pruning) and ``optuna_sh_*`` / ``optuna_hb_*``
  (TPE with ``SuccessiveHalvingPruner`` / ``HyperbandPruner``, reduction
  factor 3 or 4, ``min_resource`` = round(H/12) or round(H/6):
  ``minH12`` / ``minH6`` in the name), as a knowledgeable user would set it
  up: τ as an ordered log-scaled integer (``suggest_int(log=True)``; a
  categorical only when the recorded periods are not contiguous), R replicas
  per trial (``--replicas``; an entry suffixed ``_R<R>`` runs at R per
  trial: by default TPE and the H/6, factor-3 pruners also at R = 50), and
  its answer after k trials is the τ with the lowest *mean* objective over
  the complete trials of that τ so far (:func:`lowest_mean_answers`; not
  the single luckiest trial). Every study
  runs until it has spent the budget grid's end (``--max-trials`` caps it;
  the JSON says when the cap was hit). The intermediate value at epoch e is
  the Kaplan–Meier restricted mean so far, ``Σ_{t<e} Ψ(t)`` of the trial's R
  replicas: pruners compare trials at equal steps, and the accuracy itself
  would be a biased signal (a perturbation lowers the accuracy right after
  it hits, so short periods look bad at almost every step); the restricted
  mean so far is what the objective accumulates, it is censoring-aware, and
  at epoch e it uses only what was observed up to e. A trial reports it at
  the epochs where its pruner can decide (``min_resource·rf^k``): the
  pruners only act there, so the decisions equal reporting every epoch.

Grid, random and fptopt of one repeat read the same draws ("a world": per
condition one pool of replicas, of which a method at R uses the first R);
every Optuna trial draws afresh (TPE may ask for a period twice). Needs
numpy, scipy, pandas, matplotlib and optuna; no torch.

    python bench/compare_search.py                     # the default's dense sweep
    python bench/compare_search.py --truth DIR         # any sweep in the same layout
    python bench/compare_search.py --truth synthetic   # a simulated sweep (labelled as such)
    python bench/compare_search.py --quick             # smoke test: 1 protocol, R = 50, 4 repeats
    python bench/compare_search.py --plot-only         # redraw the figure from the JSON
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from report import write_json  # bench/report.py (the script's folder is on sys.path)

from fptopt.pipeline.provenance import provenance
from fptopt.stats import design as design_module
from fptopt.stats.survival import FirstPassage, kaplan_meier, restricted_mfpt, survival_matrix, weighted_counts
from fptopt.storage import file_sha256

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRUTH = ROOT / "tests" / "data" / "dense_default"
DEFAULT_OUT = ROOT / "bench" / "results" / "search_comparison.json"
PIPELINE_CONFIG = ROOT / "config.yaml"
COLUMNS = ("protocol", "tau", "replica", "time", "observed")
BASELINE = "none"
ACCOUNTING = "first_passage"
COST_RULE = ("a trial (or a design's condition) whose replicas have first-passage or censoring times T_i and which "
             "is followed to epoch e costs sum_i min(T_i, e) replica-epochs: every replica stops at its first "
             "passage (a censored replica at its last epoch, H); a full trial costs sum_i min(T_i, H), a trial "
             "pruned after epoch e sum_i min(T_i, e); fptopt also pays its baseline replicas")
GRID_REPLICAS = (10, 25, 50, 100, 200)
MIN_RECORDED = 20
MAX_TRIALS = 2000
BEST_R_NOTE = ("R chosen after the fact (the R with the fewest replica-epochs to target): no user knows it "
               "beforehand, so this favours the method")
# name: (pruner, H / min_resource, reduction_factor); None = no pruning. min_resource = max(1, round(H / divisor)).
OPTUNA_SETTINGS = {"optuna_tpe": None} | {
    f"optuna_{kind}_minH{divisor}_rf{factor}": (kind, divisor, factor)
    for kind in ("sh", "hb") for divisor in (12, 6) for factor in (3, 4)}
R50_SETTINGS = ("optuna_tpe", "optuna_sh_minH6_rf3", "optuna_hb_minH6_rf3")  # also run at R = 50 by default


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


def build_sweeps(frame: pd.DataFrame, horizon: int, protocols=None, min_recorded: int = MIN_RECORDED
                 ) -> dict[str, Sweep]:
    """One :class:`Sweep` per protocol (all, or those named) of a tidy table.
    Refuses a sweep where the baseline or a period of a chosen protocol has
    fewer than ``min_recorded`` recorded replicas (:func:`check_recorded`)."""
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
    check_recorded(frame[frame["protocol"].isin([BASELINE, *chosen])], min_recorded)
    baseline = _first_passage(baseline_rows, horizon)
    sweeps = {}
    for protocol in chosen:
        rows = frame[frame["protocol"] == protocol]
        runs = {int(tau): _first_passage(group, horizon) for tau, group in rows.groupby("tau")}
        truth = {tau: kaplan_meier(fp, horizon).restricted_mean(horizon).estimate for tau, fp in runs.items()}
        sweeps[protocol] = Sweep(protocol, horizon, baseline, runs, truth)
    return sweeps


def check_recorded(frame: pd.DataFrame, min_recorded: int) -> None:
    """Every condition (protocol, τ) needs ``min_recorded`` recorded replicas:
    drawing R replicas from 3 recorded ones would replay those 3 over and over
    and make that period look measured with R. Raises naming each condition."""
    counts = frame.groupby(["protocol", "tau"]).size()
    few = counts[counts < min_recorded]
    if not few.empty:
        named = ", ".join(f"protocol {p!r} tau {int(t)} ({int(n)} recorded)" for (p, t), n in few.items())
        raise ValueError(f"{few.size} condition(s) have fewer than --min-recorded = {min_recorded} recorded "
                         f"replicas: {named}; record more replicas, leave the protocol out (--protocols) or "
                         f"lower --min-recorded")


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
    return float(restricted_mfpt(survival(fp, horizon), horizon))


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


# ------------------------------------------------------------ the cost rule

def first_passage_cost(fp: FirstPassage, epoch: int | None = None) -> int:
    """Replica-epochs of ``fp``'s replicas followed to epoch ``e`` (default:
    the horizon) when each stops at its first passage: ``Σ_i min(T_i, e)``
    (``T_i`` the first passage, or the censoring epoch = the last one). The
    one cost rule of every method: a grid's or random search's period, an
    Optuna trial (complete: e = H; pruned after epoch e), fptopt's baseline
    and periods."""
    return design_module.replica_epochs(fp, epoch)


def first(fp: FirstPassage, replicas: int) -> FirstPassage:
    """The first ``replicas`` of a pool (what training ``replicas`` of that condition gave)."""
    if replicas > fp.n_replicas:
        raise ValueError(f"asked for {replicas} replicas of a pool of {fp.n_replicas}")
    return fp.subset(np.arange(int(replicas)))


# ------------------------------------------------------------ the methods
# Each method returns, per repeat, its steps [(cumulative replica-epochs, chosen τ or None), ...].

def draw_world(sweep: Sweep, pool: int, rng, mode: str):
    """One draw of the baseline and of every period: per condition a pool of
    replicas (``pool`` drawn with replacement; with ``subsample`` every
    recorded replica in a random order) of which a method at R trains the first R."""
    def one(fp):
        return draw(fp, fp.n_replicas if mode == "subsample" else pool, rng, mode)

    return one(sweep.baseline), {tau: one(fp) for tau, fp in sweep.runs.items()}


def grid_steps(sweep: Sweep, runs: dict, replicas: int) -> list:
    """Every period with R replicas: one answer once all are trained."""
    trained = [first(runs[tau], replicas) for tau in sweep.taus]
    measured = [restricted_mean(fp, sweep.horizon) for fp in trained]
    cost = sum(first_passage_cost(fp, sweep.horizon) for fp in trained)
    return [(cost, sweep.taus[int(np.argmin(measured))])]


def random_steps(sweep: Sweep, runs: dict, replicas: int, order) -> list:
    """Periods in ``order`` with R replicas each; after each, the best measured so far."""
    steps, spent, best, chosen = [], 0, math.inf, None
    for tau in order:
        fp = first(runs[int(tau)], replicas)
        spent += first_passage_cost(fp, sweep.horizon)
        measured = restricted_mean(fp, sweep.horizon)
        if measured < best:
            best, chosen = measured, int(tau)
        steps.append((spent, chosen))
    return steps


@dataclass(frozen=True)
class FptoptDesign:
    """How fptopt is replayed: the adaptive design's ``DesignSettings`` and where they came from."""

    settings: object
    source: dict = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return self.settings.rounds

    def describe(self) -> dict:
        return {"design": "adaptive replicas (DesignSettings)", "rounds": self.rounds,
                "trust_ratio": self.settings.trust_ratio, "baseline_paid": True,
                "design_settings": dataclasses.asdict(self.settings)} | self.source


def fptopt_steps(sweep: Sweep, baseline: FirstPassage, runs: dict, tau_star: int, design: FptoptDesign
                 ) -> tuple[list, list]:
    """fptopt's steps ``[(cumulative first-passage cost, chosen τ), ...]``, one
    per round, and the design's records. ``baseline`` and ``runs`` are the
    world's pools; :func:`fptopt.stats.design.replay_design` trains the first
    n of a pool when it measures n replicas of that condition, and the cost of
    a round is :func:`design_cost` of its record."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        records = design_module.replay_design(baseline, runs, tau_star=tau_star, taus=sweep.taus,
                                              horizon=sweep.horizon, settings=design.settings)
    steps = [(design_cost(r, baseline, runs, sweep.horizon), int(r["optimal_tau"])) for r in records]
    return steps, records


def design_cost(record: dict, baseline: FirstPassage, runs: dict, horizon: int) -> int:
    """Cumulative :func:`first_passage_cost` of what a design record has
    trained: the first n of each pool, n from the record's ``replicas``
    ({τ: n}) and ``baseline_replicas``."""
    return first_passage_cost(first(baseline, int(record["baseline_replicas"])), horizon) + sum(
        first_passage_cost(first(runs[int(tau)], int(n)), horizon) for tau, n in record["replicas"].items())


def min_resource(setting, horizon: int) -> int | None:
    """A pruner's ``min_resource``, scaled to the horizon: ``max(1, round(H / divisor))``."""
    return None if setting is None else max(1, round(horizon / setting[1]))


def make_pruner(setting, horizon: int):
    import optuna

    if setting is None:
        return optuna.pruners.NopPruner()
    kind, _, reduction_factor = setting
    if kind == "sh":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource(setting, horizon),
                                                      reduction_factor=reduction_factor)
    return optuna.pruners.HyperbandPruner(min_resource=min_resource(setting, horizon), max_resource=horizon,
                                          reduction_factor=reduction_factor)


def report_epochs(setting, horizon: int) -> list[int]:
    """The epochs at which a trial reports and asks its pruner: the rungs
    ``min_resource·rf^k < H`` (successive halving and every Hyperband bracket
    only decide there, so this equals reporting every epoch); none without pruning."""
    if setting is None:
        return []
    epochs, epoch = [], min_resource(setting, horizon)
    while epoch < horizon:
        epochs.append(epoch)
        epoch *= setting[2]
    return epochs


def lowest_mean_answers(trials) -> list:
    """Optuna's answer after each trial: the τ with the lowest mean objective
    over the complete trials of that τ so far (a τ tried twice counts with its
    mean, not its luckier trial); ``None`` before the first complete trial.
    ``trials``: ``[(τ, value or None for a pruned trial), ...]`` in order; ties
    go to the smaller τ."""
    sums, counts, chosen, answers = {}, {}, None, []
    for tau, value in trials:
        if value is not None:
            sums[tau] = sums.get(tau, 0.0) + float(value)
            counts[tau] = counts.get(tau, 0) + 1
            chosen = min(sums, key=lambda t: (sums[t] / counts[t], t))
        answers.append(chosen)
    return answers


def optuna_steps(sweep: Sweep, replicas: int, setting, spend: int, rng, sampler_seed: int, mode: str,
                 study_name: str, max_trials: int = MAX_TRIALS, report_at=None) -> tuple[list, list]:
    """One TPE study over τ, trials added until it has spent ``spend``
    replica-epochs (or ran ``max_trials``). A trial = R fresh replicas of τ,
    reporting the restricted mean so far at :func:`report_epochs`; it costs
    :func:`first_passage_cost` to the epoch it stopped at. Returns the steps
    (answers by :func:`lowest_mean_answers`) and per trial ``(τ, value or
    None, cost, epochs)``. ``report_at``: other report epochs (the test
    reports every epoch to check that the pruners decide alike)."""
    import optuna

    taus, horizon = sweep.taus, sweep.horizon
    contiguous = taus == list(range(taus[0], taus[-1] + 1))
    pruned_state = optuna.trial.TrialState.PRUNED
    study = optuna.create_study(direction="minimize", study_name=study_name,
                                sampler=optuna.samplers.TPESampler(seed=sampler_seed),
                                pruner=make_pruner(setting, horizon))
    checks = report_epochs(setting, horizon) if report_at is None else [int(e) for e in report_at if e < horizon]
    trials, spent = [], 0
    while spent < spend and len(trials) < max_trials:
        trial = study.ask()
        if contiguous:
            tau = trial.suggest_int("tau", taus[0], taus[-1], log=taus[0] >= 1)
        else:
            tau = trial.suggest_categorical("tau", taus)
        fp = draw(sweep.runs[int(tau)], replicas, rng, mode)
        running = running_restricted_mean(fp, horizon)
        stopped = next((epoch for epoch in checks if _report(trial, running, epoch)), None)
        if stopped is None:
            value, epochs = float(running[-1]), horizon
            study.tell(trial, value)
        else:
            value, epochs = None, stopped
            study.tell(trial, state=pruned_state)
        cost = first_passage_cost(fp, epochs)
        spent += cost
        trials.append((int(tau), value, cost, epochs))
    answers = lowest_mean_answers([(tau, value) for tau, value, _, _ in trials])
    steps = [(int(c), a) for c, a in zip(np.cumsum([t[2] for t in trials]), answers, strict=True)]
    return steps, trials


def _report(trial, running: np.ndarray, epoch: int) -> bool:
    """Report the restricted mean so far at ``epoch``; whether to prune."""
    trial.report(float(running[epoch - 1]), epoch)
    return trial.should_prune()


# ----------------------------------------------------------- the metric

def budget_grid(low: int, high: int, points: int = 60) -> np.ndarray:
    """The common budgets of every method: ``points`` geometric steps from
    ``low`` to ``high`` replica-epochs, rounded, without repeats."""
    low = max(1, int(low))
    high = max(low, int(high))
    return np.unique(np.round(np.geomspace(low, high, points)).astype(np.int64))


def regrets_at(sweep: Sweep, steps_per_repeat: list, budgets: np.ndarray) -> np.ndarray:
    """``(repeats, budgets)`` regret of each repeat's last answer with
    cumulative cost ≤ each budget (inf: no answer yet)."""
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
    curve = [[int(b)] + [_finite(q) for q in column] for b, column in zip(budgets, quantiles.T, strict=True)]
    reached = np.flatnonzero(success >= share)
    return {"replica_epochs_to_target": budget_to_target(budgets, success, share),
            "first_replica_epochs_at_target": int(budgets[reached[0]]) if reached.size else None, "curve": curve,
            "success_share": [[int(b), float(s)] for b, s in zip(budgets, success, strict=True)]}


def budget_to_target(budgets: np.ndarray, success: np.ndarray, share: float) -> int | None:
    """The smallest budget of the grid from which on, at every larger budget
    of the grid, ``success >= share`` (the one rule of every method)."""
    failing = np.flatnonzero(np.asarray(success) < share)
    start = 0 if failing.size == 0 else int(failing[-1]) + 1
    return None if start >= len(budgets) else int(budgets[start])


def _finite(value) -> float | None:
    return float(value) if np.isfinite(value) else None


# ------------------------------------------------------------- the run

def optuna_name(name: str) -> tuple[str, int | None]:
    """``optuna_<setting>`` (at ``--replicas``) or ``optuna_<setting>_R<R>``: the setting and R (None: --replicas)."""
    match = re.fullmatch(r"(.+?)(?:_R(\d+))?", name)
    base, replicas = match.group(1), match.group(2)
    if base not in OPTUNA_SETTINGS:
        raise ValueError(f"unknown Optuna setting {name!r}: one of {list(OPTUNA_SETTINGS)}, optionally with "
                         f"_R<replicas per trial> (e.g. optuna_tpe_R50)")
    return base, None if replicas is None else int(replicas)


def _optuna_choice(name: str) -> str:
    try:
        optuna_name(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name


def default_optuna() -> list[str]:
    """Every setting at ``--replicas``; at R = 50 (four times the trials, so
    most of the run time) TPE alone and with each pruner at min_resource H/6,
    reduction factor 3."""
    return list(OPTUNA_SETTINGS) + [f"{name}_R50" for name in R50_SETTINGS]


def optuna_runs(args) -> list[tuple[str, str, int]]:
    """``(name, setting, R)`` of every Optuna entry to run, without repeats:
    ``_R<R>`` equal to ``--replicas`` is the unsuffixed entry."""
    out, seen = [], set()
    for name in args.optuna:
        base, replicas = optuna_name(name)
        replicas = args.replicas if replicas is None else replicas
        if (base, replicas) in seen:
            continue
        seen.add((base, replicas))
        out.append((base if replicas == args.replicas else f"{base}_R{replicas}", base, replicas))
    return out


def usable_grid_replicas(sweep: Sweep, args) -> list[int]:
    """``--grid-replicas``; with ``--draw subsample`` those above the fewest
    recorded replicas of a period are skipped (with a message)."""
    values = sorted(set(args.grid_replicas))
    if args.draw != "subsample":
        return values
    fewest = min(fp.n_replicas for fp in sweep.runs.values())
    skipped = [r for r in values if r > fewest]
    if skipped:
        print(f"{sweep.protocol}: --draw subsample: grid and random skip R = {skipped} (a period has only "
              f"{fewest} recorded replicas)")
    kept = [r for r in values if r <= fewest]
    if not kept:
        raise ValueError(f"{sweep.protocol}: every --grid-replicas value exceeds the {fewest} recorded replicas "
                         f"(--draw subsample)")
    return kept


def pipeline_design_settings():
    """The pipeline's ``DesignSettings`` (config.yaml through
    :func:`fptopt.pipeline.config.design_settings`) and where they came from."""
    import yaml

    from fptopt.pipeline.config import design_settings, parse_config

    config = parse_config(yaml.safe_load(PIPELINE_CONFIG.read_text()), str(PIPELINE_CONFIG))
    return design_settings(config), _relative(PIPELINE_CONFIG)


def resolve_design(sweep: Sweep, args) -> FptoptDesign:
    """fptopt as the pipeline runs it: config.yaml's settings (``--rounds``
    overrides its rounds; with ``--draw subsample`` replica counts are capped
    at the fewest recorded)."""
    settings, origin = pipeline_design_settings()
    changes, source = {}, {"settings_from": origin}
    if args.rounds is not None:
        changes["rounds"] = args.rounds
        source["rounds_from"] = "--rounds"
    if args.draw == "subsample":
        fewest = min([sweep.baseline.n_replicas] + [fp.n_replicas for fp in sweep.runs.values()])
        for key in ("initial_replicas", "block", "settle_replicas", "max_replicas"):
            if getattr(settings, key) > fewest:
                changes[key] = fewest
                source["capped_at_recorded"] = fewest
    return FptoptDesign(dataclasses.replace(settings, **changes), source)


def compare(sweep: Sweep, args, protocol_index: int) -> tuple[dict, np.ndarray]:
    """Every method on one protocol, ``args.repeats`` times, judged on one
    budget grid; one entry per method, and the grid."""
    horizon, tau_star = sweep.horizon, args.tau_star
    if tau_star not in sweep.runs:
        raise ValueError(f"tau_star {tau_star} is not a recorded period of {sweep.protocol} ({sweep.taus})")
    grid_replicas = usable_grid_replicas(sweep, args)
    design = resolve_design(sweep, args)
    optuna_entries = optuna_runs(args)
    if args.draw == "subsample":
        fewest = min([sweep.baseline.n_replicas] + [fp.n_replicas for fp in sweep.runs.values()])
        asked = [r for _, _, r in optuna_entries]
        if any(r > fewest for r in asked):
            raise ValueError(f"--draw subsample needs R <= the recorded replicas ({fewest}), got R = {max(asked)}")
    pool = max([*grid_replicas, args.replicas, design.settings.max_replicas])
    runs = {f"{kind}_R{r}": [] for kind in ("grid", "random") for r in grid_replicas} | {"fptopt": []}
    fptopt_records = []
    for repeat in range(args.repeats):
        rng = np.random.default_rng([args.seed, protocol_index, repeat, 0])
        baseline, pools = draw_world(sweep, pool, rng, args.draw)
        order = [int(tau) for tau in rng.permutation(sweep.taus)]
        for replicas in grid_replicas:
            runs[f"grid_R{replicas}"].append(grid_steps(sweep, pools, replicas))
            runs[f"random_R{replicas}"].append(random_steps(sweep, pools, replicas, order))
        steps, records = fptopt_steps(sweep, baseline, pools, tau_star, design)
        runs["fptopt"].append(steps)
        fptopt_records.append((records, steps))
    spend = max(steps[-1][0] for steps_per_repeat in runs.values() for steps in steps_per_repeat)
    settings = {f"grid_R{r}": {"periods": len(sweep.taus), "replicas": r, "horizon": horizon} for r in grid_replicas}
    settings |= {f"random_R{r}": {"periods": f"k = 1..{len(sweep.taus)} drawn without replacement", "replicas": r}
                 for r in grid_replicas}
    settings["fptopt"] = {"tau_star": tau_star} | design.describe()
    stats = {"fptopt": fptopt_stats(fptopt_records)}
    _progress(sweep.protocol, "grid, random, fptopt", {n: max(st[-1][0] for st in s) for n, s in runs.items()},
              "spent (max)")
    for name, base, replicas in optuna_entries:
        runs[name], settings[name], stats[name] = optuna_method(sweep, args, protocol_index, base, replicas, spend)
        _progress(sweep.protocol, name, {name: max(s[-1][0] for s in runs[name])}, "spent (max)")
    low = min(steps[0][0] for steps_per_repeat in runs.values() for steps in steps_per_repeat if steps)
    budgets = budget_grid(low, spend, args.budget_points)
    judged = {}
    for name, steps_per_repeat in runs.items():
        judged[name] = summarize(budgets, regrets_at(sweep, steps_per_repeat, budgets), args.tolerance,
                                 args.share) | {"settings": settings[name]}
        if name in stats:
            judged[name]["stats"] = stats[name]
    results = {}
    for kind in ("grid", "random"):
        entries = {r: judged[f"{kind}_R{r}"] for r in grid_replicas}
        best = best_replicas(entries)
        results[kind] = dict(entries[best]) | {"settings": entries[best]["settings"] | {
            "replicas": best, "best_of_replicas": grid_replicas, "note": BEST_R_NOTE}}
    results |= {name: judged[name] for name in runs if name.startswith(("grid_R", "random_R"))}
    results |= {name: judged[name] for name in runs if not name.startswith(("grid_R", "random_R"))}
    _progress(sweep.protocol, "all methods", {n: e["replica_epochs_to_target"] for n, e in results.items()},
              "replica-epochs to target")
    return results, budgets


def best_replicas(entries: dict) -> int:
    """The R with the fewest replica-epochs to target (not reached counts last; ties: the smaller R)."""
    def key(replicas):
        spent = entries[replicas]["replica_epochs_to_target"]
        return (spent is None, spent or 0, replicas)

    return min(entries, key=key)


def fptopt_stats(repeats: list) -> dict:
    """What the design did: periods measured, replicas trained, rounds run,
    and whether its own ``replica_epochs`` agree with :func:`design_cost`."""
    final = [records[-1] for records, _ in repeats]
    replicas = [sum(r["replicas"].values()) + int(r["baseline_replicas"]) for r in final]
    return {"measured_periods_mean": float(np.mean([len(r["measured_taus"]) for r in final])),
            "measured_periods_max": int(max(len(r["measured_taus"]) for r in final)),
            "replicas_trained_mean": float(np.mean(replicas)),
            "rounds_run_mean": float(np.mean([len(records) - 1 for records, _ in repeats])),
            "spent_mean": float(np.mean([steps[-1][0] for _, steps in repeats])),
            "design_replica_epochs_agree": all(int(r["replica_epochs"]) == cost for records, steps in repeats
                                               for r, (cost, _) in zip(records, steps, strict=True))}


def optuna_method(sweep: Sweep, args, protocol_index: int, base: str, replicas: int, spend: int):
    """One Optuna setting at R replicas per trial, ``args.repeats`` studies,
    each run until it has spent ``spend`` (the budget grid's end): the steps,
    the settings and the stats."""
    setting = OPTUNA_SETTINGS[base]
    horizon = sweep.horizon
    runs, trials, capped = [], [], 0
    for repeat in range(args.repeats):
        sequence = np.random.SeedSequence([args.seed, protocol_index, repeat, 1 + list(OPTUNA_SETTINGS).index(base),
                                           replicas])
        rng = np.random.default_rng(sequence)
        sampler_seed = int(sequence.generate_state(1)[0])
        steps, study = optuna_steps(sweep, replicas, setting, spend, rng, sampler_seed, args.draw,
                                    f"{base}-R{replicas}-{sweep.protocol}-{repeat}", args.max_trials)
        runs.append(steps)
        trials.append(study)
        capped += int(steps[-1][0] < spend)
    contiguous = sweep.taus == list(range(sweep.taus[0], sweep.taus[-1] + 1))
    settings = {"sampler": "TPESampler (defaults)", "replicas_per_trial": replicas,
                "search_space": (f"suggest_int('tau', {sweep.taus[0]}, {sweep.taus[-1]}, log=True)" if contiguous else
                                 f"suggest_categorical('tau', {sweep.taus}) (the periods are not contiguous)"),
                "answer": "the tau with the lowest mean objective over the complete trials of that tau so far",
                "trials": f"added until the study has spent >= {spend} replica-epochs (the budget grid's end), "
                          f"at most {args.max_trials}",
                "intermediate_value": "restricted mean so far", "report_epochs": report_epochs(setting, horizon),
                "pruner": "NopPruner" if setting is None else
                {"sh": "SuccessiveHalvingPruner", "hb": "HyperbandPruner"}[setting[0]]}
    if setting is not None:
        settings |= {"min_resource": min_resource(setting, horizon),
                     "min_resource_rule": f"max(1, round(H / {setting[1]})), H = {horizon}",
                     "reduction_factor": setting[2]}
        if setting[0] == "hb":
            settings["max_resource"] = horizon
    flat = [t for study in trials for t in study]
    costs = np.array([cost for _, _, cost, _ in flat])
    pruned = np.array([value is None for _, value, _, _ in flat])
    counts = [len(study) for study in trials]
    stats = {"trials": int(costs.size), "trials_per_study_min": int(min(counts)),
             "trials_per_study_mean": float(np.mean(counts)), "trials_per_study_max": int(max(counts)),
             "pruned_share": float(pruned.mean()), "mean_trial_replica_epochs": float(costs.mean()),
             "mean_complete_trial_replica_epochs": float(costs[~pruned].mean()) if (~pruned).any() else None,
             "mean_pruned_trial_replica_epochs": float(costs[pruned].mean()) if pruned.any() else None,
             "spent_min": int(min(s[-1][0] for s in runs)), "trial_cap_hit": capped}
    if capped:
        stats["note"] = (f"{capped} of {args.repeats} studies stopped at max_trials = {args.max_trials} before "
                         f"spending the budget grid's end: their curve keeps its last answer")
    return runs, settings, stats


def _progress(protocol: str, label: str, values: dict, what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {protocol}: {label} done; {what}: {values}", flush=True)


def oracle_entry(sweeps: dict, args, source: str, synthetic: bool, meta: dict, budgets: dict) -> dict:
    any_sweep = next(iter(sweeps.values()))
    return {
        "source": source, "synthetic": synthetic, "horizon": any_sweep.horizon, "taus": any_sweep.taus,
        "replicas_per_trial": args.replicas, "grid_replicas": sorted(set(args.grid_replicas)),
        "repeats": args.repeats, "draw": args.draw, "seed": args.seed,
        "tau_star": args.tau_star, "target": meta.get("target"), "condition_prefix": args.condition_prefix,
        "min_recorded": args.min_recorded,
        "recorded_replicas": {p: {str(t): fp.n_replicas for t, fp in s.runs.items()} | {
            BASELINE: s.baseline.n_replicas} for p, s in sweeps.items()},
        "regret_tolerance": args.tolerance, "success_share": args.share,
        "target_rule": "replica_epochs_to_target: the smallest budget of the budget grid from which on, at every "
                       "larger budget of the grid, regret <= regret_tolerance in >= success_share of the repeats "
                       "(one function, budget_to_target, for every method)",
        "budget_grid": {p: {"low": int(b[0]), "high": int(b[-1]), "points": int(b.size),
                            "rule": f"np.unique(np.round(np.geomspace(low, high, {args.budget_points}))): low = the "
                                    "cheapest first answer of any method, high = the most any grid or random search "
                                    "or fptopt spent (every Optuna study runs until it has spent it)"}
                        for p, b in budgets.items()},
        "answer_at_budget": "the last answer a repeat gave with cumulative cost <= the budget; no answer yet "
                            "(Optuna before its first complete trial, a grid before its last period) = a miss",
        "curve_quantiles": "order statistics over repeats (numpy percentile, method='lower')",
        "cost_rule": COST_RULE,
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

PLOT_ROWS = (("grid, random (best R), TPE", lambda n: n in ("grid", "random") or n.startswith("optuna_tpe")),
             ("grid at each R", lambda n: n.startswith("grid_R")),
             ("random at each R", lambda n: n.startswith("random_R")),
             ("TPE + successive halving", lambda n: n.startswith("optuna_sh_")),
             ("TPE + Hyperband", lambda n: n.startswith("optuna_hb_")))


def plot(result: dict, out: Path) -> None:
    """Regret vs replica-epochs on the common budget grid: one column per
    protocol; rows: the best-R searches and plain TPE, the grid and random
    search at each R, then each pruner's settings; fptopt in every panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = list(result["methods"])
    rows = [(label, member) for label, member in PLOT_ROWS
            if any(member(n) for entries in result["methods"].values() for n in entries)]
    fig, axes = plt.subplots(len(rows), len(protocols), figsize=(5.2 * len(protocols), 3.3 * len(rows)),
                             squeeze=False, sharex=True, sharey=True)
    tolerance = result["oracle"]["regret_tolerance"]
    for column, protocol in enumerate(protocols):
        entries = result["methods"][protocol]
        for row, (label, member) in enumerate(rows):
            ax = axes[row][column]
            names = [n for n in entries if member(n) and n != "fptopt"]
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
            if row == len(rows) - 1:
                ax.set_xlabel("replica-epochs spent (Σ min(T_i, e))")
            if column == 0:
                ax.set_ylabel("regret (true MFPT / best − 1)")
    synthetic = " — SYNTHETIC oracle" if result["oracle"]["synthetic"] else ""
    fig.suptitle(f"Regret of the chosen period vs replica-epochs (replicas stop at first passage):\nmedian and "
                 f"10–90 % band over {result['oracle']['repeats']} repeats; dotted: {tolerance:.0%}{synthetic}",
                 fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _plot_curve(ax, rows, name: str, color) -> None:
    curve = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    budget, median, low, high = curve.T
    style = dict(color=color, lw=2.2 if name == "fptopt" else 1.2, label=name)
    sparse = np.isfinite(median).sum() <= 2  # a grid answers once, at its last period: a marker shows it
    ax.plot(budget, median, drawstyle="steps-post", marker="o" if sparse else None, ms=4, **style)
    ax.fill_between(budget, low, high, where=np.isfinite(low) & np.isfinite(high), color=color, alpha=0.13, lw=0,
                    step="post")


# ---------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truth", default=str(DEFAULT_TRUTH),
                        help="folder with first_passage.parquet (+ meta.json), or 'synthetic'")
    parser.add_argument("--protocols", nargs="+", help="protocols to compare (default: all in the sweep)")
    parser.add_argument("--replicas", type=int, help="R, replicas per Optuna trial (and per condition of a fixed-R "
                                                     "fptopt design; default: meta's replicas, else 200)")
    parser.add_argument("--grid-replicas", type=int, nargs="+",
                        help=f"R of the grid and of random search, each its own entry (default: {list(GRID_REPLICAS)}"
                             "; with --quick those <= --replicas)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--max-trials", type=int, default=MAX_TRIALS,
                        help="hard cap on an Optuna study's trials (it otherwise runs until it has spent the budget "
                             "grid's end)")
    parser.add_argument("--rounds", type=int,
                        help="fptopt's rounds after baseline + tau* (default: config.yaml's adaptive.rounds)")
    parser.add_argument("--tau-star", type=int, help="fptopt's first period (default: meta's tau_star)")
    parser.add_argument("--horizon", type=int, help="H (default: meta's horizon, else the largest time)")
    parser.add_argument("--condition-prefix", default="train_sweep",
                        help="with a condition column: the periodic rows of the sweep (see dense_rows)")
    parser.add_argument("--min-recorded", type=int, default=MIN_RECORDED,
                        help="refuse a sweep with a condition of fewer recorded replicas")
    parser.add_argument("--optuna", nargs="*", type=_optuna_choice,
                        help=f"Optuna entries: {list(OPTUNA_SETTINGS)} at --replicas, each optionally with _R<R> "
                             "for R replicas per trial (default: all at --replicas, plus "
                             f"{[n + '_R50' for n in R50_SETTINGS]}; with --quick, all at --replicas)")
    parser.add_argument("--draw", choices=("bootstrap", "subsample"), default="bootstrap")
    parser.add_argument("--budget-points", type=int, default=60, help="points of the common geometric budget grid")
    parser.add_argument("--tolerance", type=float, default=0.10, help="regret counted as near-best")
    parser.add_argument("--share", type=float, default=0.90, help="share of repeats that must be near-best")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: first protocol, R = 50, 4 repeats, grid/random at R <= 50, Optuna at R only")
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
        args.repeats = min(args.repeats, 4)
    if args.optuna is None:
        args.optuna = list(OPTUNA_SETTINGS) if args.quick else default_optuna()
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
    sweeps = build_sweeps(dense_rows(frame, args.condition_prefix), horizon, protocols, args.min_recorded)
    args.replicas = args.replicas or int(meta.get("replicas") or 200)
    if args.grid_replicas is None:
        args.grid_replicas = [r for r in GRID_REPLICAS if r <= args.replicas] if args.quick else list(GRID_REPLICAS)
        args.grid_replicas = args.grid_replicas or [args.replicas]
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
          f"R = {args.replicas} (Optuna), grid/random R = {sorted(set(args.grid_replicas))}, {args.repeats} repeats, "
          f"draw = {args.draw}, accounting = {ACCOUNTING}", flush=True)
    methods, budgets = {}, {}
    for index, (protocol, sweep) in enumerate(sweeps.items()):
        methods[protocol], budgets[protocol] = compare(sweep, args, index)
    add_multiples(methods)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "figure", "plot_only")}
    result = {"accounting": ACCOUNTING, "oracle": oracle_entry(sweeps, args, source, synthetic, meta, budgets),
              "methods": methods,
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
    with the multiple of fptopt's (and the R that grid and random chose after
    the fact): the table of docs/results.md."""
    protocols = list(result["methods"])
    names = list(dict.fromkeys(n for p in protocols for n in result["methods"][p]))
    lines = ["| method | " + " | ".join(protocols) + " |", "|---|" + "---|" * len(protocols)]
    for name in names:
        cells = []
        for protocol in protocols:
            entry = result["methods"][protocol].get(name)
            if entry is None:
                cells.append("—")
                continue
            spent, multiple = entry.get("replica_epochs_to_target"), entry.get("multiple_of_fptopt")
            notes = [] if multiple is None else [f"{multiple:.2g}×"]
            if "best_of_replicas" in entry.get("settings", {}):
                notes.append(f"R = {entry['settings']['replicas']}")
            cells.append(("not reached" if spent is None else f"{spent:,}") +
                         (f" ({', '.join(notes)})" if notes else ""))
        label = f"{name} (best R, after the fact)" if name in ("grid", "random") else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
