# Parts of the crash harness (test_crash.py): kill accounting, torn tails, power loss and the
# checks of sealed Parquet copies; plus focused tests of the same properties without fork.
#
# Kills: what a worker printed says how it died and in which phase (crash_child.py's protocol).
#
# Torn tails: the parent also appends garbage or zeros to the open segment (tear), as a power
# loss in the middle of a write might; recovery must cut all of it.
#
# Power loss: every segment is cut back to the bytes the child reported fsynced; the unsynced
# tail is dropped (60%), partly kept (a random prefix, which may end mid-record: a torn record) or
# replaced by zeros (the size reached the disk, the data did not). Temporary files are cut at a
# random length. A closed segment is always fully fsynced, so only open segments lose bytes.
#
# Parquet: a `sealed.parquet` is either ignored by readers (no seal record in the manifest: a
# crash between publishing the file and recording it) or matches its seal record byte for byte
# and holds exactly the rows of its segments. Temporary copies are never read by anyone.
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from polyarb.events import OrderRejected
from polyarb.journal import Durability, JournalWriter, iter_lines, layout, verify_journal
from polyarb.journal.scan import read_manifest_or_none
from polyarb.journal.seal import file_sha256, seal_day
from polyarb.reports import open_journal_db, scan
from polyarb.reports.sources import plan_day

MIDNIGHT_NS = 1_766_793_600 * 1_000_000_000
TORN_MARK = b"TORN-TAIL-MARK"


class Outcome:
    """What one worker printed before it died: durable seq, fsynced offsets, phase at death."""

    def __init__(self, lines: list[str], code: int) -> None:
        assert not [x for x in lines if x.startswith("error")], lines
        self.killed = code == -signal.SIGKILL
        self.durable = max((int(x.split()[1]) for x in lines if x.startswith("d ")), default=0)
        self.synced = [x.split() for x in lines if x.startswith("f ")]
        self.step = next((x.split()[3] for x in lines if x.startswith("k ")), None)
        self.targeted = self.step is not None
        opened = [x.split() for x in lines if x.startswith("open ")]
        self.dropped = int(opened[0][2]) if opened else 0  # torn bytes its recovery cut
        self.phase = _phase_at_death(lines) if self.killed else "exited"


def _phase_at_death(lines: list[str]) -> str:
    stack: list[str] = []
    for line in lines:
        if line.startswith("k "):
            return line.split()[1]
        if line == "p -":
            stack.pop()
        elif line.startswith("p "):
            stack.append(line[2:])
    if stack:
        return "/".join(stack)
    return "append" if any(x.startswith("open ") for x in lines) else "start"


def count_kill(out: Outcome, cfg: dict[str, Any], stats: Counter[str]) -> None:
    if not out.killed:
        stats["rounds without a kill (worker exited)"] += 1
        return
    stats["kills"] += 1
    how = "targeted" if out.targeted else "aimed" if "aim" in cfg else "random"
    stats[f"kills {how}"] += 1
    stats["torn tails cut by a worker's recovery"] += out.dropped > 0
    stats[f"path {out.phase}"] += 1
    if out.step is not None and "manifest" in out.phase:
        stats[f"manifest write killed {_step_name(out.step)}"] += 1
    top = out.phase.split("/")
    stats[f"phase {top[0]}"] += 1
    if "manifest" in top[1:]:
        stats[f"phase {top[0]}/manifest"] += 1
    if "manifest" in top:
        stats["phase (any) manifest write"] += 1


def _step_name(tag: str) -> str:
    if tag == "manifest":
        return "at its start"
    if tag == "exit":
        return "after it returned"
    return f"before os.{tag.rsplit('.', 1)[-1]}"


def _segments(root: Path) -> list[Path]:
    return [p for day in layout.list_days(root) for p in sorted((root / day).glob("seg-*.ndjson"))]


def power_loss(rng: random.Random, model: Any, stats: Counter[str]) -> None:
    """Drop (or tear, or zero) what was not fsynced, then forget the seqs that went with it."""
    stats["power-loss rounds"] += 1
    closed = _closed_segments(model.root)
    for path in _segments(model.root):
        name = f"{path.parent.name}/{path.name}"
        size, durable = path.stat().st_size, model.synced.get(name, 0)
        assert size >= durable, f"{name}: {size} bytes on disk but {durable} were fsynced"
        assert name not in closed or size == durable, f"{name} closed before all of it was fsynced"
        if size > durable:
            stats["power-loss unsynced tails cut"] += 1
            stats["power-loss bytes dropped"] += _cut(rng, path, durable, size, stats)
    for tmp in sorted(model.root.glob("*/*.tmp*")):
        _truncate(tmp, rng.randrange(tmp.stat().st_size + 1))
    last = 0
    for _path, seq, _line in iter_lines(model.root):
        last = seq
    model.forget_after(last)


