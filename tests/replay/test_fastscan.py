# The bulk read path (LineScanner.blocks, reader.iter_blocks, journal/fastscan) against the
# reference path it replaced: the scanner against a model of its rules, iter_records against
# the per-line reference read (reader._lines + codec.decode_record) on damaged journals, and
# replay with the fast path on against replay with every line taking the reference decode
# (fastscan.CURRENT_VERSIONS = {}), on the standard journal and on generated ones.
from __future__ import annotations

import re
import shutil
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyarb.events import CodecError, Record, RunStarted, decode_record
from polyarb.journal import (
    JournalCorrupt,
    Problem,
    fastscan,
    iter_lines,
    iter_records,
    reader,
    scan,
)
from polyarb.replay import ReplayResult, replay_journal
from tests.core.engine_helpers import MS, USD, market
from tests.replay.journal_builder import JournalRun, standard_journal

DAY1 = "2025-12-27"


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fastscan") / "journal"
    standard_journal(root)
    return root


def _reference_records(root: Path) -> Iterator[Record]:
    """iter_records as it was: one line at a time, decode_record, its error wrapped."""
    for seg, line_no, seq, line in reader._lines(root, 1, None, False):
        try:
            yield decode_record(line)
        except CodecError as exc:
            raise reader._corrupt(seg.name, exc.reason, line=line_no, seq=seq) from None


def _unchecked_lines(root: Path, from_seq: int = 1) -> Iterator[tuple[int, bytes]]:
    """(seq, line) of iter_blocks(check=False), the way iter_lines(check=False) yields them."""
    for block in reader.iter_blocks(root, from_seq, check=False):
        assert not block.fast
        for i, line in enumerate(block.lines):
            yield block.first_seq + i, line + b"\n"


def _reference_lines(root: Path, from_seq: int = 1) -> Iterator[tuple[int, bytes]]:
    for _path, seq, line in iter_lines(root, from_seq, check=False):
        yield seq, line


def _outcome(read: Callable[[], Iterator[Any]]) -> tuple[list[Any], list[Problem] | None]:
    """The items read before the first error, and that error's problems."""
    got: list[Any] = []
    try:
        got.extend(read())
    except JournalCorrupt as exc:
        return got, exc.problems
    return got, None


def _replay_slow(root: Path) -> ReplayResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastscan, "CURRENT_VERSIONS", {})
        return replay_journal(root)


def _same_replay(a: ReplayResult, b: ReplayResult) -> None:
    assert msgspec.structs.replace(a, elapsed_s=0.0) == msgspec.structs.replace(b, elapsed_s=0.0)


# ---- the fast path is on, and reads what the reference path reads -----------------------------


def test_fastscan_every_line_at_its_kinds_current_version_is_fast(journal: Path) -> None:
    blocks = list(reader.iter_blocks(journal))

    assert fastscan.CURRENT_VERSIONS[b"raw_frame"] == b"1"
    assert all(b.fast for b in blocks)
    assert sum(len(b.lines) for b in blocks) == sum(1 for _ in iter_lines(journal))


def test_iter_records_equals_the_reference_read_on_the_standard_journal(journal: Path) -> None:
    assert _outcome(lambda: iter_records(journal)) == _outcome(lambda: _reference_records(journal))


def test_iter_records_from_seq_and_day_match_the_reference_lines(journal: Path) -> None:
    got = [r.seq for r in iter_records(journal, 40)]
    day = [r.seq for r in iter_records(journal, day=DAY1)]

    assert got == [seq for _p, seq, _l in iter_lines(journal, 40)]
    assert day == [seq for _p, seq, _l in iter_lines(journal, day=DAY1)]


def test_plan_last_run_started_found_by_chunk_search_is_the_last_one(journal: Path) -> None:
    from polyarb.replay_plan import _last_run_started

    seqs = [r.seq for r in iter_records(journal, day=DAY1) if type(r.event) is RunStarted]
    found = _last_run_started(journal, DAY1)

    assert found is not None and found[0] == seqs[-1]
    assert found[1] == decode_record(next(line for _p, seq, line in iter_lines(journal)
                                          if seq == seqs[-1])).event


def test_replay_fast_path_equals_reference_decode_on_the_standard_journal(journal: Path) -> None:
    fast = replay_journal(journal)

    assert fast.ok
    _same_replay(fast, _replay_slow(journal))


