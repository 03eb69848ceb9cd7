# Fuzzing the journal readers with damaged journals: bit flips, truncation, garbage, an
# overlong line without newline, a valid CRC over a bad body, bad or missing manifests, missing
# and unlisted files. Every reader (iter_records, iter_lines, journal_stats) either reads the
# journal or raises JournalCorrupt / JournalUnreadable naming the file (and line/offset for a
# line); verify_journal returns a report that locates every problem; nothing hangs; memory
# stays bounded.
#
# Rules: one real journal (two days, several closed segments each) is written once per module;
# every example damages a private copy. A damaged segment byte of a closed journal must be
# found by every reader: nothing is skipped silently. Settings from strategies.fuzz; each
# example runs under an alarm so a hang fails instead of stalling CI. The CLI commands over such
# copies (journal verify, stats, tail, replay, report) exit 0/1/2 with a message, never with a
# traceback.
from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.core.engine import Engine
from polyarb.events.inputs import ClockTick
from polyarb.journal import (
    Durability,
    JournalCorrupt,
    JournalUnreadable,
    JournalWriter,
    Problem,
    iter_lines,
    iter_records,
    journal_stats,
    layout,
    scan,
    verify_journal,
)
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame
from tests.fuzz.strategies import JSON, encodable, fuzz, markets_loaded, opening_frames

MIDNIGHT_NS = 1_766_793_600 * 1_000_000_000  # 2025-12-27T00:00:00Z
SECOND_NS = 1_000_000_000
DAYS = ("2025-12-26", "2025-12-27")


def _write_journal(root: Path) -> None:
    writer = JournalWriter.open(root, segment_max_bytes=1200)
    for i in range(40):  # 20 s each side of midnight: two days, several segments each
        ts = MIDNIGHT_NS - 20 * SECOND_NS + i * SECOND_NS
        if i % 3:
            writer.append(ClockTick(ts_recv_ns=ts))
        else:
            writer.append_raw_frame(ts, "market-0", f'{{"event_type":"book","n":{i}}}')
        writer.sync()  # segments roll at a flush
    writer.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-journal") / "journal"
    _write_journal(root)
    assert verify_journal(root).ok
    assert all(len(layout.read_manifest(root / d).segments) >= 2 for d in DAYS)
    return root


def _segments(root: Path) -> list[Path]:
    return [root / d / s.name for d in DAYS for s in layout.read_manifest(root / d).segments]


@contextlib.contextmanager
def _deadline(seconds: int = 30) -> Iterator[None]:
    """Fail (instead of hanging CI) when a reader does not return in time."""
    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"reader still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _assert_located(problem: Problem, root: Path) -> None:
    assert problem.file and problem.message, problem
    assert not Path(problem.file).is_absolute() or problem.file.startswith(str(root))
    assert problem.line is None or problem.line >= 1
    assert problem.offset is None or problem.offset >= 0


def _read_all(root: Path) -> str | None:
    """Run every whole-journal reader; None when all read cleanly, else the outcomes."""
    outcome: set[str] = set()
    readers: list[Callable[[], Any]] = [
        lambda: list(iter_records(root)),
        lambda: list(iter_lines(root)),
        lambda: journal_stats(root),
    ]
    _read_one_day(root)
    for read in readers:
        try:
            read()
            outcome.add("ok")
        except JournalCorrupt as exc:
            assert exc.problems and str(exc).startswith("journal is corrupt: ")
            for problem in exc.problems:
                _assert_located(problem, root)
            outcome.add("corrupt")
        except JournalUnreadable as exc:
            assert str(root) in str(exc) or DAYS[1] in str(exc), exc
            outcome.add("unreadable")
    return None if outcome == {"ok"} else ",".join(sorted(outcome))


def _read_one_day(root: Path) -> None:
    """The reader of one day directory: reads it or raises a journal error naming a file."""
    try:
        list(iter_records(root / DAYS[1]))
    except JournalCorrupt as exc:
        assert all(p.file for p in exc.problems)
    except JournalUnreadable as exc:
        assert str(root) in str(exc) or DAYS[1] in str(exc), exc


