# Crash-harness child: appends to a journal until it is SIGKILLed, reporting what it is doing.
#
#   python crash_child.py serve        read one JSON config per stdin line; for each, fork a worker,
#                                      print "pid <pid>", wait for it, print "exit <pid> <code>".
#                                      (Forking from a warm process keeps 1000 kills fast.)
#   python crash_child.py run <json>   be one worker in this process.
#
# A worker prints, one line per os.write (a kill never leaves half a report):
#   open <next_seq> <bytes_dropped> <last_good_seq>   after crash recovery
#   d <seq>                  durable_seq advanced (printed only after the fsync returned)
#   f <day>/<segment> <size> that segment file is fsynced up to <size> bytes (power-loss model)
#   w <day>/<segment> <size> bytes written to it, not (yet) fsynced (only with cfg "power")
#   p <phase> / p -          entering / leaving a phase: open, seg_roll, day_roll, day_first,
#                            day_reopen, manifest, seal, parquet_copy, close (phases nest:
#                            seg_roll/manifest, seal/parquet_copy)
#   k <phases> <step> <tag>  it kills itself now (a targeted kill, see Probe)
#   sealed <day>             seal_day returned for that day
#   error <repr>             any exception (the parent fails the test with it)
#
# Rules: the journal code runs unmodified; the worker only wraps its functions to report phases
# and fsynced offsets, and (targeted kills) to SIGKILL itself at the n-th step of the n-th
# occurrence of a phase, where a step is a phase entry or any os call of the journal modules.
# Payloads are a pure function of (run, n) so the parent can check every surviving record.
from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyarb.events import OrderRejected, StateCheckpoint
from polyarb.journal import Durability, JournalWriter, layout, recovery, seal, segment
from polyarb.journal.days import DayFiles
from polyarb.journal.segment import SegmentFile

DAY_NS = 86_400 * 1_000_000_000


def say(message: str) -> None:
    os.write(1, (message + "\n").encode())  # one write: a kill never leaves half a report


def pad(run: int, n: int) -> str:
    """Deterministic filler that makes a raw frame ~400 bytes."""
    return hashlib.sha256(b"%d:%d" % (run, n)).hexdigest() * 5


def frame_text(run: int, n: int) -> str:
    return f'{{"run":{run},"n":{n},"pad":"{pad(run, n)}"}}'


def order_event(run: int, n: int, ts: int) -> OrderRejected:
    return OrderRejected(ts_recv_ns=ts, client_order_id=f"{run}-{n}", reason=pad(run, n)[:40])


class Probe:
    """Phase markers of one worker, and its optional self-kill point.

    `target` is [phase, nth, step]: on the nth entry into `phase`, count steps (the entry is
    step 0, then every nested phase entry and os call) and die at step `step`, or when the
    phase is left if it has fewer steps.
    """

    def __init__(self, target: list[Any] | None) -> None:
        self.stack: list[str] = []
        self.entries: Counter[str] = Counter()
        self.target = target
        self.armed = False
        self.steps = 0

    def enter(self, name: str) -> None:
        say(f"p {name}")
        self.stack.append(name)
        self.entries[name] += 1
        if self.target and name == self.target[0] and self.entries[name] == self.target[1]:
            self.armed = True
        self.step(name)

    def leave(self) -> None:
        if self.armed and self.stack[-1] == self.target[0]:  # type: ignore[index]
            self.die("exit")
        self.stack.pop()
        say("p -")

    def step(self, tag: str) -> None:
        if not self.armed:
            return
        assert self.target is not None
        if self.steps == self.target[2]:
            self.die(tag)
        self.steps += 1

    def die(self, tag: str) -> None:
        say(f"k {'/'.join(self.stack)} {self.steps} {tag}")
        os.kill(os.getpid(), signal.SIGKILL)


PROBE = Probe(None)


