"""The study config: parsed once, with the schema's defaults, and checked.

The schema (``src/fptopt/schemas/config.schema.yaml``) is the one source of
truth for every key, its type, range and default: :func:`parse_config`
validates a config against it and fills in every default the config leaves
out, so code reads ``config["training"]["device"]``, never a second default.
:func:`check_config` adds what a schema cannot express (registered names,
periods against the horizon), with messages naming the key, before any job
runs.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml

from ..catalog import NAMES

OBSERVABLES = {"classification": ("test_acc", "test_loss", "train_loss"),
               "regression": ("test_r2", "test_loss", "train_loss")}
# Package data, so an installed wheel checks configs as a checkout does.
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that cannot run; the message names the key."""


@cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _validator_filling_defaults():
    """jsonschema's documented recipe: a validator that also sets each missing
    property's ``default`` (descending into objects, so nested defaults apply)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                resolved = property_schema
                if "$ref" in property_schema:
                    resolved = validator._resolver.lookup(property_schema["$ref"]).contents
                if "default" in resolved and name not in instance:
                    instance[name] = copy.deepcopy(resolved["default"])
        yield from validate_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def parse_config(config: dict, source: str = "config") -> dict:
    """Validate ``config`` against the schema, fill in every default, then
    :func:`check_config`; raise :class:`ConfigError` naming ``source`` and the key."""
    validator = _validator_filling_defaults()(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise ConfigError(f"{source}: config key {where}: {errors[0].message}")
    return check_config(config)


def _require_registered(key: str, name: str, names) -> None:
    if name not in names:
        raise ConfigError(f"config key {key}: unknown name {name!r}; registered: {sorted(names)}")


def horizon(config: dict) -> int:
    value = config["analysis"]["horizon"]
    return int(value) if value is not None else int(config["training"]["epochs"])


def qss_settings(config: dict) -> dict:
    """Keyword arguments of :func:`fptopt.stats.qss.detect_qss` from ``analysis.qss`` and
    ``analysis.confidence_level`` (defaults filled by :func:`parse_config`)."""
    return {**config["analysis"]["qss"], "confidence_level": config["analysis"]["confidence_level"]}


def check_config(config: dict) -> dict:
    """Raise :class:`ConfigError` on the first inconsistent value; return ``config``."""
    _require_registered("data.name", config["data"]["name"], NAMES["dataset"])
    _require_registered("model.name", config["model"]["name"], NAMES["model"])
    _require_registered("training.optimizer.name", config["training"]["optimizer"]["name"], NAMES["optimizer"])
    epochs = config["training"]["epochs"]
    h = horizon(config)
    if h > epochs:
        raise ConfigError(f"config key analysis.horizon: {h} exceeds training.epochs = {epochs}")
    names = [p["name"] for p in config["protocols"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key protocols: names must be unique, got {names}")
    for index, entry in enumerate(config["protocols"]):
        key = f"protocols[{index}] ({entry['name']})"
        _require_registered(f"{key}.kind", entry["kind"], NAMES["protocol"])
        if entry["tau_star"] >= h:
            raise ConfigError(f"config key {key}.tau_star: {entry['tau_star']} must be below the horizon {h}")
        late = [t for t in entry["sweep_taus"] if t >= epochs]
        if late:
            raise ConfigError(f"config key {key}.sweep_taus: periods {late} never act within {epochs} epochs")
        _check_schedules(key, entry["schedules"], h)
    training = config["training"]
    if training["cuda_graph"] and not str(training["device"]).startswith(("cuda", "auto")):
        raise ConfigError(f"config key training.cuda_graph: CUDA graphs need training.device cuda or auto, "
                          f"got {training['device']!r}")
    for key, default in (("streams", 1), ("compile", False)):
        if training[key] != default and training["engine"] != "loop":
            raise ConfigError(f"config key training.{key}: only training.engine 'loop' has it; "
                              f"got engine {training['engine']!r}")
    adaptive = config["adaptive"]
    from .jobs import stage_replicas

    if adaptive["max_replicas"] > stage_replicas(config, "train_sweep"):
        raise ConfigError(f"config key adaptive.max_replicas: {adaptive['max_replicas']} exceeds the replicas a "
                          f"periodic run has (training.sweep_replicas or replicas = "
                          f"{stage_replicas(config, 'train_sweep')})")
    dense = config["regret"]["replicas"]
    if dense is not None and dense < stage_replicas(config, "train_sweep"):
        raise ConfigError(f"config key regret.replicas: {dense} is fewer than a periodic run has "
                          f"({stage_replicas(config, 'train_sweep')}, training.sweep_replicas or replicas), "
                          "whose blocks the dense grid reuses; expected at least that many, or null")
    if not training["replicas"] <= adaptive["settle_replicas"] <= adaptive["max_replicas"]:
        raise ConfigError(f"config key adaptive.settle_replicas: {adaptive['settle_replicas']} must lie between "
                          f"training.replicas ({training['replicas']}) and adaptive.max_replicas "
                          f"({adaptive['max_replicas']})")
    column = config["observable"]["column"]
    known = {c for cols in OBSERVABLES.values() for c in cols}
    if column not in known:
        raise ConfigError(f"config key observable.column: {column!r} is not recorded; recorded: {sorted(known)}")
    return config


def _check_schedules(key: str, schedules: list, h: int) -> None:
    from .jobs import schedule_label

    for index, schedule in enumerate(schedules):
        epochs = schedule.get("epochs")
        if epochs is not None:
            if any(b <= a for a, b in zip(epochs, epochs[1:], strict=False)):  # neighbours
                raise ConfigError(f"config key {key}.schedules[{index}].epochs: expected strictly increasing "
                                  f"epochs, got {epochs}")
            if epochs[0] >= h:
                raise ConfigError(f"config key {key}.schedules[{index}].epochs: {epochs} never act before the "
                                  f"horizon {h}")
    labels = [schedule_label(s) for s in schedules]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"config key {key}.schedules: each schedule must be listed once, got {labels}")


def design_settings(config: dict):
    """The adaptive design's :class:`fptopt.stats.design.DesignSettings` from
    ``training`` (initial replicas, the block a round adds) and ``adaptive``."""
    from ..stats.design import DesignSettings

    adaptive, training = config["adaptive"], config["training"]
    return DesignSettings(initial_replicas=int(training["replicas"]), block=int(training["replicas_per_job"]),
                          max_replicas=int(adaptive["max_replicas"]), settle_replicas=int(adaptive["settle_replicas"]),
                          rounds=int(adaptive["rounds"]), tolerance=float(adaptive["tolerance"]),
                          confidence=float(adaptive["confidence"]), trust_ratio=float(adaptive["trust_ratio"]),
                          explore_below=bool(adaptive["explore_below"]))