def _closed_segments(root: Path) -> set[str]:
    """The segments some manifest lists as closed (their bytes are final)."""
    out: set[str] = set()
    for day in layout.list_days(root):
        m, _why = read_manifest_or_none(root / day)
        out.update(f"{day}/{s.name}" for s in (m.segments if m else ()) if s.closed)
    return out


def _cut(rng: random.Random, path: Path, durable: int, size: int, stats: Counter[str]) -> int:
    """Cut one file's unsynced tail; return the bytes of it lost."""
    draw = rng.random()
    keep, zeros = 0, 0
    if draw < 0.25:
        keep = rng.randrange(size - durable)
        stats["power-loss tails partly kept"] += 1
    elif draw < 0.4:
        zeros = rng.randrange(1, size - durable + 1)
        stats["power-loss tails zero-filled"] += 1
    _truncate(path, durable + keep)
    if zeros:
        with open(path, "ab") as f:
            f.write(b"\0" * zeros)
    return size - durable - keep


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def tear(rng: random.Random, root: Path) -> int:
    """Append a torn fragment to the newest open segment, as a power loss might; return its size."""
    days = layout.list_days(root)
    if not days or rng.random() < 0.75 or not (root / days[-1] / layout.MANIFEST_NAME).exists():
        return 0
    m = layout.read_manifest(root / days[-1])
    if not m.segments or m.segments[-1].closed:
        return 0
    path = root / days[-1] / m.segments[-1].name
    if not path.exists():
        return 0
    fragment = b'{"seq":' + TORN_MARK + bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if rng.random() < 0.3:
        fragment = b"\0" * rng.randrange(1, 9000)
    fragment = fragment.replace(b"\n", b" ")
    with open(path, "ab") as f:
        f.write(fragment)
    return len(fragment)


def seal_newest(model: Any, stats: Counter[str]) -> None:
    """Seal the (closed) newest day, so that the next worker's reopen must drop the seal."""
    days = layout.list_days(model.root)
    if not days or not layout.read_manifest(model.root / days[-1]).records:
        return  # killed before the first record
    seal_day(model.root / days[-1])
    stats["newest day sealed (a reopen must drop it)"] += 1


def check_seals(model: Any, stats: Counter[str]) -> None:
    """Every sealed.parquet is ignored (no seal record) or complete and equal to its segments."""
    root = model.root
    for day in layout.list_days(root):
        day_dir = root / day
        names = sorted(p.name for p in day_dir.iterdir() if p.name.startswith(layout.SEALED_NAME))
        if layout.SEALED_NAME not in names:
            continue
        m, _why = read_manifest_or_none(day_dir)
        plan = plan_day(root, day)
        if m is None or m.sealed is None:
            assert plan is None or plan.parquet is None, f"{day}: unrecorded copy is read"
            stats["seal copies ignored (no seal record)"] += 1
            continue
        path = day_dir / layout.SEALED_NAME
        digest = file_sha256(path)
        assert digest == m.sealed.sha256, f"{day}: sealed.parquet differs from its seal record"
        assert plan is not None and plan.parquet == path
        if (day, digest) not in model.seals_checked:
            assert _parquet_rows(path) == _segment_rows(day_dir, m), f"{day}: copy != segments"
            model.seals_checked.add((day, digest))
            stats["seal copies checked equal to segments"] += 1


def count_leftovers(model: Any, stats: Counter[str]) -> None:
    """Temporary files a crash left after recovery (harmless: nothing reads them)."""
    for tmp in model.root.glob("*/*.tmp*"):
        kind = "sealed.parquet.tmp-*" if tmp.name.startswith(layout.SEALED_NAME) else tmp.name
        stats[f"leftover {kind} files"] += 1