def _check(root: Path, *, readers_fail: bool, verify_fails: bool) -> None:
    with _deadline():
        failed = _read_all(root)
        try:
            report = verify_journal(root)
        except JournalUnreadable as exc:
            assert str(root) in str(exc)
            return
    for problem in report.problems:
        _assert_located(problem, root)
    if readers_fail:
        assert failed is not None and "ok" not in failed, "a reader read a damaged journal"
    if verify_fails:
        assert not report.ok, "verify missed the damage"


# --- damage to segment bytes ------------------------------------------------------------------

_SEGMENT_DAMAGE = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("overwrite"), st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("append"), st.just(0), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("recrc"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
)


def _recrc(data: bytes, at: int, junk: bytes) -> bytes:
    """Damage one line's body and give it a valid CRC: the decoder, not the CRC, must refuse."""
    lines = data.split(b"\n")
    i = at % max(1, len(lines) - 1)
    line = lines[i]
    body = line[: line.rindex(b',"crc":')] if b',"crc":' in line else line
    cut = 1 + at % max(1, len(body) - 1)
    body = body[:cut] + junk + body[cut:]
    lines[i] = body + b',"crc":"%08x"}' % zlib.crc32(body)
    return b"\n".join(lines)


def _damage(data: bytes, how: str, at: int, arg: Any) -> bytes:
    at = at % max(1, len(data))
    junk = bytes(arg) if isinstance(arg, bytes) else b""
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (1 << arg)]) + data[at + 1:]
    if how == "truncate":
        return data[:at]
    if how == "overwrite":
        return data[:at] + junk + data[at + len(junk):]
    if how == "insert":
        return data[:at] + junk + data[at:]
    if how == "append":
        return data + junk
    return _recrc(data, at, junk)


