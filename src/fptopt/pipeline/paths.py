"""Where each stage's results live: the one source of every path the Snakemake
rules and the ``fptopt`` commands read or write.

A function called without its fields gives the rule's pattern (``{protocol}``,
``{tau}``, ``{block}``, ``{round}`` left as wildcards). Inputs grouped by
period travel between a rule and its script under names made and read back
here (:func:`by_tau_inputs`, :func:`by_tau_from_inputs`), never by parsing a
path. A result's log and benchmark files sit at the same relative path under
``logs/`` and ``benchmarks/`` (:func:`log_of`, :func:`benchmark_of`).
"""

from __future__ import annotations

from pathlib import Path

from .jobs import n_blocks, protocol_config, schedule_from_input_key, schedule_input_key, schedule_label

BASELINE_BLOCK = "train_baseline/block{block}.parquet"
SINGLE_FREQUENCY_BLOCK = "train_single_frequency/{protocol}/block{block}.parquet"
SWEEP_BLOCK = "train_sweep/{protocol}/tau{tau}/block{block}.parquet"
SCHEDULE_BLOCK = "train_schedule/{protocol}/{schedule}/block{block}.parquet"
DENSE_BLOCK = "train_dense/{protocol}/tau{tau}/block{block}.parquet"
SURVIVAL_DIR = "survival"
PREDICT_DIR = "predict/{protocol}"
DESIGN_ROUND = "design/{protocol}/round{round}.json"
VALIDATE_DIR = "validate/{protocol}"
FIGURES_DIR = "figures"
TABLES_DIR = "tables"
REGRET_DIR = "regret"
FIGURE_NAMES = ("trajectories", "survival", "qss_evidence", "response", "mfpt_vs_tau", "accuracy_vs_tau",
                "predicted_vs_measured")
FIGURE_FORMATS = ("png", "pdf")
TABLE_NAMES = ("validation", "optimum", "design", "recommendation")
TABLE_FORMATS = ("csv", "md")


def _under(root, pattern: str, **fields) -> str:
    return str(Path(root) / pattern.format(**fields))


def baseline_block(block="{block}", root="results") -> str:
    return _under(root, BASELINE_BLOCK, block=block)


def single_frequency_block(protocol="{protocol}", block="{block}", root="results") -> str:
    return _under(root, SINGLE_FREQUENCY_BLOCK, protocol=protocol, block=block)


def sweep_block(protocol="{protocol}", tau="{tau}", block="{block}", root="results") -> str:
    return _under(root, SWEEP_BLOCK, protocol=protocol, tau=tau, block=block)


def schedule_block(protocol="{protocol}", schedule="{schedule}", block="{block}", root="results") -> str:
    return _under(root, SCHEDULE_BLOCK, protocol=protocol, schedule=schedule, block=block)


def dense_block(protocol="{protocol}", tau="{tau}", block="{block}", root="results") -> str:
    return _under(root, DENSE_BLOCK, protocol=protocol, tau=tau, block=block)


def log_of(result, root="results") -> str:
    """The log of the job that writes ``result``: ``logs/<its path under root>.log``."""
    return str(Path("logs") / Path(result).relative_to(root).with_suffix(".log"))


def benchmark_of(result, root="results") -> str:
    """Snakemake's ``benchmark:`` file (wall time, memory) of the job that writes ``result``."""
    return str(Path("benchmarks") / Path(result).relative_to(root).with_suffix(".tsv"))


def by_tau_inputs(name: str, by_tau: dict[int, list]) -> dict[str, list]:
    """``{τ: [files]}`` as named inputs ``{name}_tau{τ}`` (a rule's ``unpack``)."""
    return {f"{name}_tau{int(tau)}": list(files) for tau, files in sorted(by_tau.items())}


def by_tau_from_inputs(inputs, name: str) -> dict[int, list[str]]:
    """The inverse of :func:`by_tau_inputs` on a rule's named inputs (any mapping)."""
    prefix = f"{name}_tau"
    return {int(key[len(prefix):]): [str(f) for f in inputs[key]]
            for key in inputs.keys() if key.startswith(prefix) and key[len(prefix):].isdigit()}


def figure_files(root="results", formats=FIGURE_FORMATS) -> list[str]:
    return [str(Path(root) / FIGURES_DIR / f"{name}.{ext}") for name in FIGURE_NAMES for ext in formats]


def table_files(root="results", formats=TABLE_FORMATS) -> list[str]:
    return [str(Path(root) / TABLES_DIR / f"{name}.{ext}") for name in TABLE_NAMES for ext in formats]


