# Fuzzing config loading: any TOML text, any value under any known (or unknown) key, any file
# bytes, any journaled config -> a valid config or the project's own ConfigError naming the key;
# never a traceback of another type. A config that loads can be journaled and run (canonical
# JSON, hash, an Engine).
#
# Rules: documents are built by a small TOML emitter from generated tables, so most of them
# parse and reach the value checks (random text rarely gets past the TOML parser); the known
# keys are walked from RunConfig's own types, so a new field is fuzzed at once. Settings from
# strategies.fuzz.
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from polyarb import replay_config
from polyarb.cli import app
from polyarb.config import ConfigError, RunConfig, engine_config_of, load_config, parse_config
from polyarb.config_check import _fields, _struct_of
from polyarb.core.engine import Engine
from polyarb.events.inputs import ClockTick
from tests.fuzz.strategies import JSON, ODD_TEXT, encodable, fuzz


def _paths(struct: type[msgspec.Struct], prefix: str = "") -> Iterator[str]:
    for key, tp in _fields(struct).items():
        inner = _struct_of(tp)
        if inner is None:
            yield prefix + key
        else:
            yield prefix + key
            yield from _paths(inner, f"{prefix}{key}.")


KNOWN = sorted(_paths(RunConfig))
PATHS = st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(["run.nope", "engine.detection.min_margin", "venue.api_key", "secret",
                     "engine.risk.password", "nope", "engine.detection.fees_override.extra"]),
)


class Raw(str):
    """A TOML literal written as is (datetimes, inf, hex ints, ...)."""


RAW_LITERALS = st.one_of(st.sampled_from([
    "1979-05-27T07:32:00Z", "07:32:00", "1979-05-27", "inf", "-inf", "nan", "0x10", "0o7",
    "0b1", "1_000", "+1", "-0", "1e400", "9223372036854775808", "-9223372036854775809",
]), st.builds(lambda: "1" * 4400)).map(Raw)  # (an int Python refuses to convert)
TEXTS = st.one_of(ODD_TEXT, st.sampled_from([
    "http://u:p@host:99999", "http://[::1", "https://", "ws://h:0", "wss://h:-1", "http://h:65536",
    "0x" + "a" * 64, "0x" + "g" * 64, "1e999999999", "NaN", "-1", "0.04", "sNaN", "Infinity",
    "disconnect=0.5", "http503=2", "bogus=1", "disconnect=nan", "disconnect=1e400,,", "=",
    "FOK", "GTD", "sim", "live", "batch", "",
]))
VALUES = st.recursive(
    st.one_of(st.integers(), st.integers(-(2**70), 2**70), st.booleans(), TEXTS,
              st.floats(), RAW_LITERALS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["a", "rate", "seed", "min_margin_bps", "detection"]), inner, max_size=3),
    max_leaves=6,
)


