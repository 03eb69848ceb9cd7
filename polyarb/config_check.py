# Checks polyarb.toml's raw table before it becomes a RunConfig: secret-looking keys, unknown
# keys (each named by its dotted path, with a close match when there is one) and floats where
# the engine wants exact numbers.
#
# Rules:
# 1. A message names the key, never its value: the value of a secret-looking key may be a
#    secret, and a value pasted under the wrong key may be one too.
# 2. The walk follows the msgspec Struct types of polyarb.config.RunConfig (nested Structs, and
#    `Struct | None`), so a field added to EngineConfig or its parts is known here at once.
# 3. Money, prices and sizes are exact: under [engine] a TOML float (0.04) is refused; write a
#    decimal string ("0.04") or an integer number of micro-units.
from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

_SECRET_WORDS = (
    "private_key", "privatekey", "privkey", "secret", "passphrase", "password", "passwd",
    "api_key", "apikey", "mnemonic", "seed_phrase", "seedphrase", "polymarket_",
)


class ConfigError(ValueError):
    """polyarb.toml (or an option) is not a valid config; the message names the key."""


def looks_secret(key: str) -> bool:
    """True when a config key's name suggests it holds a secret (rule 1)."""
    norm = key.lower().replace("-", "_")
    return any(word in norm for word in _SECRET_WORDS)


def walk(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) of a nested table, depth first, in file order."""
    for key, value in table.items():
        path = f"{prefix}{key}"
        yield path, value
        if isinstance(value, Mapping):
            yield from walk(value, path + ".")


def refuse_secrets(table: Mapping[str, Any], source: str) -> None:
    """Raise ConfigError naming the first secret-looking key (rule 1).

    Raises:
        ConfigError: a key such as `private_key` or `api_secret` is present.
    """
    for path, _ in walk(table):
        if looks_secret(path.rsplit(".", 1)[-1]):
            raise ConfigError(
                f"{source}: key '{path}' looks like a secret; polyarb never reads secrets from "
                "its config file. Set POLYMARKET_PRIVATE_KEY (and POLYMARKET_API_KEY, "
                "POLYMARKET_API_SECRET, POLYMARKET_API_PASSPHRASE) in the environment, or point "
                "[venue] credentials_file at a chmod-600 NAME=value file")


def _struct_of(tp: Any) -> type[msgspec.Struct] | None:
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        found = [t for t in typing.get_args(tp) if isinstance(t, type)
                 and issubclass(t, msgspec.Struct)]
        return found[0] if len(found) == 1 else None
    return None


def _fields(struct: type[msgspec.Struct]) -> dict[str, Any]:
    hints = typing.get_type_hints(struct)
    return {f.encode_name: hints[f.name] for f in msgspec.structs.fields(struct)}


def refuse_unknown(table: Mapping[str, Any], struct: type[msgspec.Struct], source: str,
                   prefix: str = "") -> None:
    """Raise ConfigError naming the first key `struct` (recursively) does not define.

    Raises:
        ConfigError: an unknown key, or a table where a value is expected (or the reverse).
    """
    fields = _fields(struct)
    for key, value in table.items():
        path = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: unknown key '{path}'{hint}; known keys here: {known}")
        inner = _struct_of(fields[key])
        if inner is not None and isinstance(value, Mapping):
            refuse_unknown(value, inner, source, path + ".")
        elif inner is not None and typing.get_origin(fields[key]) is None \
                and not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{path}' must be a table ([{path}])")


def refuse_floats(table: Mapping[str, Any], source: str, prefix: str) -> None:
    """Raise ConfigError naming the first float under `table` (rule 3).

    Raises:
        ConfigError: a TOML float where an exact number is needed.
    """
    for path, value in walk(table, prefix):
        if isinstance(value, float):
            raise ConfigError(
                f"{source}: '{path}' is a float; engine numbers are exact: write an integer "
                "(micro-units for *_micros, nanoseconds for *_ns) or a decimal string such as "
                "\"0.04\"")


def toml_problem(exc: ValueError | RecursionError) -> str:
    """What is wrong with a TOML (or JSON) text the parser refused, for a ConfigError.

    The parsers also raise plain ValueError (an integer of thousands of digits) and
    RecursionError (arrays nested thousands deep); those become errors like any other.
    """
    if isinstance(exc, RecursionError):
        return "values nested too deeply"
    return str(exc)


def describe_validation(exc: msgspec.ValidationError, source: str) -> ConfigError:
    """A ConfigError from msgspec's message, with `$.a.b` turned into the key path `a.b`."""
    text = str(exc)
    message, sep, where = text.rpartition(" - at `")
    if sep:
        path = where.rstrip("`").removeprefix("$").lstrip(".")
        return ConfigError(f"{source}: '{path}': {message}")
    return ConfigError(f"{source}: {text}")
