# What-if replays (`polyarb replay DIR --config other.toml`): regenerated decisions under another
# config, orders filled by the simulator against the recorded books, a decision diff summary
# and the P&L difference; `--out` journals the what-if run, which then replays identically.
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.core.config import EngineConfig
from polyarb.core.detection import DetectionConfig
from polyarb.replay import replay_journal
from polyarb.replay_plan import ReplayError
from polyarb.replay_whatif import tally_rows, what_if
from tests.replay.journal_builder import standard_journal

runner = CliRunner()
STRICT = EngineConfig(detection=DetectionConfig(min_margin_bps=500))


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("whatif") / "journal"
    standard_journal(root)
    return root


def test_what_if_stricter_margin_gives_fewer_orders_and_a_pnl_difference(journal: Path) -> None:
    # Act
    result = what_if(journal, STRICT)

    # Assert: only the 10% basket and its repairs clear a 5% margin
    rows = {name: (a, b) for name, a, b in tally_rows(result)}
    assert rows["opportunities"] == (4, 2)
    assert rows["orders"][1] < rows["orders"][0]
    assert rows["blocked"] == (1, 0)
    assert result.original_realized_micros == 17_800_000
    assert result.whatif_realized_micros != result.original_realized_micros
    assert result.original_stats.total_pnl_micros == 18_700_000
    assert result.whatif_stats.opportunities == 2


def test_what_if_is_deterministic(journal: Path) -> None:
    first = what_if(journal, STRICT)
    second = what_if(journal, STRICT)

    first.elapsed_s = second.elapsed_s = 0.0
    assert first == second


def test_what_if_out_journal_replays_identically(journal: Path, tmp_path: Path) -> None:
    # Act
    result = what_if(journal, STRICT, out=tmp_path / "whatif")
    replayed = replay_journal(tmp_path / "whatif")

    # Assert: the what-if journal carries its config and decisions like a real run's
    assert replayed.ok, replayed.divergence
    assert replayed.stats == result.whatif_stats
    assert replayed.realized_micros == result.whatif_realized_micros


def test_what_if_out_refuses_a_directory_that_is_not_empty(journal: Path) -> None:
    with pytest.raises(ReplayError, match="new or empty directory"):
        what_if(journal, STRICT, out=journal)


def test_replay_cli_config_toml_prints_the_decision_diff_and_pnl(journal: Path,
                                                                 tmp_path: Path) -> None:
    # Arrange
    cfg = tmp_path / "strict.toml"
    cfg.write_text("[detection]\nmin_margin_bps = 500\n")

    # Act
    result = runner.invoke(app, ["replay", str(journal), "--config", str(cfg),
                                 "--out", str(tmp_path / "out")])

    # Assert
    assert result.exit_code == 0, result.output
    out = result.output
    assert "what-if replay:" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    assert lines["opportunities"] == ["4", "2", "-2"]
    assert "blocked by in_flight" in out
    assert "realized P&L" in out and "$17.80" in out
    assert f"what-if journal written to {tmp_path / 'out'}" in out
    assert runner.invoke(app, ["replay", str(tmp_path / "out")]).exit_code == 0


def test_replay_cli_config_with_unknown_key_exits_2_naming_it(journal: Path,
                                                              tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[breaker]\nmax_open_positons = 2\n")

    result = runner.invoke(app, ["replay", str(journal), "--config", str(cfg)])

    assert result.exit_code == 2
    assert "unknown field `max_open_positons`" in result.output
    assert "$.breaker" in result.output


def test_replay_cli_out_without_config_exits_2(journal: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(journal), "--out", str(tmp_path / "o")])

    assert result.exit_code == 2
    assert "--out needs --config" in result.output


def test_replay_cli_help_describes_exit_codes_and_what_if() -> None:
    result = runner.invoke(app, ["replay", "--help"])

    assert result.exit_code == 0
    assert "--config" in result.output and "--out" in result.output
    assert "Exit 0" in result.output and "what-if" in result.output


def test_what_if_of_one_day_starts_from_its_checkpoint(journal: Path, tmp_path: Path) -> None:
    # Act: day 2 alone; day 1's frames still shape the simulated books
    result = what_if(journal / "2025-12-28", STRICT, out=tmp_path / "day2")

    # Assert: day 2's own opportunities only (the checkpoint carries day 1's state)
    assert result.original.opportunities == 2
    assert result.whatif.opportunities == 0
    assert replay_journal(tmp_path / "day2").ok