@fuzz(60)
@given(st.integers(0, 100), _SEGMENT_DAMAGE)
@example(0, ("flip", 0, 0))
@example(3, ("append", 0, b"\x00" * 10))  # a zero-filled tail, as a power loss leaves
def test_fuzz_journal_damaged_segment_is_refused_with_its_location(
        pristine: Path, which: int, damage: tuple[str, int, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        shutil.copytree(pristine, root)
        seg = _segments(root)[which % len(_segments(root))]
        before = seg.read_bytes()
        seg.write_bytes(_damage(before, *damage))

        changed = seg.read_bytes() != before
        # a body damaged under a valid CRC is found by the decoding readers and verify only
        _check(root, readers_fail=changed and damage[0] != "recrc", verify_fails=changed)


# --- damage to manifests and files ------------------------------------------------------------

_MANIFEST_FIELDS = ["format", "format_version", "schema_version", "day", "first_seq",
                    "last_seq", "records", "run_ids", "closed", "digest", "prev_digest",
                    "segments", "sealed", "unknown_field"]
_SEGMENT_FIELDS = ["name", "first_seq", "last_seq", "records", "bytes", "sha256", "closed"]
_ODD_VALUES = st.one_of(
    JSON,
    st.sampled_from(["", ".", "..", "/", "/etc/passwd", "../2025-12-26/seg-000000000001.ndjson",
                     "seg-000000000001.ndjson", "zz", "ab" * 32, -1, 0, 2**63, 2**64 - 1, True,
                     None, [], {}]),
)


@st.composite
def _manifest_damage(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["bytes", "json", "field", "segment_field", "drop_segment"]))
    if kind == "bytes":
        return kind, draw(st.binary(max_size=200))
    if kind == "json":
        return kind, draw(JSON)
    if kind == "field":
        return kind, (draw(st.sampled_from(_MANIFEST_FIELDS)), draw(_ODD_VALUES))
    if kind == "segment_field":
        return kind, (draw(st.integers(0, 10)), draw(st.sampled_from(_SEGMENT_FIELDS)),
                      draw(_ODD_VALUES))
    return kind, draw(st.integers(0, 10))


def _damage_manifest(path: Path, kind: str, arg: Any) -> None:
    data: Any = orjson.loads(path.read_bytes())
    if kind == "bytes":
        path.write_bytes(arg)
        return
    if kind == "json":
        data = arg
    elif kind == "field":
        data[arg[0]] = arg[1]
    elif kind == "segment_field":
        segs = data["segments"]
        segs[arg[0] % len(segs)][arg[1]] = arg[2]
    else:
        del data["segments"][arg % len(data["segments"])]
    encoded = encodable(data)
    path.write_bytes(encoded if encoded is not None else b"{")


@fuzz(80)
@given(st.sampled_from(DAYS), _manifest_damage())
@example(DAYS[0], ("segment_field", (0, "sha256", "zz")))
@example(DAYS[1], ("segment_field", (0, "name", "")))
@example(DAYS[1], ("segment_field", (1, "name", ".")))
@example(DAYS[0], ("field", ("segments", [{"name": "/", "first_seq": 1}])))
def test_fuzz_journal_damaged_manifest_is_a_located_problem(
        pristine: Path, day: str, damage: tuple[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        shutil.copytree(pristine, root)
        manifest = root / day / layout.MANIFEST_NAME
        before = manifest.read_bytes()
        _damage_manifest(manifest, *damage)

        # some edits are harmless (an unknown field, a no-op): errors must be located anyway
        _check(root, readers_fail=False, verify_fails=False)
        if manifest.read_bytes() != before and damage[0] in ("bytes", "json"):
            assert not verify_journal(root).ok


_FILE_DAMAGE = st.sampled_from([
    "delete_manifest", "delete_segment", "empty_segment", "unlisted_segment", "segment_dir",
    "manifest_dir", "delete_day", "stray_day", "lock_only",
])


def _damage_files(root: Path, kind: str, which: int) -> None:
    segs = _segments(root)
    seg = segs[which % len(segs)]
    day_dir = root / DAYS[which % 2]
    if kind == "delete_manifest":
        (day_dir / layout.MANIFEST_NAME).unlink()
    elif kind == "delete_segment":
        seg.unlink()
    elif kind == "empty_segment":
        seg.write_bytes(b"")
    elif kind == "unlisted_segment":
        (day_dir / layout.segment_name(900 + which)).write_bytes(b"garbage\n")
    elif kind == "segment_dir":
        seg.unlink()
        seg.mkdir()
    elif kind == "manifest_dir":
        (day_dir / layout.MANIFEST_NAME).unlink()
        (day_dir / layout.MANIFEST_NAME).mkdir()
    elif kind == "delete_day":
        shutil.rmtree(day_dir)
    elif kind == "stray_day":
        (root / "2025-12-28").mkdir()
        (root / "2025-12-28" / layout.MANIFEST_NAME).write_bytes(b"{}")
    else:
        for day in DAYS:
            shutil.rmtree(root / day)


@fuzz(40)
@given(_FILE_DAMAGE, st.integers(0, 100))
@example("segment_dir", 0)
@example("manifest_dir", 1)
def test_fuzz_journal_missing_or_stray_files_are_located_problems(
        pristine: Path, kind: str, which: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        shutil.copytree(pristine, root)
        _damage_files(root, kind, which)

        # an empty newest day (a day roll in progress) is tolerated by the readers only
        _check(root, readers_fail=kind not in ("lock_only", "delete_day", "stray_day"),
               verify_fails=kind not in ("lock_only", "delete_day"))


# --- bounded memory ---------------------------------------------------------------------------

def test_fuzz_journal_huge_line_without_newline_is_not_held_in_memory(
        pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 24 MB "line" with no newline at the end of a closed segment, read with the real line
    # limit: the readers report it (incomplete line, with its offset) holding a bounded part.
    root = tmp_path / "journal"
    shutil.copytree(pristine, root)
    seg = _segments(root)[-1]
    with seg.open("ab") as f:
        for _ in range(24):
            f.write(b"x" * (1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(JournalCorrupt) as caught:
            list(iter_records(root))
        report = verify_journal(root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    problem = caught.value.problems[0]
    assert problem.file == f"{DAYS[1]}/{seg.name}" and "incomplete line" in problem.message
    assert problem.offset is not None and not report.ok
    assert peak < 10 << 20, peak  # 24 MB unfixed; HOLD (4 MB) plus a few chunks now


def test_fuzz_journal_overlong_line_is_reported_not_yielded(
        pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "MAX_LINE", 64 << 10)
    monkeypatch.setattr(scan, "CHUNK", 4 << 10)
    root = tmp_path / "journal"
    shutil.copytree(pristine, root)
    seg = _segments(root)[0]
    data = seg.read_bytes()
    seg.write_bytes(b"y" * (200 << 10) + b"\n" + data)

    with pytest.raises(JournalCorrupt) as caught:
        list(iter_records(root))
    report = verify_journal(root)

    problem = caught.value.problems[0]
    assert problem.file == f"{DAYS[0]}/{seg.name}" and problem.line == 1
    assert not report.ok and any(p.line == 1 for p in report.problems)


# --- the CLI on damaged journals ----------------------------------------------------------------

_CLI = CliRunner()
_COMMANDS = [["journal", "verify"], ["journal", "stats"], ["journal", "tail"], ["replay"],
             ["report", "feed", "--journal-dir"], ["report", "pnl", "--journal-dir"]]


@pytest.fixture(scope="module")
def pristine_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal written by the runtime loop (inputs and decisions): replay checks it clean."""
    root = tmp_path_factory.mktemp("fuzz-journal-run") / "journal"
    writer = JournalWriter.open(root, segment_max_bytes=1500,
                                durability=Durability(policy="none"))
    loop = EngineLoop(writer, Engine(), lambda decision: None, Counters())
    loop.handle(markets_loaded(MIDNIGHT_NS - 30 * SECOND_NS))
    texts = [*opening_frames(), '{"event_type":"book"}', "garbage",
             '[1,{"event_type":"price_change","price_changes":[{"asset_id":"11","price":"0.41",'
             '"size":"5","side":"BUY"}]}]']
    for i in range(40):
        loop.handle(Frame(MIDNIGHT_NS - 20 * SECOND_NS + i * SECOND_NS, "market-0",
                          texts[i % len(texts)]))
        writer.sync()
    writer.close()
    for args in _COMMANDS:
        result = _CLI.invoke(app, [*args, str(root)])
        assert result.exit_code == 0, (args, result.output)
    return root


_ANY_DAMAGE = st.one_of(
    st.tuples(st.just("segment"), st.tuples(st.integers(0, 100), _SEGMENT_DAMAGE)),
    st.tuples(st.just("manifest"), st.tuples(st.sampled_from(DAYS), _manifest_damage())),
    st.tuples(st.just("files"), st.tuples(_FILE_DAMAGE, st.integers(0, 100))),
)


def _damage_any(root: Path, where: str, how: Any) -> None:
    if where == "segment":
        segs = _segments(root)
        seg = segs[how[0] % len(segs)]
        seg.write_bytes(_damage(seg.read_bytes(), *how[1]))
    elif where == "manifest":
        _damage_manifest(root / how[0] / layout.MANIFEST_NAME, *how[1])
    else:
        _damage_files(root, *how)


@fuzz(25)
@given(_ANY_DAMAGE, st.sampled_from(_COMMANDS))
@example(("segment", (1, ("flip", 30, 2))), ["journal", "stats"])  # bug: JournalCorrupt traceback
@example(("segment", (0, ("append", 0, b"x"))), ["journal", "tail"])  # bug: the same
@example(("segment", (2, ("insert", 100, b"\xff\xfe"))), ["report", "pnl", "--journal-dir"])
def test_fuzz_journal_cli_on_a_damaged_journal_exits_with_a_message_not_a_traceback(
        pristine_run: Path, damage: tuple[str, Any], args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        shutil.copytree(pristine_run, root)
        _damage_any(root, *damage)

        with _deadline():
            result = _CLI.invoke(app, [*args, str(root)])

    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output
    assert result.exit_code == 0 or "error" in result.output or "corrupt" in result.output