def test_iter_records_corrupt_line_mid_chunk_yields_every_record_before_it(
        journal: Path, tmp_path: Path) -> None:
    # Arrange: line 13 of day one's segment loses its checksum
    root = tmp_path / "journal"
    shutil.copytree(journal, root)
    seg = sorted(root.glob(f"{DAY1}/seg-*.ndjson"))[0]
    lines = seg.read_bytes().split(b"\n")
    crc = int(lines[12][-10:-2], 16)
    lines[12] = lines[12][:-10] + b'%08x"}' % (crc ^ 1)
    seg.write_bytes(b"\n".join(lines))

    # Act
    got, problems = _outcome(lambda: iter_records(root))

    # Assert
    assert [r.seq for r in got] == list(range(1, 13))
    assert problems == [Problem(file=f"{DAY1}/{seg.name}", message="checksum mismatch", line=13,
                                seq=13)]


def test_iter_records_uppercase_crc_line_is_read_by_the_reference_check(
        journal: Path, tmp_path: Path) -> None:
    root = tmp_path / "journal"
    shutil.copytree(journal, root)
    seg = sorted(root.glob(f"{DAY1}/seg-*.ndjson"))[0]
    lines = seg.read_bytes().split(b"\n")
    lines[5] = _sign(lines[5][:-18], upper=True)
    seg.write_bytes(b"\n".join(lines))

    blocks = list(reader.iter_blocks(root, day=DAY1))

    assert [b.fast for b in blocks] == [True, False, True]
    assert _outcome(lambda: iter_records(root)) == _outcome(lambda: _reference_records(root))


# ---- damaged journals: the same records and the same error, fast or reference ------------------

MUTATIONS = ("flip", "upper_crc", "seq_zero", "version_0", "version_2", "extra_field",
             "break_json", "drop", "duplicate", "blank", "no_crc")


def _sign(body: bytes, upper: bool = False) -> bytes:
    crc = zlib.crc32(body)
    return body + (b',"crc":"%08X"}' if upper else b',"crc":"%08x"}') % crc


def _mutate(line: bytes, how: str, pos: int) -> list[bytes]:
    """The lines that replace `line` (without newlines) for one kind of damage."""
    body = line[:-18]
    edits: dict[str, Callable[[], list[bytes]]] = {
        "flip": lambda: [line[: pos % len(line)] + bytes([line[pos % len(line)] ^ (1 << pos % 7)])
                         + line[pos % len(line) + 1 :]],
        "upper_crc": lambda: [_sign(body, upper=True)],
        "seq_zero": lambda: [_sign(body.replace(b'{"seq":', b'{"seq":0', 1))],
        "version_0": lambda: [_sign(re.sub(rb',"v":\d+,', b',"v":0,', body, count=1))],
        "version_2": lambda: [_sign(re.sub(rb',"v":\d+,', b',"v":2,', body, count=1))],
        "extra_field": lambda: [_sign(body + b',"zz":[1]')],
        "break_json": lambda: [_sign(body[:-1])],
        "drop": lambda: [],
        "duplicate": lambda: [line, line],
        "blank": lambda: [b""],
        "no_crc": lambda: [body + b"}"],
    }
    return edits[how]()


def _damage(src: Path, dst: Path, index: int, how: str, pos: int) -> None:
    shutil.copytree(src, dst)
    segs = sorted(dst.glob("*/seg-*.ndjson"))
    lines_of = [seg.read_bytes().split(b"\n")[:-1] for seg in segs]
    total = sum(map(len, lines_of))
    k = index % total
    for seg, lines in zip(segs, lines_of, strict=True):
        if k < len(lines):
            lines[k : k + 1] = _mutate(lines[k], how, pos)
            seg.write_bytes(b"".join(x + b"\n" for x in lines))
            return
        k -= len(lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 200), how=st.sampled_from(MUTATIONS), pos=st.integers(0, 10_000))
@example(index=12, how="flip", pos=60)
@example(index=4, how="version_0", pos=0)
@example(index=33, how="break_json", pos=0)
def test_iter_records_damaged_journal_reads_the_same_as_the_reference(
        journal: Path, tmp_path_factory: pytest.TempPathFactory, index: int, how: str,
        pos: int) -> None:
    root = tmp_path_factory.mktemp("damaged") / "journal"
    _damage(journal, root, index, how, pos)

    fast = _outcome(lambda: iter_records(root))

    assert fast == _outcome(lambda: _reference_records(root))
    for start in (1, 5):
        unchecked = _outcome(lambda: _unchecked_lines(root, start))  # noqa: B023 (called here)
        assert unchecked == _outcome(lambda: _reference_lines(root, start))  # noqa: B023
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastscan, "CURRENT_VERSIONS", {})
        assert _outcome(lambda: iter_records(root)) == fast


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 200), how=st.sampled_from(MUTATIONS), pos=st.integers(0, 10_000))
@example(index=30, how="extra_field", pos=0)
def test_replay_damaged_journal_same_result_fast_or_reference(
        journal: Path, tmp_path_factory: pytest.TempPathFactory, index: int, how: str,
        pos: int) -> None:
    root = tmp_path_factory.mktemp("damaged") / "journal"
    _damage(journal, root, index, how, pos)

    def run(replay: Callable[[Path], ReplayResult]) -> ReplayResult | str:
        try:
            return replay(root)
        except Exception as exc:  # JournalCorrupt, ReplayError: compared by type and text
            return f"{type(exc).__name__}: {exc}"

    fast, slow = run(replay_journal), run(_replay_slow)
    if isinstance(fast, ReplayResult) and isinstance(slow, ReplayResult):
        _same_replay(fast, slow)
    else:
        assert fast == slow


