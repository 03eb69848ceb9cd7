# Loading an EngineConfig for `polyarb replay`: from a `--config` file (TOML or JSON) or from the
# `config` a run journaled in its `run_started` record.
#
# Rules:
# 1. A file maps onto EngineConfig's fields: top-level keys for its scalars, nested tables
#    `[detection]`, `[breaker]`, `[risk]`, `[execution]` (and `[execution.unwind]`). A whole
#    polyarb.toml (an `[engine]` table, or any of the run's own tables such as `[run]` or
#    `[venue]`) is read by polyarb.config, the run's own loader, and its engine section used:
#    the other tables configure the shell, which replay does not run.
# 2. Unknown keys are errors naming the key and where it is (msgspec's forbid_unknown_fields);
#    so are wrong types and out-of-range values. Floats are refused: every amount is an integer
#    in micro-units or basis points, and a decimal (a fee rate) is written as a string ("0.02"),
#    so a config never smuggles binary rounding into the core.
# 3. A journaled config is the run's whole config (polyarb.config.RunConfig.canonical_json(),
#    its engine under "engine", read with polyarb.config.engine_config_of) or, from older or
#    hand-written journals, a bare EngineConfig.canonical_json().
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from polyarb import config as run_config
from polyarb.config_check import toml_problem
from polyarb.core.config import EngineConfig

# The run config's own tables: a file with any of them is a whole polyarb.toml (rule 1).
_RUN_TABLES = frozenset(run_config.RunConfig.__struct_fields__)


class ConfigError(ValueError):
    """A config file or a journaled config that is not a valid EngineConfig (message says why)."""


def load_engine_config(path: Path | str) -> EngineConfig:
    """Read an EngineConfig from a `.toml` or `.json` file (rules 1-2).

    Raises:
        ConfigError: missing or unreadable file, bad syntax, unknown key, wrong type or value.
    """
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text.decode("utf-8"))
            if isinstance(data, dict) and _RUN_TABLES & set(data):
                return _run_config_engine(text.decode("utf-8"), str(p))
        elif suffix == ".json":
            data = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
        else:
            raise ConfigError(f"{p}: config must be a .toml or .json file")
    except ConfigError:
        raise
    except _FloatFound as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # bad syntax or UTF-8, a huge int, [[[[...
        raise ConfigError(f"{p}: not valid {suffix[1:].upper()}: {toml_problem(exc)}") from None
    return engine_config_from(data, source=str(p))


def _run_config_engine(text: str, source: str) -> EngineConfig:
    try:
        return run_config.parse_config(text, source).engine
    except run_config.ConfigError as exc:
        raise ConfigError(str(exc)) from None


def engine_config_from(data: Any, *, source: str) -> EngineConfig:
    """Convert parsed TOML/JSON data to an EngineConfig (rules 1-2).

    Raises:
        ConfigError: naming `source` and the offending key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a table of settings")
    if isinstance(data.get("engine"), dict):
        data = data["engine"]  # a whole run config given as JSON
    where = _find_float(data, "$")
    if where is not None:
        raise ConfigError(f"{source}: a float at `{where}`: write amounts as integers (micros, "
                          "bps, ns) and decimals as strings, e.g. \"0.02\"")
    try:
        return msgspec.convert(data, EngineConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def config_from_journal(raw: bytes, seq: int) -> EngineConfig:
    """The EngineConfig a `run_started` record journaled (empty: the defaults).

    Accepts EngineConfig.canonical_json(), or a whole run config with an `engine` member.

    Raises:
        ConfigError: the journaled config is not an EngineConfig.
    """
    if not raw:
        return EngineConfig()
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"run_started at seq {seq}: config is not JSON: {exc}") from None
    if isinstance(data, dict) and "engine" in data:
        try:
            return run_config.engine_config_of(raw)
        except run_config.ConfigError as exc:
            raise ConfigError(f"run_started at seq {seq}: {exc}") from None
    return engine_config_from(data, source=f"run_started at seq {seq}")


class _FloatFound(ValueError):
    pass


def _refuse_float(text: str) -> Any:
    raise _FloatFound(f"a float ({text}): write amounts as integers and decimals as strings")


def _refuse_constant(text: str) -> Any:
    raise _FloatFound(f"{text} is not a number a config can hold")


def _find_float(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return path
    if isinstance(value, dict):
        for key in sorted(value):
            found = _find_float(value[key], f"{path}.{key}")
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _find_float(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None