def baseline_blocks(config: dict, root="results") -> list[str]:
    return [baseline_block(b, root) for b in range(n_blocks(config, "train_baseline"))]


def single_frequency_blocks(config: dict, protocol: str, root="results") -> list[str]:
    return [single_frequency_block(protocol, b, root) for b in range(n_blocks(config, "train_single_frequency"))]


def sweep_blocks(config: dict, protocol: str, root="results", taus=None) -> dict[int, list[str]]:
    """Training blocks of the protocol at each period τ (default: its validation
    ``sweep_taus``). The adaptive design's frequencies and the dense grid of the
    regret target are trained by the same rule at the same paths."""
    taus = protocol_config(config, protocol)["sweep_taus"] if taus is None else taus
    blocks = range(n_blocks(config, "train_sweep"))
    return {int(tau): [sweep_block(protocol, tau, b, root) for b in blocks] for tau in taus}


def dense_blocks(config: dict, protocol: str, taus, root="results") -> dict[int, list[str]]:
    """The regret grid's replicas beyond a periodic run's (``regret.replicas``), by
    period: train_dense blocks; no entries when the grid wants no more."""
    blocks = range(n_blocks(config, "train_dense"))
    return {int(tau): [dense_block(protocol, tau, b, root) for b in blocks] for tau in taus} if blocks else {}


def schedule_blocks(config: dict, protocol: str, root="results") -> dict[str, list[str]]:
    """Training blocks of each configured schedule of the protocol, by label
    (:func:`fptopt.pipeline.jobs.schedule_label`), in config order."""
    blocks = range(n_blocks(config, "train_schedule"))
    return {label: [schedule_block(protocol, label, b, root) for b in blocks]
            for label in map(schedule_label, protocol_config(config, protocol)["schedules"])}


def schedule_inputs(by_label: dict[str, list]) -> dict[str, list]:
    """``{label: [files]}`` as named inputs ``schedule{i}`` (i: the schedule's
    place in the config; a label is not an identifier)."""
    return {f"schedule{i}": list(files) for i, files in enumerate(by_label.values())}


def schedules_from_inputs(config: dict, protocol: str, inputs) -> dict[str, list[str]]:
    """The inverse of :func:`schedule_inputs` on a rule's named inputs."""
    labels = [schedule_label(s) for s in protocol_config(config, protocol)["schedules"]]
    return {label: [str(f) for f in inputs[f"schedule{i}"]] for i, label in enumerate(labels)}


def _design_records(config: dict, protocol: str, root, rounds, record):
    """The round summaries of the design in order, up to and including the
    first that asks for no period (``next_tau`` null), or to a missing one."""
    import json

    def saved(round_index):
        path = Path(design_round(protocol, round_index, root))
        return path if path.exists() else None

    record = saved if record is None else record
    for round_index in range(config["adaptive"]["rounds"] if rounds is None else rounds):
        path = record(round_index)
        if path is None:
            return
        summary = json.loads(Path(path).read_text())
        yield summary
        if summary["next_tau"] is None:
            return


def design_plan(config: dict, protocol: str, root="results", rounds: int | None = None,
                record=None) -> dict[int, int]:
    """The periodic replicas the adaptive design asked for in its first
    ``rounds`` rounds (default ``adaptive.rounds``), as ``{τ: replicas}``:
    each round's ``next_replicas`` at its ``next_tau`` (a new period, or more
    replicas of one measured already; at τ* they come on top of the τ* run's
    own), until a round asks for nothing. ``record(round_index)`` gives a
    round's summary file, or ``None`` when it is missing (then the plan ends
    there); by default the file under ``root``. The rules pass a reader that
    asks Snakemake's checkpoint for it."""
    plan: dict[int, int] = {}
    for summary in _design_records(config, protocol, root, rounds, record):
        if summary["next_tau"] is not None:
            tau = int(summary["next_tau"])
            plan[tau] = plan.get(tau, 0) + int(summary["next_replicas"])
    return plan


def design_schedule_plan(config: dict, protocol: str, root="results", rounds: int | None = None,
                         record=None) -> dict[str, int]:
    """The schedule the design asked for once its periods were settled, as
    ``{label: replicas}`` (empty when it asked for none): the ``next_schedule``
    of the round that ends the plan (:func:`design_plan`'s arguments)."""
    plan: dict[str, int] = {}
    for summary in _design_records(config, protocol, root, rounds, record):
        if summary["next_tau"] is None and summary.get("next_schedule"):
            plan[summary["next_schedule"]] = int(summary["next_schedule_replicas"])
    return plan


