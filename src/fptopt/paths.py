"""Where each stage's results live, shared by the Snakemake rules and the CLI."""

from __future__ import annotations

from pathlib import Path

from .jobs import n_blocks, protocol_config

BASELINE_BLOCK = "train_baseline/block{block}.parquet"
SINGLE_FREQUENCY_BLOCK = "train_single_frequency/{protocol}/block{block}.parquet"
SWEEP_BLOCK = "train_sweep/{protocol}/tau{tau}/block{block}.parquet"
SURVIVAL_DIR = "survival"
PREDICT_DIR = "predict/{protocol}"
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


def sweep_blocks(config: dict, protocol: str, root="results") -> dict[int, list[str]]:
    taus = protocol_config(config, protocol)["sweep_taus"]
    blocks = range(n_blocks(config, "train_sweep"))
    return {tau: [_under(root, SWEEP_BLOCK, protocol=protocol, tau=tau, block=b) for b in blocks] for tau in taus}


def predict_dir(protocol: str, root="results") -> str:
    return _under(root, PREDICT_DIR, protocol=protocol)


def validate_dir(protocol: str, root="results") -> str:
    return _under(root, VALIDATE_DIR, protocol=protocol)