def _phase(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        PROBE.enter(name)
        result = fn(*args, **kwargs)
        PROBE.leave()
        return result

    return wrapper


class _OsSteps:
    """Stands in for `os` inside one journal module: every call is a step of the probe."""

    def __init__(self, tag: str) -> None:
        self._tag = tag

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            PROBE.step(f"{self._tag}.{name}")
            return real(*args, **kwargs)

        return call


def instrument() -> None:
    """Wrap the journal's functions (once, in the fork server, so every worker inherits it)."""
    for module in (layout, segment, seal, recovery):
        module.os = _OsSteps(module.__name__.rsplit(".", 1)[-1])  # type: ignore[attr-defined]
    layout.write_manifest = _phase("manifest", layout.write_manifest)
    seal._write_parquet = _phase("parquet_copy", seal._write_parquet)  # DuckDB's COPY
    for name in ("_verify_parquet", "_publish"):
        setattr(seal, name, _stepped(name, getattr(seal, name)))
    _wrap_writer()
    _wrap_sync()


def _stepped(tag: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        PROBE.step(tag)
        return fn(*args, **kwargs)

    return wrapper


def _wrap_writer() -> None:
    open_ = JournalWriter.open.__func__  # type: ignore[attr-defined]
    JournalWriter.open = classmethod(_phase("open", open_))  # type: ignore[method-assign, assignment]
    roll = JournalWriter._maybe_roll
    prepare = JournalWriter._prepare_files

    def maybe_roll(self: JournalWriter) -> None:
        seg = self._files.segment
        if seg is None or seg.size < self._seg_max:
            roll(self)
        else:
            _phase("seg_roll", roll)(self)

    def prepare_files(self: JournalWriter, ts: int) -> None:
        files = self._files
        if files.manifest is None:
            name = "day_first"
        elif ts >= files.day_end:
            name = "day_roll"
        else:
            name = "day_reopen"
        _phase(name, prepare)(self, ts)

    JournalWriter._maybe_roll = maybe_roll  # type: ignore[method-assign]
    JournalWriter._prepare_files = prepare_files  # type: ignore[method-assign]
    DayFiles.close_day = _stepped("close_day", DayFiles.close_day)  # type: ignore[method-assign]


def _report_writes() -> None:
    write = SegmentFile.write

    def written(self: SegmentFile, data: bytes, records: int) -> None:
        write(self, data, records)
        say(f"w {self.path.parent.name}/{self.path.name} {self.size}")

    SegmentFile.write = written  # type: ignore[method-assign]


def _wrap_sync() -> None:
    sync = SegmentFile.sync
    truncate = recovery._truncate_and_sync

    def synced(self: SegmentFile) -> None:
        size = self.size  # read first: a background fsync covers what was written before it
        sync(self)
        say(f"f {self.path.parent.name}/{self.path.name} {size}")

    def truncated(path: Path, size: int) -> None:
        truncate(path, size)
        say(f"f {path.parent.name}/{path.name} {size}")

    SegmentFile.sync = synced  # type: ignore[method-assign]
    recovery._truncate_and_sync = truncated


def _open(cfg: dict[str, Any]) -> JournalWriter:
    policy = Durability(
        policy=cfg["policy"], batch_ms=cfg["batch_ms"], batch_records=cfg["batch_records"]
    )

    def hook(at_seq: int) -> StateCheckpoint:
        return StateCheckpoint(ts_recv_ns=cfg["ts"], at_seq=at_seq, state_hash=f"h{at_seq}")

    return JournalWriter.open(
        cfg["root"],
        durability=policy,
        segment_max_bytes=cfg["seg"],
        checkpoint_hook=hook if cfg["hook"] else None,
    )


def _seal_older_days(root: Path, rng: random.Random) -> None:
    """Seal the closed days before the newest (the writer's own day can change)."""
    days = layout.list_days(root)[:-1]
    todo = [d for d in days[-3:] if layout.read_manifest(root / d).sealed is None]
    if days and rng.random() < 0.4:  # a deleted copy is rebuilt (its seal record stays)
        victim = rng.choice(days)
        (root / victim / layout.SEALED_NAME).unlink(missing_ok=True)
        todo.insert(0, victim)
    for day in todo:
        _phase("seal", seal.seal_day)(root / day)
        say(f"sealed {day}")


def _next_ts(cfg: dict[str, Any], rng: random.Random, ts: int) -> int:
    day_every = cfg.get("day_every")  # records per UTC day, on average
    if day_every:
        return ts + rng.randrange(2 * DAY_NS // day_every)
    return ts + rng.randrange(cfg["step"])


def work(cfg: dict[str, Any]) -> None:
    global PROBE
    PROBE = Probe(cfg.get("target"))
    if cfg.get("power"):
        _report_writes()
    rng = random.Random(cfg["seed"])
    w = _open(cfg)
    rec = w.recovered
    say(f"open {w.next_seq} {rec.bytes_dropped if rec else 0} {rec.last_good_seq if rec else 0}")
    reported = w.durable_seq
    say(f"d {reported}")
    run, ts = cfg["run"], cfg["ts"]
    day = None
    for n in range(cfg["max"]):
        ts = _next_ts(cfg, rng, ts)
        roll = rng.random()
        if roll < 0.5:
            w.append_raw_frame(ts, "market-0", frame_text(run, n))
        elif roll < 0.52:
            w.append_durable(order_event(run, n, ts))
        else:
            w.append(order_event(run, n, ts))
        if roll > 0.97:
            w.poll()
        if w.durable_seq > reported:
            reported = w.durable_seq
            say(f"d {reported}")
        if cfg.get("seal") and w._files.manifest is not None and w._files.manifest.day != day:
            day = w._files.manifest.day
            _seal_older_days(Path(cfg["root"]), rng)
    say(f"d {w.sync()}")
    if cfg.get("close"):
        _phase("close", w.close)()
    os._exit(0)  # without close: still a crash


def _worker(cfg: dict[str, Any]) -> int:
    try:
        work(cfg)
    except BaseException as exc:  # report anything, the parent fails the test with it
        say(f"error {exc!r}")
        return 3
    return 0


def serve() -> None:
    instrument()
    for line in sys.stdin:
        cfg = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os._exit(_worker(cfg))
        say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    else:
        instrument()
        sys.exit(_worker(json.loads(sys.argv[2])))
