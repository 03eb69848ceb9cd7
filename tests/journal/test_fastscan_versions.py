# fastscan's per-kind version lookup (fastscan.py rule 2): a line is vouched for only when its
# `v` is its kind's current schema version in the event registry, whatever the other kinds are
# at; any other version (older, to upcast; newer, to refuse) and any kind the table does not
# know are left to the reference path. Lines come from the standard two-day journal, re-signed
# after each edit so only the version (or the kind) differs.
from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events import decode_record
from polyarb.events.codec import ALL_KINDS
from polyarb.journal import fastscan, iter_lines
from tests.replay.journal_builder import standard_journal

_KIND = re.compile(rb'^\{"seq":(\d+),"v":(\d+),"kind":"([a-z_0-9]+)"')


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, bytes]]:
    root = tmp_path_factory.mktemp("fastscan_versions") / "journal"
    standard_journal(root)
    return [(seq, line.rstrip(b"\n")) for _p, seq, line in iter_lines(root)]


def _sign(body: bytes) -> bytes:
    return body + b',"crc":"%08x"}' % zlib.crc32(body)


def _with_version(line: bytes, version: int) -> bytes:
    body = re.sub(rb',"v":\d+,', b',"v":%d,' % version, line[:-18], count=1)
    return _sign(body)


def _kind_and_version(line: bytes) -> tuple[str, int]:
    match = _KIND.match(line)
    assert match is not None
    return match[3].decode(), int(match[2])


def test_fastscan_table_is_every_registered_kind_at_its_schema_version() -> None:
    expected = {tag.encode(): b"%d" % cls.SCHEMA_VERSION for tag, cls in ALL_KINDS.items()}

    table = fastscan.CURRENT_VERSIONS

    assert table == expected
    assert list(table) == sorted(table)  # built in a fixed order, not the registry's
    assert table[b"order_rejected"] == b"2" and table[b"raw_frame"] == b"1"


def test_fastscan_every_current_line_of_the_standard_journal_is_vouched_for(
        lines: list[tuple[int, bytes]]) -> None:
    kinds = {_kind_and_version(line) for _seq, line in lines}
    assert ("order_rejected", 2) in kinds and ("raw_frame", 1) in kinds  # both versions seen

    assert fastscan.checked_run([line for _s, line in lines], 0, lines[0][0]) == len(lines)


@settings(max_examples=150, deadline=None)
@given(index=st.integers(0, 10_000), version=st.sampled_from([0, 1, 2, 3, 10, 12, 21]))
def test_fastscan_line_is_vouched_for_only_at_its_kinds_current_version(
        lines: list[tuple[int, bytes]], index: int, version: int) -> None:
    seq, line = lines[index % len(lines)]
    edited = _with_version(line, version)
    kind, _v = _kind_and_version(line)
    current = ALL_KINDS[kind].SCHEMA_VERSION

    got = fastscan.checked_run([edited], 0, seq)

    assert got == (1 if version == current else 0)
    if got:  # vouched: the fast decode is the reference decode's event
        assert fastscan.decode(edited) == decode_record(edited).event


def test_fastscan_bumped_kind_in_the_table_sends_its_lines_to_the_reference_path(
        lines: list[tuple[int, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: as if raw_frame and order_rejected had moved to v3 (every other kind unchanged)
    bumped = {**fastscan.CURRENT_VERSIONS, b"raw_frame": b"3", b"order_rejected": b"3"}
    monkeypatch.setattr(fastscan, "CURRENT_VERSIONS", bumped)
    raw = [line for _s, line in lines]

    # Act: the index of every line checked_run stops at, from each line on
    stops = {fastscan.checked_run(raw, i, seq) for i, (seq, _l) in enumerate(lines)}

    # Assert: exactly the lines of the two bumped kinds fail the fast check
    slow = {i for i, line in enumerate(raw)
            if _kind_and_version(line)[0] in ("raw_frame", "order_rejected")}
    assert slow and stops - {len(raw)} == slow


def test_fastscan_unknown_kind_and_non_canonical_envelope_are_not_vouched_for(
        lines: list[tuple[int, bytes]]) -> None:
    seq, line = next((s, x) for s, x in lines if b'"kind":"run_started"' in x)
    body = line[:-18]
    edits = [
        body.replace(b'"kind":"run_started"', b'"kind":"run_started_x"', 1),
        body.replace(b'"kind":"run_started"', b'"kind":"run\\u005fstarted"', 1),
        body.replace(b',"v":1,"kind":"run_started"', b',"v":01,"kind":"run_started"', 1),
        body.replace(b',"v":1,"kind":"run_started"', b',"v":1 ,"kind":"run_started"', 1),
    ]

    assert [fastscan.checked_run([_sign(e)], 0, seq) for e in edits] == [0, 0, 0, 0]
    assert fastscan.checked_run([_sign(body)], 0, seq) == 1


def test_fastscan_empty_table_vouches_for_no_line(lines: list[tuple[int, bytes]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastscan, "CURRENT_VERSIONS", {})

    assert fastscan.checked_run([line for _s, line in lines], 0, lines[0][0]) == 0


def test_fastscan_table_without_the_hot_kind_still_vouches_for_other_kinds(
        lines: list[tuple[int, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    table = {k: v for k, v in fastscan.CURRENT_VERSIONS.items() if k != b"raw_frame"}
    monkeypatch.setattr(fastscan, "CURRENT_VERSIONS", table)
    seq, line = next((s, x) for s, x in lines if b'"kind":"run_started"' in x)
    fseq, frame = next((s, x) for s, x in lines if b'"kind":"raw_frame"' in x)

    assert fastscan.checked_run([line], 0, seq) == 1
    assert fastscan.checked_run([frame], 0, fseq) == 0
