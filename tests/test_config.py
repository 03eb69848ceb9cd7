# polyarb.toml: unknown keys named, secrets refused (by key, never echoing the value), exact
# numbers only under [engine], the engine part maps onto EngineConfig, the hash is stable.
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.config import (
    ConfigError,
    RunConfig,
    engine_config_of,
    load_config,
    parse_config,
    with_overrides,
)
from polyarb.config_check import looks_secret
from polyarb.core.config import EngineConfig

SECRET = "0x" + "ab" * 32


def test_config_empty_file_is_the_defaults() -> None:
    assert parse_config("") == RunConfig()


def test_config_unknown_key_is_named_with_its_path_and_a_suggestion() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("[engine.detection]\nmin_margin = 300\n")

    assert "'engine.detection.min_margin'" in str(err.value)
    assert "min_margin_bps" in str(err.value)


def test_config_unknown_section_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'engin'"):
        parse_config("[engin]\ndetect_only = true\n")


@pytest.mark.parametrize("key", ["private_key", "api_secret", "passphrase", "POLYMARKET_API_KEY",
                                 "apiKey", "password"])
def test_config_secret_looking_key_is_refused_naming_the_key_not_the_value(key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f'[venue]\n{key} = "{SECRET}"\n')

    assert f"'venue.{key}'" in str(err.value)
    assert SECRET not in str(err.value) and "ab" * 32 not in str(err.value)


def test_config_secret_check_comes_before_the_unknown_key_check() -> None:
    with pytest.raises(ConfigError, match="looks like a secret"):
        parse_config(f'private_key = "{SECRET}"\n')


@pytest.mark.parametrize("key", ["seed", "credentials_file", "condition_ids", "max_markets",
                                 "client_id_prefix", "token_id"])
def test_config_ordinary_keys_do_not_look_secret(key: str) -> None:
    assert not looks_secret(key)


def test_config_engine_tables_map_onto_engine_config() -> None:
    text = """
[engine]
detect_only = true
[engine.detection]
min_margin_bps = 300
[engine.detection.fees_override]
rate = "0.04"
[engine.breaker]
max_open_positions = 5
[engine.risk]
min_order_size_micros = 6000000
[engine.execution]
order_type = "FAK"
[engine.execution.unwind]
max_loss_micros = 2000000
"""
    cfg = parse_config(text)

    e = cfg.engine
    assert e.detect_only and e.detection.min_margin_bps == 300
    assert e.detection.fees_override is not None
    assert e.detection.fees_override.rate == Decimal("0.04")
    assert e.breaker.max_open_positions == 5 and e.risk.min_order_size_micros == 6_000_000
    assert e.execution.order_type == "FAK" and e.execution.unwind.max_loss_micros == 2_000_000


def test_config_float_under_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'engine.detection.fees_override.rate' is a float"):
        parse_config("[engine.detection.fees_override]\nrate = 0.04\n")


@pytest.mark.parametrize(("text", "where"), [
    ('[run]\nvenue = "moon"\n', "'run.venue'"),
    ("[engine.breaker]\nmax_open_positions = \"3\"\n", "'engine.breaker.max_open_positions'"),
    ('[venue]\nclob_url = "ftp://x"\n', "venue.clob_url"),
    ('[sim]\nfaults = "volcano=1"\n', "volcano"),
    ('[markets]\ncondition_ids = ["0x12"]\n', "condition_ids"),
    ("engine = 3\n", "'engine' must be a table"),
    ("[run\n", "not valid TOML"),
])
def test_config_bad_values_name_the_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text)

    assert where in str(err.value)


def test_config_hash_is_stable_across_key_order_and_formatting() -> None:
    a = parse_config('[run]\ntick_ms = 100\nvenue = "sim"\n[sim]\nseed = 7\n')
    b = parse_config('[sim]\nseed=7\n\n[run]\nvenue="sim"\n# a comment\ntick_ms=100\n')

    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != RunConfig().config_hash()


def test_config_canonical_json_embeds_engine_config_under_the_engine_key() -> None:
    cfg = parse_config("[engine.detection]\nmin_margin_bps = 250\n")

    raw = cfg.canonical_json()

    assert cfg.engine.canonical_json() in raw
    assert engine_config_of(raw) == cfg.engine
    assert engine_config_of(EngineConfig().canonical_json().join([b'{"engine":', b"}"])) \
        == EngineConfig()


def test_config_engine_config_of_refuses_a_config_without_engine() -> None:
    with pytest.raises(ConfigError, match="engine"):
        engine_config_of(b'{"run": {}}')


def test_config_url_credentials_are_redacted() -> None:
    cfg = parse_config('[venue]\nclob_url = "https://user:hunter2@clob.example.com:8443/x"\n')

    assert b"hunter2" not in cfg.canonical_json()
    assert cfg.redacted().venue.clob_url == "https://<redacted>@clob.example.com:8443/x"


def test_config_overrides_apply_and_are_checked() -> None:
    cfg = with_overrides(RunConfig(), venue="live", journal_dir="j2", seed=9,
                         condition_ids=("0x" + "1" * 64,), detect_only=True)

    assert (cfg.run.venue, cfg.run.journal_dir, cfg.sim.seed) == ("live", "j2", 9)
    assert cfg.markets.condition_ids == ("0x" + "1" * 64,) and cfg.engine.detect_only
    with pytest.raises(ConfigError):
        with_overrides(RunConfig(), condition_ids=("bad",))


def test_config_load_missing_default_file_gives_defaults_but_explicit_is_an_error(
        tmp_path: Path) -> None:
    assert load_config(tmp_path / "polyarb.toml") == RunConfig()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "polyarb.toml", explicit=True)


def test_config_example_file_parses_to_the_defaults() -> None:
    example = Path(__file__).resolve().parents[1] / "polyarb.toml.example"

    assert load_config(example, explicit=True) == RunConfig()


@given(st.integers(min_value=0, max_value=10_000), st.booleans())
def test_config_round_trips_through_its_canonical_json(margin: int, dedupe: bool) -> None:
    cfg = parse_config(f"[engine]\ndedupe_opportunities = {str(dedupe).lower()}\n"
                       f"[engine.detection]\nmin_margin_bps = {margin}\n")

    back = msgspec.json.decode(cfg.canonical_json(), type=RunConfig)

    assert back == cfg and back.config_hash() == cfg.config_hash()
