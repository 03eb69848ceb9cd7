# The replay config loader (polyarb/replay_config.py): TOML and JSON onto EngineConfig, nested
# tables, an [engine] table of a whole polyarb.toml, and clear errors for every bad input.
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from polyarb.core.config import EngineConfig
from polyarb.replay_config import ConfigError, config_from_journal, load_engine_config


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_engine_config_toml_nested_tables_map_onto_the_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.toml", """
detect_only = true
[detection]
min_margin_bps = 300
fees_override = { rate = "0.02" }
[breaker]
max_open_positions = 5
[execution]
client_id_prefix = "wi"
[execution.unwind]
max_retries = 0
""")

    cfg = load_engine_config(path)

    assert cfg.detect_only is True
    assert cfg.detection.min_margin_bps == 300
    assert cfg.detection.fees_override is not None
    assert cfg.detection.fees_override.rate == Decimal("0.02")
    assert cfg.breaker.max_open_positions == 5
    assert (cfg.execution.client_id_prefix, cfg.execution.unwind.max_retries) == ("wi", 0)


def test_load_engine_config_json_and_engine_table_of_a_run_config(tmp_path: Path) -> None:
    as_json = _write(tmp_path, "c.json", '{"risk": {"min_order_size_micros": 7000000}}')
    run_toml = _write(tmp_path, "polyarb.toml",
                      "[run]\nvenue = \"sim\"\n[engine.breaker]\nmax_open_positions = 1\n")

    assert load_engine_config(as_json).risk.min_order_size_micros == 7_000_000
    assert load_engine_config(run_toml).breaker.max_open_positions == 1


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.toml", "[detection]\nmin_margn_bps = 1\n",
     "unknown field `min_margn_bps` - at `$.detection`"),
    ("b.toml", "nonsense = 1\n", "unknown field `nonsense`"),
    ("c.toml", "[breaker]\nmax_open_positions = \"x\"\n", "Expected `int`, got `str`"),
    ("d.toml", "[breaker]\nmax_open_positions = -1\n", "must be >= 0"),
    ("e.toml", "[detection.fees_override]\nrate = 0.02\n",
     "a float at `$.detection.fees_override.rate`"),
    ("f.json", '{"detection": {"min_margin_bps": 2.5}}', "a float (2.5)"),
    ("g.toml", "[detection\n", "not valid TOML"),
    ("h.yaml", "a: 1\n", "must be a .toml or .json file"),
])
def test_load_engine_config_bad_input_names_the_problem(tmp_path: Path, name: str, text: str,
                                                        message: str) -> None:
    path = _write(tmp_path, name, text)

    with pytest.raises(ConfigError) as info:
        load_engine_config(path)

    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_load_engine_config_whole_run_config_is_checked_by_the_run_loader(tmp_path: Path) -> None:
    path = _write(tmp_path, "polyarb.toml", "[run]\nvenu = \"sim\"\n")

    with pytest.raises(ConfigError, match="venu"):
        load_engine_config(path)


def test_config_from_journal_reads_the_engine_of_a_run_config() -> None:
    from polyarb.config import RunConfig

    run = RunConfig(engine=EngineConfig(detect_only=True))

    assert config_from_journal(run.canonical_json(), 4) == EngineConfig(detect_only=True)


def test_load_engine_config_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_engine_config(tmp_path / "missing.toml")


def test_config_from_journal_round_trips_canonical_json_and_defaults_when_empty() -> None:
    cfg = EngineConfig(detect_only=True)

    assert config_from_journal(cfg.canonical_json(), 3) == cfg
    assert config_from_journal(b"", 3) == EngineConfig()
    with pytest.raises(ConfigError, match="run_started at seq 9"):
        config_from_journal(msgspec.json.encode({"bogus": 1}), 9)
