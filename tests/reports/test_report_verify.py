# `polyarb report --verify`: every report checks the journal roots first (CRCs, seqs, manifests:
# polyarb.journal.verify_journal) and refuses with exit 2, naming the file and the seq, when a
# byte was flipped; without --verify the same flip silently changes the numbers (why the option
# exists). A torn last line is let through with a note, like the reports ignore it.
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.events import ClockTick, DayOpened
from polyarb.reports.run_report import REPORTS, ReportError, verify_roots
from tests.replay.journal_builder import standard_journal
from tests.reports.conftest import DAY0_NS, write_synthetic

runner = CliRunner()


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify") / "journal"
    standard_journal(root)
    return root


def _flip_fill_price(src: Path, dst: Path) -> tuple[str, int]:
    """Copy the journal and change one digit of a fill's price: the line stays valid JSON."""
    shutil.copytree(src, dst)
    for segment in sorted(dst.glob("*/seg-*.ndjson")):
        lines = segment.read_bytes().split(b"\n")
        for i, line in enumerate(lines):
            if b'"kind":"trade_updated"' in line and b'"price_micros":4' in line:
                lines[i] = line.replace(b'"price_micros":4', b'"price_micros":3', 1)
                segment.write_bytes(b"\n".join(lines))
                seq = int(line.split(b",", 1)[0].removeprefix(b'{"seq":'))
                return str(segment.relative_to(dst)), seq
    raise AssertionError("no fill to flip")


def _pnl(root: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["report", "pnl", "--journal-dir", str(root), "--format", "csv",
                                 *extra])
    return result.exit_code, result.output


def test_report_verify_flipped_byte_refuses_naming_file_and_seq(clean: Path,
                                                                 tmp_path: Path) -> None:
    # Arrange
    where, seq = _flip_fill_price(clean, tmp_path / "journal")

    # Act
    code, out = _pnl(tmp_path / "journal", "--verify")

    # Assert
    assert code == 2
    assert "failed verification, nothing reported" in out
    assert where in out and f"seq {seq}" in out
    assert "day,market_id" not in out  # no rows printed


def test_report_without_verify_the_flip_changes_numbers_silently(clean: Path,
                                                                 tmp_path: Path) -> None:
    # Arrange
    _flip_fill_price(clean, tmp_path / "journal")

    # Act
    flipped = _pnl(tmp_path / "journal")
    original = _pnl(clean)

    # Assert: the very problem --verify exists for
    assert flipped[0] == original[0] == 0
    assert flipped[1] != original[1]


def test_report_verify_clean_journal_reports_the_same_rows(clean: Path) -> None:
    # Act
    verified = _pnl(clean, "--verify")
    plain = _pnl(clean)

    # Assert
    assert verified == plain
    assert verified[0] == 0


@pytest.mark.parametrize("name", [n for n in REPORTS if n != "audit"])
def test_report_verify_every_report_refuses_a_flipped_journal(clean: Path, tmp_path: Path,
                                                              name: str) -> None:
    # Arrange
    _flip_fill_price(clean, tmp_path / "journal")

    # Act
    result = runner.invoke(app, ["report", name, "--journal-dir", str(tmp_path / "journal"),
                                 "--verify"])

    # Assert
    assert result.exit_code == 2
    assert "failed verification" in result.output


def test_report_verify_audit_refuses_a_flipped_journal(clean: Path, tmp_path: Path) -> None:
    # Arrange
    _flip_fill_price(clean, tmp_path / "journal")

    # Act
    result = runner.invoke(app, ["report", "audit", "run-o7", "--journal-dir",
                                 str(tmp_path / "journal"), "--verify"])

    # Assert
    assert result.exit_code == 2
    assert "failed verification" in result.output


def test_verify_roots_torn_tail_of_an_open_segment_is_a_note(tmp_path: Path) -> None:
    # Arrange: a live writer's open segment whose last line is half written
    root = tmp_path / "journal"
    opened = DayOpened(ts_recv_ns=DAY0_NS, day="2025-12-27")
    write_synthetic(root, [opened, *(ClockTick(ts_recv_ns=DAY0_NS + i) for i in range(1, 6))],
                    open_last_day=True)
    newest = sorted(root.glob("*/seg-*.ndjson"))[-1]
    with newest.open("ab") as f:
        f.write(b'{"seq":999,"v":1,"kind":"clock_tick"')

    # Act
    notes = verify_roots([root])

    # Assert
    assert len(notes) == 1 and "torn" in notes[0]


def test_verify_roots_bytes_appended_to_a_closed_segment_refuse(clean: Path,
                                                                tmp_path: Path) -> None:
    # Arrange: a closed segment's size is in its manifest, so this is damage, not a live tail
    root = tmp_path / "journal"
    shutil.copytree(clean, root)
    newest = sorted(root.glob("*/seg-*.ndjson"))[-1]
    with newest.open("ab") as f:
        f.write(b'{"seq":999,"v":1,"kind":"clock_tick"')

    # Act / Assert
    with pytest.raises(ReportError, match="has bytes appended"):
        verify_roots([root])


def test_verify_roots_missing_root_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot verify"):
        verify_roots([tmp_path / "nope"])


def test_report_help_says_when_to_verify() -> None:
    result = runner.invoke(app, ["report", "fills", "--help"])

    assert result.exit_code == 0
    assert "--verify" in result.output and "audit" in result.output
