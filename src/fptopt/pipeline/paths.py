"""Where each stage's results live, shared by the Snakemake rules and the CLI."""

from __future__ import annotations

from pathlib import Path

from .jobs import n_blocks, protocol_config

BASELINE_BLOCK = "train_baseline/block{block}.parquet"
SINGLE_FREQUENCY_BLOCK = "train_single_frequency/{protocol}/block{block}.parquet"
SWEEP_BLOCK = "train_sweep/{protocol}/tau{tau}/block{block}.parquet"
SURVIVAL_DIR = "survival"
PREDICT_DIR = "predict/{protocol}"
DESIGN_ROUND = "design/{protocol}/round{round}.json"
VALIDATE_DIR = "validate/{protocol}"
FIGURES_DIR = "figures"
TABLES_DIR = "tables"


def _under(root, pattern: str, **fields) -> str:
    return str(Path(root) / pattern.format(**fields))


def baseline_blocks(config: dict, root="results") -> list[str]:
    return [_under(root, BASELINE_BLOCK, block=b) for b in range(n_blocks(config, "train_baseline"))]


def single_frequency_blocks(config: dict, protocol: str, root="results") -> list[str]:
    return [_under(root, SINGLE_FREQUENCY_BLOCK, protocol=protocol, block=b)
            for b in range(n_blocks(config, "train_single_frequency"))]


def sweep_blocks(config: dict, protocol: str, root="results", taus=None) -> dict[int, list[str]]:
    """Training blocks of the protocol at each period τ (default: its validation
    ``sweep_taus``). The adaptive design's frequencies and the dense grid of the
    regret target are trained by the same rule at the same paths."""
    taus = protocol_config(config, protocol)["sweep_taus"] if taus is None else taus
    blocks = range(n_blocks(config, "train_sweep"))
    return {int(tau): [_under(root, SWEEP_BLOCK, protocol=protocol, tau=tau, block=b) for b in blocks]
            for tau in taus}


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
    import json

    def saved(round_index):
        path = Path(design_round(protocol, round_index, root))
        return path if path.exists() else None

    record = saved if record is None else record
    plan: dict[int, int] = {}
    for round_index in range(config["adaptive"]["rounds"] if rounds is None else rounds):
        path = record(round_index)
        summary = None if path is None else json.loads(Path(path).read_text())
        if summary is None or summary["next_tau"] is None:
            break
        tau = int(summary["next_tau"])
        plan[tau] = plan.get(tau, 0) + int(summary["next_replicas"])
    return plan


def design_blocks(config: dict, protocol: str, plan: dict[int, int], root="results") -> dict[int, list[str]]:
    """The training blocks that hold the replicas of ``plan`` (:func:`design_plan`):
    the first ⌈n / replicas_per_job⌉ blocks of the periodic run at each τ."""
    per_job = config["training"]["replicas_per_job"]
    every = sweep_blocks(config, protocol, root, taus=sorted(plan))
    return {tau: every[tau][: -(-n // per_job)] for tau, n in sorted(plan.items())}


def design_round(protocol: str, round_index: int, root="results") -> str:
    """Summary of round ``round_index`` of the adaptive design (its ``next_tau``)."""
    return _under(root, DESIGN_ROUND, protocol=protocol, round=round_index)


def predict_dir(protocol: str, root="results") -> str:
    return _under(root, PREDICT_DIR, protocol=protocol)


def validate_dir(protocol: str, root="results") -> str:
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
             "single_survival": "single_frequency_survival.parquet", "single_summary": "single_frequency.json"}
    return {key: str(folder / name) for key, name in names.items()}


def validate_outputs(protocol: str = "{protocol}", root="results") -> dict[str, str]:
    """The validate stage's files by name (``{protocol}`` left as a wildcard by default)."""
    folder = Path(root) / VALIDATE_DIR.format(protocol=protocol)
    return {"validation": str(folder / "validation.parquet"), "measured": str(folder / "measured_survival.parquet")}
