# Loading an EngineConfig for `polyarb replay`: from a `--config` file (TOML or JSON) or from the
# `config` a run journaled in its `run_started` record.
#
# Rules:
# 1. A file maps onto EngineConfig's fields: top-level keys for its scalars, nested tables
#    `[detection]`, `[breaker]`, `[risk]`, `[execution]` (and `[execution.unwind]`). A file with
#    an `[engine]` table (a whole polyarb.toml) uses that table only: the other tables configure
#    the shell (venue, journal), which replay does not run.
# 2. Unknown keys are errors naming the key and where it is (msgspec's forbid_unknown_fields);
#    so are wrong types and out-of-range values. Floats are refused: every amount is an integer
#    in micro-units or basis points, and a decimal (a fee rate) is written as a string ("0.02"),
#    so a config never smuggles binary rounding into the core.
# 3. This is a small loader of its own: polyarb/config.py (the run's polyarb.toml) did not exist
#    when replay was written. Switch to its engine-section loader once it does.
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from polyarb.core.config import EngineConfig


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
        elif suffix == ".json":
            data = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
        else:
            raise ConfigError(f"{p}: config must be a .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {suffix[1:].upper()}: {exc}") from None
    except _FloatFound as exc:
        raise ConfigError(f"{p}: {exc}") from None
    return engine_config_from(data, source=str(p))


def engine_config_from(data: Any, *, source: str) -> EngineConfig:
    """Convert parsed TOML/JSON data to an EngineConfig (rules 1-2).

    Raises:
        ConfigError: naming `source` and the offending key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a table of settings")
    if isinstance(data.get("engine"), dict):
        data = data["engine"]
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
