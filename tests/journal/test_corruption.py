# Corruption: every kind of damage is found by verify with its location and refused by
# JournalWriter.open, which then leaves every byte as it was (nothing is silently repaired).
#
# Rules: the journal under test is real (two days, several segments each, written by a child that
# then crashed, so the newest day has an open segment); each case damages it one way.
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from polyarb.journal import JournalCorrupt, JournalWriter, layout, verify_journal
from polyarb.journal.errors import Problem

OLD_DAY, NEW_DAY = "2025-12-26", "2025-12-27"


@pytest.fixture(scope="module")
def crashed_once(tmp_path_factory: pytest.TempPathFactory, kit: ModuleType) -> Path:
    """Day 1 closed (3+ segments); day 2 with closed segments and an open one of 3+ records."""
    root = tmp_path_factory.mktemp("corruption") / "journal"
    kit.write_then_crash(root, 63, kit.MIDNIGHT_NS - 30 * kit.SECOND_NS)
    open_seg = _segments(root, NEW_DAY)[-1]
    assert len(_segments(root, OLD_DAY)) >= 3 and len(_segments(root, NEW_DAY)) >= 3
    assert not open_seg.closed and _lines(root, NEW_DAY, -1) >= 3
    return root


@pytest.fixture
def crashed(crashed_once: Path, journal_root: Path) -> Path:
    """A private copy of the crashed journal (modes preserved)."""
    shutil.copytree(crashed_once, journal_root)
    return journal_root


def _segments(root: Path, day: str) -> list[layout.SegmentInfo]:
    return layout.read_manifest(root / day).segments


def _seg_path(root: Path, day: str, index: int) -> Path:
    return root / day / _segments(root, day)[index].name


def _lines(root: Path, day: str, index: int) -> int:
    return _seg_path(root, day, index).read_bytes().count(b"\n")


def _edit_line(path: Path, line_no: int, edit: Callable[[bytes], bytes]) -> int:
    """Replace one line (1-based) of a file; return the seq it held."""
    lines = path.read_bytes().split(b"\n")
    seq = int(lines[line_no - 1][7 : lines[line_no - 1].index(b",")])
    lines[line_no - 1] = edit(lines[line_no - 1])
    path.write_bytes(b"\n".join(lines))
    return seq


def _flip(line: bytes) -> bytes:
    at = line.index(b"rrrr")  # inside the reason string: the JSON stays valid, the CRC does not
    return line[:at] + bytes([line[at] ^ 0x01]) + line[at + 1 :]


Case = Callable[[Path], tuple[str, int | None, int | None]]


def bit_flip_in_closed_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, NEW_DAY, 0)
    return f"{NEW_DAY}/{path.name}", 3, _edit_line(path, 3, _flip)


def bit_flip_in_open_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, NEW_DAY, -1)
    return f"{NEW_DAY}/{path.name}", 2, _edit_line(path, 2, _flip)


def bad_crc_in_last_complete_line(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, NEW_DAY, -1)
    last = _lines(root, NEW_DAY, -1)
    return f"{NEW_DAY}/{path.name}", last, _edit_line(path, last, _flip)


def malformed_line_in_open_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, NEW_DAY, -1)
    _edit_line(path, 2, lambda line: b"hello, not a record\n" + line)
    return f"{NEW_DAY}/{path.name}", 2, None


def seq_gap_in_open_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, NEW_DAY, -1)
    lines = path.read_bytes().split(b"\n")
    del lines[1]
    path.write_bytes(b"\n".join(lines))
    return f"{NEW_DAY}/{path.name}", 2, int(lines[1][7 : lines[1].index(b",")])


def truncated_closed_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, OLD_DAY, 0)
    path.write_bytes(path.read_bytes()[:-30])
    return f"{OLD_DAY}/{path.name}", None, None


def zeroed_tail_of_closed_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, NEW_DAY, 0)
    data = path.read_bytes()
    path.write_bytes(data[:-50] + b"\0" * 50)  # same size: only the hashes can tell
    return f"{NEW_DAY}/{path.name}", None, None