def _parquet_rows(path: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(":memory:") as con:
        return con.execute(f"{scan.parquet_select(con, [path])} ORDER BY seq").fetchall()


def _segment_rows(day_dir: Path, m: layout.Manifest) -> list[tuple[Any, ...]]:
    paths = [day_dir / s.name for s in m.segments]
    with duckdb.connect(":memory:") as con:
        return con.execute(f"{scan.segments_select(paths)} ORDER BY seq").fetchall()


def check_views(model: Any, stats: Counter[str]) -> None:
    """The DuckDB views of a cleanly closed journal hold every record once, sealed or not."""
    with open_journal_db(model.root) as con:
        rows = con.execute("SELECT source, count(*) FROM journal_sources GROUP BY 1").fetchall()
        sources = dict(rows)
        got = con.execute("SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM events")
        count, first, last, distinct = got.fetchone() or (0, None, None, 0)
        assert (count, first, last, distinct) == (model.max_seq, 1, model.max_seq, model.max_seq)
        sealed = con.execute("SELECT * EXCLUDE (shard) FROM events ORDER BY seq").fetchall()
    if sources.get("parquet"):
        with open_journal_db(model.root, use_sealed=False) as con:
            plain = con.execute("SELECT * EXCLUDE (shard) FROM events ORDER BY seq").fetchall()
        assert sealed == plain, "the sealed days read differently from their segments"
        stats["days read from Parquet by the views"] += sources["parquet"]


def check_views_crashed(model: Any, stats: Counter[str]) -> None:
    """Readers of a crashed journal (before recovery) see each complete record once, no torn one."""
    if not layout.list_days(model.root):
        return  # killed before the first day: not a journal to query yet
    with open_journal_db(model.root) as con:
        got = con.execute("SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM events")
        row = got.fetchone()
    n = model.max_seq
    assert row == ((n, 1, n, n) if n else (0, None, None, 0)), f"views {row}, journal 1..{n}"
    stats["views over a crashed journal checked"] += 1


# ----------------------------------------------------------------------------- focused tests


def _append(w: JournalWriter, n: int, ts: int) -> None:
    for i in range(n):
        w.append(OrderRejected(ts_recv_ns=ts + i, client_order_id=f"c{i}", reason="r" * 40))


def _crash(w: JournalWriter) -> None:
    """What a SIGKILL leaves: files closed as they are, the lock released, nothing finalised."""
    w._files.abandon()
    assert w._lock is not None
    w._lock.release()


def test_power_loss_unsynced_tail_cut_mid_record_reopens_with_durable_records(
    tmp_path: Path,
) -> None:
    root = tmp_path / "j"
    w = JournalWriter.open(root, durability=Durability(policy="none", batch_records=1))
    _append(w, 10, MIDNIGHT_NS)
    durable = w.sync()
    assert w._files.segment is not None
    path = w._files.segment.path
    synced = path.stat().st_size
    _append(w, 10, MIDNIGHT_NS + 100)  # written one by one, never fsynced
    _crash(w)
    _truncate(path, synced + 57)  # the disk kept part of the unsynced tail: a torn record
    with JournalWriter.open(root) as w2:
        assert w2.recovered is not None and w2.recovered.bytes_dropped == 57
        assert w2.next_seq == durable + 2  # durable records, then the journal_recovered note
    assert verify_journal(root).ok
    assert [seq for _p, seq, _l in iter_lines(root)] == list(range(1, durable + 2))


def test_seal_crash_after_publish_before_record_copy_is_ignored_then_replaced(
    tmp_path: Path,
) -> None:
    root = tmp_path / "j"
    with JournalWriter.open(root) as w:
        _append(w, 5, MIDNIGHT_NS)
        _append(w, 5, MIDNIGHT_NS + 86_400 * 10**9)
    day = root / layout.list_days(root)[0]
    info = seal_day(day)
    m = layout.read_manifest(day)
    layout.write_manifest(day, msgspec.structs.replace(m, sealed=None))
    (day / layout.SEALED_NAME).write_bytes(b"PAR1 half a file")  # what a crash could leave
    plan = plan_day(root, day.name)
    assert plan is not None and plan.parquet is None
    with open_journal_db(root) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (12,)
    assert seal_day(day) == info  # same rows, same bytes: the half file is replaced
    assert verify_journal(root).ok


def test_seal_day_temp_copy_of_a_dead_sealer_is_deleted_a_live_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "j"
    with JournalWriter.open(root) as w:
        _append(w, 5, MIDNIGHT_NS)
        _append(w, 5, MIDNIGHT_NS + 86_400 * 10**9)
    day = root / layout.list_days(root)[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: no process has its pid any more
    stale = day / f"{layout.SEALED_NAME}.tmp-{dead.pid}"
    live = day / f"{layout.SEALED_NAME}.tmp-{os.getppid()}"  # a concurrent sealer, say
    for path in (stale, live):
        path.write_bytes(b"PAR1 half a copy")  # what a SIGKILL during DuckDB's COPY leaves
    seal_day(day)
    assert not stale.exists()
    assert live.exists()
    assert verify_journal(root).ok
