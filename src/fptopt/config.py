"""Checks of a study config that a JSON schema cannot express.

The schema (``workflow/schemas/config.schema.yaml``) checks types and ranges;
here the names are checked against the registries and the periods against
the horizon, with messages naming the key, before any job runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from .data import DATASETS
from .models import MODELS
from .optim import OPTIMIZERS
from .protocols import PROTOCOLS

OBSERVABLES = {"classification": ("test_acc", "test_loss", "train_loss"),
               "regression": ("test_r2", "test_loss", "train_loss")}
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that cannot run; the message names the key."""


def _require_registered(key: str, name: str, registry: dict) -> None:
    if name not in registry:
        raise ConfigError(f"config key {key}: unknown name {name!r}; registered: {sorted(registry)}")


def horizon(config: dict) -> int:
    value = config["analysis"].get("horizon")
    return int(value) if value is not None else int(config["training"]["epochs"])


@cache
def _analysis_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["analysis"]["properties"]


def qss_settings(config: dict) -> dict:
    """Keyword arguments of :func:`fptopt.qss.detect_qss` from ``analysis.qss`` and
    ``analysis.confidence_level``; a key the config leaves out takes its schema default."""
    schema = _analysis_schema()
    settings = {key: entry["default"] for key, entry in schema["qss"]["properties"].items()}
    settings.update(config["analysis"].get("qss") or {})
    settings["confidence_level"] = config["analysis"].get("confidence_level",
                                                          schema["confidence_level"]["default"])
    return settings


def check_config(config: dict) -> dict:
    """Raise :class:`ConfigError` on the first inconsistent value; return ``config``."""
    _require_registered("data.name", config["data"]["name"], DATASETS)
    _require_registered("model.name", config["model"]["name"], MODELS)
    _require_registered("training.optimizer.name", config["training"]["optimizer"]["name"], OPTIMIZERS)
    epochs = config["training"]["epochs"]
    h = horizon(config)
    if h > epochs:
        raise ConfigError(f"config key analysis.horizon: {h} exceeds training.epochs = {epochs}")
    names = [p["name"] for p in config["protocols"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key protocols: names must be unique, got {names}")
    for index, entry in enumerate(config["protocols"]):
        key = f"protocols[{index}] ({entry['name']})"
        _require_registered(f"{key}.kind", entry["kind"], PROTOCOLS)
        if entry["tau_star"] >= h:
            raise ConfigError(f"config key {key}.tau_star: {entry['tau_star']} must be below the horizon {h}")
        late = [t for t in entry["sweep_taus"] if t >= epochs]
        if late:
            raise ConfigError(f"config key {key}.sweep_taus: periods {late} never act within {epochs} epochs")
    training = config["training"]
    if training.get("cuda_graph") and not str(training.get("device", "cpu")).startswith(("cuda", "auto")):
        raise ConfigError(f"config key training.cuda_graph: CUDA graphs need training.device cuda or auto, "
                          f"got {training.get('device', 'cpu')!r}")
    for key, default in (("streams", 1), ("compile", False)):
        if training.get(key, default) != default and training.get("engine", "vmap") != "loop":
            raise ConfigError(f"config key training.{key}: only training.engine 'loop' has it; "
                              f"got engine {training.get('engine', 'vmap')!r}")
    column = config["observable"]["column"]
    known = {c for cols in OBSERVABLES.values() for c in cols}
    if column not in known:
        raise ConfigError(f"config key observable.column: {column!r} is not recorded; recorded: {sorted(known)}")
    return config
