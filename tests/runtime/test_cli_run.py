# The `polyarb run` and `polyarb config show` commands through typer's CliRunner: help texts,
# exit codes and error messages. Nothing here starts a run (see test_run_sim.py for that).
from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner, Result

from polyarb.cli import app
from polyarb.config import RunConfig, parse_config

runner = CliRunner()
NO_CREDS = {name: None for name in (
    "POLYMARKET_PRIVATE_KEY", "POLYMARKET_API_KEY", "POLYMARKET_API_SECRET",
    "POLYMARKET_API_PASSPHRASE", "POLYMARKET_FUNDER", "POLYMARKET_SIGNATURE_TYPE")}
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def _invoke(args: list[str], env: dict[str, str | None] | None = None) -> Result:
    return runner.invoke(app, args, env={**NO_CREDS, **(env or {})})


def test_cli_run_help_lists_every_option() -> None:
    result = runner.invoke(app, ["run", "--help"])

    assert result.exit_code == 0
    for option in ("--venue", "--config", "--journal-dir", "--duration", "--seed", "--markets",
                   "--detect-only", "--quiet", "--yes"):
        assert option in result.output


def test_cli_config_show_help() -> None:
    result = runner.invoke(app, ["config", "show", "--help"])

    assert result.exit_code == 0 and "--json" in result.output


def test_cli_run_unknown_config_key_exits_2_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "polyarb.toml"
    cfg.write_text("[engine.breaker]\nmax_daily_los_micros = 5\n")

    result = _invoke(["run", "--config", str(cfg), "--journal-dir", str(tmp_path / "j")])

    assert result.exit_code == 2
    assert "engine.breaker.max_daily_los_micros" in result.output
    assert not (tmp_path / "j").exists()


def test_cli_run_secret_in_config_exits_2_without_echoing_it(tmp_path: Path) -> None:
    cfg = tmp_path / "polyarb.toml"
    cfg.write_text(f'[venue]\nprivate_key = "{KEY}"\n')

    result = _invoke(["run", "--config", str(cfg)])

    assert result.exit_code == 2
    assert "venue.private_key" in result.output
    assert KEY[2:] not in result.output


def test_cli_run_missing_explicit_config_exits_2(tmp_path: Path) -> None:
    result = _invoke(["run", "--config", str(tmp_path / "nope.toml")])

    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_cli_run_live_without_credentials_exits_2_before_touching_the_journal(
        tmp_path: Path) -> None:
    result = _invoke(["run", "--venue", "live", "--journal-dir", str(tmp_path / "j")])

    assert result.exit_code == 2
    assert "POLYMARKET_PRIVATE_KEY" in result.output
    assert not (tmp_path / "j").exists()


def test_cli_run_live_with_a_malformed_key_exits_2_without_echoing_it(tmp_path: Path) -> None:
    bad = "0x" + "zz" * 32

    result = _invoke(["run", "--venue", "live", "--journal-dir", str(tmp_path / "j")],
                     env={"POLYMARKET_PRIVATE_KEY": bad})

    assert result.exit_code == 2
    assert bad not in result.output


@pytest.mark.parametrize("args", [["--venue", "moon"], ["--markets", "0x12"],
                                  ["--duration", "-1"]])
def test_cli_run_bad_options_exit_2(args: list[str], tmp_path: Path) -> None:
    result = _invoke(["run", "--journal-dir", str(tmp_path / "j"), *args])

    assert result.exit_code == 2


def test_cli_config_show_defaults_round_trip_and_hash(tmp_path: Path) -> None:
    result = _invoke(["config", "show", "--config", str(tmp_path / "missing-is-ok.toml")])

    assert result.exit_code == 2  # explicit and missing
    result = runner.invoke(app, ["config", "show"], env=NO_CREDS)
    assert result.exit_code == 0
    assert f"# config hash {RunConfig().config_hash()}" in result.output
    assert parse_config(result.output) == RunConfig()


def test_cli_config_show_redacts_credentials(tmp_path: Path) -> None:
    cfg = tmp_path / "polyarb.toml"
    cfg.write_text('[venue]\nclob_url = "https://me:hunter2@clob.example.com"\n')

    result = _invoke(["config", "show", "--config", str(cfg)],
                     env={"POLYMARKET_PRIVATE_KEY": KEY, "POLYMARKET_API_SECRET": "c2VjcmV0"})

    out = result.output
    assert result.exit_code == 0
    assert KEY not in out and "c2VjcmV0" not in out and "hunter2" not in out
    assert "POLYMARKET_PRIVATE_KEY = <redacted>" in out
    assert "POLYMARKET_API_KEY = (not set)" in out


def test_cli_config_show_json_is_the_journaled_canonical_form(tmp_path: Path) -> None:
    cfg = tmp_path / "polyarb.toml"
    cfg.write_text("[sim]\nseed = 3\n[engine.detection]\nmin_margin_bps = 250\n")

    result = _invoke(["config", "show", "--config", str(cfg), "--json"])

    shown = msgspec.json.decode(result.output.strip(), type=RunConfig)
    assert shown.sim.seed == 3 and shown.engine.detection.min_margin_bps == 250
    assert result.output.strip().encode() == shown.canonical_json()


def test_cli_config_show_bad_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "polyarb.toml"
    cfg.write_text("[shutdown]\ncancel = true\n")

    result = _invoke(["config", "show", "--config", str(cfg)])

    assert result.exit_code == 2
    assert "shutdown.cancel" in result.output