# ---- generated journals: replay fast == replay reference ------------------------------------

_ACTION = st.one_of(
    st.tuples(st.just("book"), st.integers(0, 3), st.integers(30, 60), st.integers(1, 90)),
    st.tuples(st.just("change"), st.integers(0, 3), st.integers(30, 70), st.integers(0, 90)),
    st.tuples(st.just("clock"), st.integers(1, 70), st.just(0), st.just(0)),
    st.tuples(st.just("garbage"), st.just(0), st.just(0), st.just(0)),
)


def _generated(root: Path, actions: list[tuple[str, int, int, int]]) -> None:
    run = JournalRun(root)
    run.run_started()
    run.load(market("0xa", "Ya", "Na"), market("0xb", "Yb", "Nb"))
    tokens = ("Ya", "Na", "Yb", "Nb")
    for what, n, price, size in actions:
        if what == "book":
            run.book(tokens[n], [(price * 10_000 - 20_000, 50 * USD)],
                     [(price * 10_000, size * USD)])
        elif what == "change":
            run.change((tokens[n], "SELL", price * 10_000, size * USD))
        elif what == "clock":
            run.clock(n * 1_000 * MS)
        else:
            run.send({"event_type": "book", "asset_id": "Ya", "bids": "not levels"})
    run.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(_ACTION, min_size=1, max_size=40))
def test_replay_generated_journal_fast_path_equals_reference(
        tmp_path_factory: pytest.TempPathFactory, actions: list[tuple[str, int, int, int]]) -> None:
    root = tmp_path_factory.mktemp("generated") / "journal"
    _generated(root, actions)

    fast = replay_journal(root)

    assert fast.ok, fast.divergence
    _same_replay(fast, _replay_slow(root))
    assert _outcome(lambda: iter_records(root)) == _outcome(lambda: _reference_records(root))


# ---- LineScanner.blocks against a model of its rules --------------------------------------------


def _model(data: bytes, max_line: int) -> tuple[list[tuple[int, int, bytes]], list[tuple[int, int]],
                                                 int, int, bool]:
    """(lines yielded, overlong, complete, tail, tail_zero) as scan.py's rules 1-2 say."""
    pieces = data.split(b"\n")
    tail = pieces.pop()
    yielded, overlong, offset = [], [], 0
    for no, piece in enumerate(pieces, 1):
        if len(piece) > max_line:
            overlong.append((no, offset))
        else:
            yielded.append((no, offset, piece + b"\n"))
        offset += len(piece) + 1
    return yielded, overlong, offset, len(tail), bool(tail) and tail.count(0) == len(tail)


_LINE = st.one_of(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x")),
                  st.integers(0, 80).map(lambda n: b"y" * n), st.integers(1, 40).map(bytes))


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINE, max_size=12), tail=_LINE, chunk=st.integers(1, 16),
       max_line=st.integers(16, 48), hold=st.integers(0, 20))
def test_scanner_blocks_yield_what_the_model_says_for_any_chunking(
        tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], tail: bytes, chunk: int,
        max_line: int, hold: int) -> None:
    path = tmp_path_factory.mktemp("scan") / "seg"
    data = b"".join(x + b"\n" for x in lines) + tail
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scan, "CHUNK", chunk)
        mp.setattr(scan, "MAX_LINE", max_line)
        mp.setattr(scan, "HOLD", hold)
        scanner = scan.LineScanner(path)
        got = list(scanner)

    yielded, overlong, complete, tail_len, tail_zero = _model(data, max_line)
    assert got == yielded
    assert scanner.overlong == overlong
    assert (scanner.complete, scanner.tail, scanner.tail_zero) == (complete, tail_len, tail_zero)
    assert (scanner.lines, scanner.size) == (len(lines), len(data))