def design_blocks(config: dict, protocol: str, plan: dict[int, int], root="results") -> dict[int, list[str]]:
    """The training blocks that hold the replicas of ``plan`` (:func:`design_plan`):
    the first ⌈n / replicas_per_job⌉ blocks of the periodic run at each τ."""
    per_job = config["training"]["replicas_per_job"]
    every = sweep_blocks(config, protocol, root, taus=sorted(plan))
    return {tau: every[tau][: -(-n // per_job)] for tau, n in sorted(plan.items())}


def design_round(protocol="{protocol}", round_index="{round}", root="results") -> str:
    """Summary of round ``round_index`` of the adaptive design (its ``next_tau``)."""
    return _under(root, DESIGN_ROUND, protocol=protocol, round=round_index)


def predict_dir(protocol="{protocol}", root="results") -> str:
    return _under(root, PREDICT_DIR, protocol=protocol)


def validate_dir(protocol="{protocol}", root="results") -> str:
    return _under(root, VALIDATE_DIR, protocol=protocol)


def figure_inputs(config: dict, root="results") -> dict:
    """Every file the figures are drawn from, by name: the figures rule's input
    (``unpack``) and ``fptopt figures`` alike."""
    names = [entry["name"] for entry in config["protocols"]]
    root = Path(root)

    def per_protocol(folder, name):
        return [str(Path(folder(protocol, root)) / name) for protocol in names]

    return {"baseline": baseline_blocks(config, root),
            "single": single_frequency_blocks(config, names[0], root),
            "survival": str(root / SURVIVAL_DIR / "survival.parquet"),
            "single_survivals": per_protocol(predict_dir, "single_frequency_survival.parquet"),
            "qss": str(root / SURVIVAL_DIR / "qss.json"),
            "distance": str(root / SURVIVAL_DIR / "qss_distance.parquet"),
            "predictions": per_protocol(predict_dir, "prediction.csv"),
            "summaries": per_protocol(predict_dir, "summary.json"),
            "responses": per_protocol(predict_dir, "response.parquet"),
            "validations": per_protocol(validate_dir, "validation.parquet")}


def table_inputs(config: dict, root="results") -> dict:
    """Every file the summary tables are made from, by name: the tables rule's
    input (``unpack``) and ``fptopt tables`` alike."""
    names = [entry["name"] for entry in config["protocols"]]
    return {"validations": [str(Path(validate_dir(n, root)) / "validation.parquet") for n in names],
            "summaries": [str(Path(predict_dir(n, root)) / "summary.json") for n in names],
            "rounds": [design_round(n, r, root) for n in names for r in range(config["adaptive"]["rounds"])]}


def survival_outputs(root="results") -> dict[str, str]:
    """The survival stage's files by name: the rule's ``output`` and ``fptopt survival`` alike."""
    folder = Path(root) / SURVIVAL_DIR
    return {"first_passage": str(folder / "first_passage.parquet"), "survival": str(folder / "survival.parquet"),
            "distance": str(folder / "qss_distance.parquet"), "qss": str(folder / "qss.json")}


def predict_outputs(protocol: str = "{protocol}", root="results") -> dict[str, str]:
    """The predict stage's files by name (``{protocol}`` left as a wildcard by default)."""
    folder = Path(root) / PREDICT_DIR.format(protocol=protocol)
    names = {"prediction": "prediction.csv", "survival": "prediction_survival.csv", "summary": "summary.json",
             "response": "response.parquet", "renewal": "renewal.parquet", "closure": "closure.parquet",
             "schedules": "schedules.csv", "schedules_survival": "schedules_survival.csv",
             "schedule_search": "schedule_search.csv",
             "single_survival": "single_frequency_survival.parquet", "single_summary": "single_frequency.json"}
    return {key: str(folder / name) for key, name in names.items()}


def validate_outputs(protocol: str = "{protocol}", root="results") -> dict[str, str]:
    """The validate stage's files by name (``{protocol}`` left as a wildcard by default)."""
    folder = Path(root) / VALIDATE_DIR.format(protocol=protocol)
    return {"validation": str(folder / "validation.parquet"), "measured": str(folder / "measured_survival.parquet")}


def regret_outputs(root="results") -> dict[str, str]:
    """The regret target's files by name: the dense truth under ``regret/`` and its two tables."""
    folder, tables = Path(root) / REGRET_DIR, Path(root) / TABLES_DIR
    return {"first_passage": str(folder / "first_passage.parquet"), "dense_mfpt": str(folder / "dense_mfpt.parquet"),
            "table": str(tables / "regret.csv"), "markdown": str(tables / "regret.md"),
            "check_table": str(tables / "prediction_check.csv"), "check_markdown": str(tables / "prediction_check.md")}


def design_inputs(config: dict, protocol: str, plan: dict[int, int], root="results",
                  schedule_plan: dict[str, int] | None = None) -> dict[str, list]:
    """A design round's or the predict rule's inputs by name: ``baseline``, ``single``
    (the τ* run), the blocks of ``plan`` as ``design_tau{τ}`` and those of
    ``schedule_plan`` (:func:`design_schedule_plan`) as ``design_schedule_<key>``
    (:func:`design_from_inputs`)."""
    per_job = config["training"]["replicas_per_job"]
    schedules = {f"design_schedule_{schedule_input_key(label)}":
                 [schedule_block(protocol, label, b, root) for b in range(-(-n // per_job))]
                 for label, n in sorted((schedule_plan or {}).items())}
    return {"baseline": baseline_blocks(config, root), "single": single_frequency_blocks(config, protocol, root),
            **by_tau_inputs("design", design_blocks(config, protocol, plan, root)), **schedules}


def design_from_inputs(inputs) -> dict:
    """The keyword arguments of the design stages from :func:`design_inputs`' names."""
    prefix = "design_schedule_"
    return {"baseline_paths": [str(f) for f in inputs["baseline"]], "single_paths": [str(f) for f in inputs["single"]],
            "design_paths": by_tau_from_inputs(inputs, "design"),
            "design_schedule_paths": {schedule_from_input_key(key[len(prefix):]): [str(f) for f in inputs[key]]
                                      for key in inputs.keys() if key.startswith(prefix)}}


def validate_inputs(config: dict, protocol: str, root="results") -> dict:
    """The validate rule's inputs by name; the swept blocks as ``sweep_tau{τ}``."""
    predicted = predict_outputs(protocol, root)
    return {"prediction": predicted["prediction"], "survival": predicted["survival"],
            "schedules": predicted["schedules"], "schedules_survival": predicted["schedules_survival"],
            "baseline": baseline_blocks(config, root),
            **by_tau_inputs("sweep", sweep_blocks(config, protocol, root)),
            **schedule_inputs(schedule_blocks(config, protocol, root))}


def validate_from_inputs(config: dict, protocol: str, inputs) -> dict:
    """The keyword arguments of the validate stage from :func:`validate_inputs`' names."""
    return {"prediction_path": str(inputs["prediction"]), "prediction_survival_path": str(inputs["survival"]),
            "schedules_path": str(inputs["schedules"]), "schedules_survival_path": str(inputs["schedules_survival"]),
            "sweep_paths": by_tau_from_inputs(inputs, "sweep"), "baseline_paths": [str(f) for f in inputs["baseline"]],
            "schedule_paths": schedules_from_inputs(config, protocol, inputs)}


def regret_inputs(config: dict, root="results") -> dict:
    """The regret rule's inputs by name: the baseline, and per protocol its τ* run
    (``single_<protocol>``), every dense period (``dense_<protocol>_tau{τ}``: the
    periodic run's blocks; ``extra_<protocol>_tau{τ}``: the train_dense blocks
    beyond them, when ``regret.replicas`` asks for more), its prediction and its
    summary (:func:`regret_from_inputs`)."""
    dense_taus = range(1, config["regret"]["max_tau"] + 1)
    inputs: dict = {"baseline": baseline_blocks(config, root)}
    for name in (entry["name"] for entry in config["protocols"]):
        predicted = predict_outputs(name, root)
        inputs |= {f"single_{name}": single_frequency_blocks(config, name, root),
                   f"summary_{name}": predicted["summary"], f"prediction_{name}": predicted["prediction"],
                   **by_tau_inputs(f"dense_{name}", sweep_blocks(config, name, root, taus=dense_taus)),
                   **by_tau_inputs(f"extra_{name}", dense_blocks(config, name, dense_taus, root))}
    return inputs


def regret_from_inputs(config: dict, inputs) -> dict:
    """The keyword arguments of the regret stage from :func:`regret_inputs`' names."""
    names = [entry["name"] for entry in config["protocols"]]
    return {"baseline_paths": [str(f) for f in inputs["baseline"]],
            "single_paths": {n: [str(f) for f in inputs[f"single_{n}"]] for n in names},
            "dense_paths": {n: by_tau_from_inputs(inputs, f"dense_{n}") for n in names},
            "extra_paths": {n: by_tau_from_inputs(inputs, f"extra_{n}") for n in names},
            "summary_paths": {n: str(inputs[f"summary_{n}"]) for n in names},
            "prediction_paths": {n: str(inputs[f"prediction_{n}"]) for n in names}}
