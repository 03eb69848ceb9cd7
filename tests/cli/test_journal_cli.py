# The `polyarb journal ...` commands: exit codes, messages, and the issue's
# acceptance line "verify on a journal with a flipped byte exits 1 and names the line".
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.events import ClockTick, OrderRejected
from polyarb.journal import Durability, JournalWriter

runner = CliRunner()
T0 = 1_766_793_600_000_000_000  # 2025-12-27T00:00:00Z


def _journal(root: Path, records: int = 50) -> Path:
    with JournalWriter.open(root, durability=Durability(policy="none")) as writer:
        for i in range(records):
            ts = T0 + i * 1_000_000
            writer.append_raw_frame(ts, "market-0", '{"event_type":"book","bids":[],"asks":[]}')
            writer.append(OrderRejected(ts_recv_ns=ts, client_order_id=f"r-{i}", reason="x"))
        writer.append(ClockTick(ts_recv_ns=T0 + records * 1_000_000))
    return root


def _segment(root: Path) -> Path:
    return sorted(root.glob("*/seg-*.ndjson"))[0]


def test_journal_verify_clean_journal_exits_0(tmp_path: Path) -> None:
    root = _journal(tmp_path / "j")

    result = runner.invoke(app, ["journal", "verify", str(root)])

    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_journal_verify_flipped_byte_exits_1_and_names_the_line(tmp_path: Path) -> None:
    root = _journal(tmp_path / "j")
    seg = _segment(root)
    lines = seg.read_bytes().splitlines(keepends=True)
    target = 41  # 1-based line number of a middle record (an order_rejected line)
    line = bytearray(lines[target - 1])
    pos = line.index(b'"client_order_id":"r-') + len(b'"client_order_id":"r-')
    line[pos] ^= 0x01  # one flipped bit inside the record
    lines[target - 1] = bytes(line)
    seg.write_bytes(b"".join(lines))

    result = runner.invoke(app, ["journal", "verify", str(root)])

    assert result.exit_code == 1, result.output
    assert seg.name in result.output
    assert f"line {target}" in result.output
    assert "seq 41" in result.output


def test_journal_verify_day_directory_works_too(tmp_path: Path) -> None:
    root = _journal(tmp_path / "j")
    day = _segment(root).parent

    result = runner.invoke(app, ["journal", "verify", str(day)])

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_journal_verify_unreadable_exits_2(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nope"
    if make == "file":
        target.write_text("not a journal")
    elif make == "empty":
        target.mkdir()

    result = runner.invoke(app, ["journal", "verify", str(target)])

    assert result.exit_code == 2, result.output
    assert "error:" in result.output


def test_journal_stats_lists_kinds(tmp_path: Path) -> None:
    root = _journal(tmp_path / "j", records=5)

    result = runner.invoke(app, ["journal", "stats", str(root)])

    assert result.exit_code == 0, result.output
    assert "raw_frame" in result.output and "order_rejected" in result.output


def test_journal_tail_prints_last_records(tmp_path: Path) -> None:
    root = _journal(tmp_path / "j", records=5)

    result = runner.invoke(app, ["journal", "tail", str(root), "-n", "2"])

    assert result.exit_code == 0, result.output
    out = result.output.strip().splitlines()
    assert len(out) == 2
    assert '"kind":"clock_tick"' in out[-1]


def test_journal_seal_then_seal_refuses_open_day(tmp_path: Path) -> None:
    root = _journal(tmp_path / "j", records=5)
    day = _segment(root).parent

    result = runner.invoke(app, ["journal", "seal", str(day)])

    assert result.exit_code == 0, result.output
    assert (day / "sealed.parquet").exists()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "journal" in result.output and "run" in result.output