def _toml_str(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A TOML literal (inline tables for dicts)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else {float("inf"): "inf", float("-inf"): "-inf"}.get(
            value, repr(value))
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_str(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(entries: list[tuple[str, Any]]) -> str:
    """Dotted keys at the top level: `engine.risk.min_order_size_micros = 5`."""
    seen: set[str] = set()
    lines = []
    for path, value in entries:
        if any(path.startswith(p + ".") or p.startswith(path + ".") or p == path for p in seen):
            continue  # TOML refuses redefinitions; the parser tests cover those below
        seen.add(path)
        key = ".".join(_toml_str(part) for part in path.split("."))
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def _names_a_key(message: str, paths: list[str]) -> bool:
    return any(part and part in message for p in paths for part in p.split("."))


def _usable(config: RunConfig) -> None:
    """A config that loaded can be journaled (RunStarted) and drive an engine."""
    assert len(config.config_hash()) == 64
    assert isinstance(config.to_builtins(), dict)
    assert engine_config_of(config.canonical_json()) == config.engine
    engine = Engine(config.engine)
    engine.apply(1, ClockTick(ts_recv_ns=1_766_793_600_000_000_000))


ENTRIES = st.lists(st.tuples(PATHS, VALUES), min_size=1, max_size=4)


@fuzz(150)
@given(ENTRIES)
@example([("venue.clob_url", "http://u:p@host:99999")])  # bug: loaded, then RunStarted raised
@example([("engine.detection.max_spread_bps", Raw("1" * 4400))])  # bug: ValueError escaped
@example([("sim.faults", "disconnect=nan")])
@example([("engine.detection.fees_override.rate", "1e999999999")])
def test_fuzz_config_any_values_load_or_raise_config_error_naming_the_key(
        entries: list[tuple[str, Any]]) -> None:
    text = toml_document(entries)
    try:
        config = parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("fuzz.toml: ")
        assert "not valid TOML" in message or _names_a_key(message, [p for p, _ in entries])
        return
    _usable(config)


@fuzz(120)
@given(st.one_of(st.text(max_size=120), st.builds(
    lambda doc, cut, junk: doc[:cut] + junk + doc[cut:],
    ENTRIES.map(toml_document), st.integers(0, 200), st.text(max_size=4))))
@example("a = " + "[" * 5000)  # bug: RecursionError escaped
@example("a = {b = " * 3000)
@example("[run]\ntick_ms = 100\n[run]\n")
def test_fuzz_config_any_text_loads_or_raises_config_error(text: str) -> None:
    try:
        config = parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        return
    _usable(config)


@fuzz(60)
@given(st.binary(max_size=200))
@example(b"\xff\xfe[run]")
def test_fuzz_config_any_file_bytes_load_or_raise_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "polyarb.toml"
        path.write_bytes(data)
        try:
            load_config(path, explicit=True)
        except ConfigError as exc:
            assert str(path) in str(exc)


def test_fuzz_config_missing_or_directory_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml", explicit=True)
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match=r"dir\.toml"):
        load_config(tmp_path / "dir.toml", explicit=True)


# --- replay's engine config ---------------------------------------------------------------

ENGINE_ENTRIES = st.lists(st.tuples(
    st.sampled_from([p.removeprefix("engine.") for p in KNOWN if p.startswith("engine.")]
                    + ["nope", "detection.nope"]),
    VALUES), min_size=1, max_size=4)


def _replay_load(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            config = replay_config.load_engine_config(path)
        except replay_config.ConfigError as exc:
            assert str(path) in str(exc), exc
            return
    Engine(config).apply(1, ClockTick(ts_recv_ns=1))


@fuzz(150)
@given(st.one_of(ENGINE_ENTRIES.map(toml_document), st.text(max_size=80)))
@example("detection = " + "[" * 5000)
def test_fuzz_replay_config_toml_loads_or_raises_config_error(text: str) -> None:
    _replay_load("engine.toml", text.encode())


@fuzz(150)
@given(st.one_of(JSON.map(encodable), st.binary(max_size=80),
                 st.sampled_from([b"[" * 100_000, b'{"detection": ' + b"1" * 5000 + b"}",
                                  b'{"detection": {"min_margin_bps": NaN}}', b"\xff"])))
def test_fuzz_replay_config_json_loads_or_raises_config_error(data: bytes | None) -> None:
    _replay_load("engine.json", data if data is not None else b"[")


@fuzz(150)
@given(st.one_of(st.binary(max_size=120), JSON.map(encodable),
                 st.builds(lambda v: encodable({"engine": v}), JSON)))
@example(b'{"engine": {"detection": {"fees_override": {"rate": "1e999999999"}}}}')
def test_fuzz_journaled_config_loads_or_raises_config_error(raw: bytes | None) -> None:
    data = raw if raw is not None else b"{"
    try:
        config = replay_config.config_from_journal(data, 7)
    except replay_config.ConfigError as exc:
        assert "seq 7" in str(exc)
        return
    Engine(config).apply(1, ClockTick(ts_recv_ns=1))


# --- `polyarb config show` ------------------------------------------------------------------

_CLI = CliRunner()


@fuzz(60)
@given(ENTRIES)
@example([("run.journal_dir", "a\"b\\c\nd\u00e4\u202e'''")])
@example([("markets.tags", ["x\ty", "\"", "\\u0041"])])
def test_fuzz_config_show_prints_toml_that_loads_back_to_the_same_config(
        entries: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "polyarb.toml"
        path.write_text(toml_document(entries), encoding="utf-8")
        result = _CLI.invoke(app, ["config", "show", "--config", str(path)])
        try:
            config = load_config(path, explicit=True)
        except ConfigError:
            assert result.exit_code == 2 and "error: " in result.output, result.output
            return

    assert result.exit_code == 0, result.output
    assert parse_config(result.stdout, "shown").config_hash() == config.config_hash()
