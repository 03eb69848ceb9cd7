# [journal] checkpoint_every_records: its default, its validation (a clear error naming the key),
# `polyarb config show`, and the run loop journaling mid-day checkpoints at that cadence.
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.config import MIN_CHECKPOINT, ConfigError, RunConfig, parse_config
from polyarb.events import StateCheckpoint
from polyarb.events.inputs import ClockTick
from polyarb.journal import iter_records
from polyarb.runtime.rebuild import Rebuilt
from polyarb.runtime.startup import start_run
from tests.core.engine_helpers import T0
from tests.runtime.helpers import open_loop


def test_config_checkpoint_every_records_default_is_a_million() -> None:
    assert RunConfig().journal.checkpoint_every_records == 1_000_000


@pytest.mark.parametrize("value", [0, MIN_CHECKPOINT, 5_000_000])
def test_config_checkpoint_every_records_zero_or_large_is_accepted(value: int) -> None:
    cfg = parse_config(f"[journal]\ncheckpoint_every_records = {value}\n")

    assert cfg.journal.checkpoint_every_records == value


@pytest.mark.parametrize("value", ["-1", "1", str(MIN_CHECKPOINT - 1), '"1000000"', "1.5e6"])
def test_config_checkpoint_every_records_bad_value_is_an_error_naming_the_key(
        value: str) -> None:
    with pytest.raises(ConfigError, match="checkpoint_every_records"):
        parse_config(f"[journal]\ncheckpoint_every_records = {value}\n")


def test_config_show_lists_checkpoint_every_records(tmp_path: Path) -> None:
    cfg = tmp_path / "polyarb.toml"
    cfg.write_text("[journal]\ncheckpoint_every_records = 0\n")

    result = CliRunner().invoke(app, ["config", "show", "--config", str(cfg)])

    assert result.exit_code == 0
    assert "checkpoint_every_records = 0" in result.output


def test_start_run_schedules_the_configured_cadence(tmp_path: Path) -> None:
    # Arrange: the cadence as a run would read it (the minimum; a test cannot wait 1M records)
    loop, _ = open_loop(tmp_path / "j", policy="none")
    cfg = parse_config(f"[journal]\ncheckpoint_every_records = {MIN_CHECKPOINT}\n")
    start_run(loop, Rebuilt(), cfg, "r1", "test", lambda: T0)

    for i in range(MIN_CHECKPOINT + 5):
        loop.handle(ClockTick(ts_recv_ns=T0 + 1 + i))
    loop.writer.close()

    ckpts = [r for r in iter_records(tmp_path / "j") if type(r.event) is StateCheckpoint]
    assert len(ckpts) == 1 and ckpts[0].seq == MIN_CHECKPOINT + 1