def missing_segment(root: Path) -> tuple[str, int | None, int | None]:
    path = _seg_path(root, OLD_DAY, 1)
    path.unlink()
    return f"{OLD_DAY}/{path.name}", None, None


def unlisted_segment(root: Path) -> tuple[str, int | None, int | None]:
    name = layout.segment_name(99_999)
    (root / NEW_DAY / name).write_bytes(_seg_path(root, NEW_DAY, 0).read_bytes())
    return f"{NEW_DAY}/{name}", None, None


def manifest_digest_tampered(root: Path) -> tuple[str, int | None, int | None]:
    m = layout.read_manifest(root / OLD_DAY)
    m.digest = "0" * 64
    layout.write_manifest(root / OLD_DAY, m)
    return f"{OLD_DAY}/{layout.MANIFEST_NAME}", None, None


def manifest_segment_sha_tampered(root: Path) -> tuple[str, int | None, int | None]:
    m = layout.read_manifest(root / NEW_DAY)
    m.segments[0].sha256 = "0" * 64
    layout.write_manifest(root / NEW_DAY, m)
    return f"{NEW_DAY}/{m.segments[0].name}", None, None  # file and manifest disagree


def manifest_unreadable(root: Path) -> tuple[str, int | None, int | None]:
    (root / OLD_DAY / layout.MANIFEST_NAME).write_bytes(b'{"format": "polyarb-jou')
    return f"{OLD_DAY}/{layout.MANIFEST_NAME}", None, None


CASES: list[Case] = [
    bit_flip_in_closed_segment,
    bit_flip_in_open_segment,
    bad_crc_in_last_complete_line,
    malformed_line_in_open_segment,
    seq_gap_in_open_segment,
    truncated_closed_segment,
    zeroed_tail_of_closed_segment,
    missing_segment,
    unlisted_segment,
    manifest_digest_tampered,
    manifest_segment_sha_tampered,
    manifest_unreadable,
]


def _located(problems: list[Problem], file: str, line: int | None, seq: int | None) -> bool:
    return any(
        p.file == file and (line is None or p.line == line) and (seq is None or p.seq == seq)
        for p in problems
    )


@pytest.mark.parametrize("damage", CASES, ids=lambda c: c.__name__)
def test_corruption_is_located_by_verify(crashed: Path, damage: Case) -> None:
    file, line, seq = damage(crashed)
    report = verify_journal(crashed)
    assert not report.ok
    assert _located(report.problems, file, line, seq), report.problems


@pytest.mark.parametrize("damage", CASES, ids=lambda c: c.__name__)
def test_corruption_is_refused_by_open_and_left_untouched(
    crashed: Path, damage: Case, kit: ModuleType
) -> None:
    file, line, _seq = damage(crashed)
    before = kit.snapshot(crashed)
    with pytest.raises(JournalCorrupt) as caught:
        JournalWriter.open(crashed)
    assert file in str(caught.value)
    assert _located(caught.value.problems, file, line, None), caught.value.problems
    assert kit.snapshot(crashed) == before


def test_corruption_in_an_older_day_is_refused_with_full_check(crashed: Path) -> None:
    path = _seg_path(crashed, OLD_DAY, 1)
    _edit_line(path, 2, _flip)
    # The default open checks older days by manifest and size only (fast); the bytes need
    # full_check (or verify), which rehashes them.
    with pytest.raises(JournalCorrupt) as caught:
        JournalWriter.open(crashed, full_check=True)
    assert f"{OLD_DAY}/{path.name}" in str(caught.value)
    assert any(p.line == 2 for p in verify_journal(crashed).problems)


def test_corruption_error_message_names_file_line_and_seq(crashed: Path) -> None:
    file, line, seq = bit_flip_in_open_segment(crashed)
    with pytest.raises(JournalCorrupt) as caught:
        JournalWriter.open(crashed)
    assert f"{file}, line {line}, seq {seq}" in str(caught.value)
