# Crash harness: SIGKILL a journal writer at random and at targeted moments (200 kills by default;
# POLYARB_CRASH_KILLS raises it; POLYARB_CRASH_SEED replays the same configs and targeted kills,
# while random-moment kills depend on timing; bench/bench_torture.py prints a summary table) and
# check, after every kill:
#   - reopening for writing succeeds (crash recovery);
#   - every seq the child reported durable is present and intact (CRC, seq, payload);
#   - a torn tail (the parent adds some, as a power loss would) never survives;
#   - seqs continue without reuse: a line once seen never changes (after a simulated power loss:
#     a line that survived never changes; the lost ones were never reported durable);
#   - verify is clean after recovery (before it: only the repairable crash leftovers), and the
#     DuckDB views of a crashed journal show each complete record once;
#   - a Parquet copy is either ignored (no seal record) or complete and equal to its segments.
#
# Modes (one per journal, in turn) concentrate the kills: `mixed` (the original harness), `seg`
# (tiny segments: a roll every batch), `day` (a UTC day every few records: the writer puts a
# record in the day of its ts_recv_ns, so the child's timestamps cross midnight), `seal` (the
# worker seals each closed day and rebuilds deleted copies). Each worker reports the phase it
# enters (crash_child.Probe), so every kill is counted by phase. Kills are targeted (the child
# kills itself at a chosen step, i.e. os call, of a chosen phase), aimed (the parent kills at a
# random moment inside DuckDB's COPY) or random. ~30% of rounds are a power loss: every segment
# is cut back to what the child reported fsynced (test_crash_checks.power_loss). Directory
# operations need no power-loss model: the journal fsyncs the directory after each create,
# rename and mkdir before doing anything else, so an unsynced one equals a kill just before it,
# which the targeted kills cover.
#
# Rules: the child (crash_child.py) is a fork server started once with sys.executable, so each
# kill costs milliseconds; journals are reused for a few rounds to keep the checks cheap.
from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from polyarb.events import JournalRecovered, OrderRejected, RawFrame, decode_record
from polyarb.journal import (
    Durability,
    JournalWriter,
    iter_lines,
    iter_records,
    layout,
    verify_journal,
)

HERE = Path(__file__).parent
CHILD = HERE / "crash_child.py"
KILLS = int(os.environ.get("POLYARB_CRASH_KILLS", "200"))
SEED = int(os.environ.get("POLYARB_CRASH_SEED", "20251227"))
ROUNDS_PER_JOURNAL = 10
DAY_NS = 86_400 * 1_000_000_000
MODES = ("mixed", "seg", "day", "seal")
# Phases a targeted kill aims at, per mode: (most occurrences a worker goes through, most os calls
# one occurrence makes). A worker opens once and reopens a day at most once.
TARGETS = {
    "mixed": {"open": (1, 14), "seg_roll": (3, 16), "day_reopen": (1, 12), "close": (1, 30)},
    "seg": {"seg_roll": (4, 16), "manifest": (6, 9), "open": (1, 14)},
    "day": {"day_roll": (4, 30), "manifest": (8, 9), "day_reopen": (1, 12), "open": (1, 14)},
    "seal": {"seal": (2, 20), "manifest": (6, 9), "day_roll": (2, 30)},
}
TARGET_WAIT_S = 0.3  # a targeted worker that has not died by then is killed at random


def load(name: str) -> ModuleType:
    """A sibling module of this file (pytest's importlib mode puts none on sys.path)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class Server:
    """The fork server and a thread that queues its stdout lines."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put("eof")

    def start(self, cfg: dict[str, Any]) -> tuple[int, list[str]]:
        """Fork a worker; return its pid and the lines it printed before the server said so."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cfg).encode() + b"\n")
        self.proc.stdin.flush()
        early: list[str] = []
        while not (line := self.next_line()).startswith("pid "):
            early.append(line)
        return int(line.split()[1]), early

    def next_line(self, timeout: float = 120) -> str:
        line = self.lines.get(timeout=timeout)
        assert line != "eof", "the fork server died"
        return line

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()


class Model:
    """What the parent knows about one journal: lines seen, durable seq and fsynced offsets."""

    def __init__(self, root: Path, mode: str) -> None:
        self.root = root
        self.mode = mode
        self.crcs: dict[int, bytes] = {}
        self.next_n: dict[int, int] = {}
        self.max_seq = 0
        self.last_ts = 0
        self.durable = 0  # highest seq any worker reported fsynced
        self.synced: dict[str, int] = {}  # "day/segment" -> bytes known to be fsynced
        self.seals_checked: set[tuple[str, str]] = set()

    def absorb(self, stats: Counter[str]) -> None:
        """Read every complete line; old lines must be unchanged, new ones must be well formed."""
        last = 0
        for _path, seq, line in iter_lines(self.root):  # CRC and seq continuity checked
            crc = line[-12:-3]
            if seq in self.crcs:
                assert self.crcs[seq] == crc, f"seq {seq} changed after it was seen"
            else:
                self.crcs[seq] = crc
                self._check_payload(line)
            last = seq
            stats["records checked"] += 1
        assert last >= self.durable, f"durable seq {self.durable} lost (journal ends at {last})"
        assert last >= self.max_seq, f"seq {self.max_seq} seen before, journal ends at {last}"
        self.max_seq = last

    def forget_after(self, last: int) -> None:
        """A power loss dropped every seq after `last` (none of them reported durable)."""
        assert last >= self.durable, f"durable seq {self.durable} lost (journal ends at {last})"
        for seq in [s for s in self.crcs if s > last]:
            del self.crcs[seq]
        self.max_seq = min(self.max_seq, last)

    def all_synced(self) -> None:
        """A clean close fsynced every segment."""
        self.synced = {f"{p.parent.name}/{p.name}": p.stat().st_size for p in segments(self.root)}

    def _check_payload(self, line: bytes) -> None:
        event = decode_record(line).event
        self.last_ts = max(self.last_ts, event.ts_recv_ns)
        if isinstance(event, RawFrame):
            frame = orjson.loads(bytes(event.frame))
            run, n = frame["run"], frame["n"]
            assert frame["pad"] == load("crash_child").pad(run, n)
        elif isinstance(event, OrderRejected):
            run, n = map(int, event.client_order_id.split("-"))
            assert event == load("crash_child").order_event(run, n, event.ts_recv_ns)
        else:
            return  # the writer's own notes: day_opened, journal_recovered, state_checkpoint
        assert n == self.next_n.get(run, 0), f"run {run}: record {n} out of order"
        self.next_n[run] = n + 1


def segments(root: Path) -> Iterator[Path]:
    for day in layout.list_days(root):
        yield from sorted((root / day).glob("seg-*.ndjson"))


def _config(rng: random.Random, model: Model, run: int, power: bool) -> dict[str, Any]:
    ts = model.last_ts + 1 if model.last_ts else 1_766_793_600 * 10**9 - DAY_NS // 2
    jump = rng.random()
    if jump < 0.3:  # just before the next UTC midnight: the run crosses it
        ts = (ts // DAY_NS + 1) * DAY_NS - rng.randrange(500_000)
    elif jump < 0.35:  # the clock stepped back an hour: records stay in the current day
        ts -= 3600 * 10**9
    cfg = {
        "root": str(model.root),
        "run": run,
        "seed": rng.randrange(2**32),
        "policy": rng.choice(["batch", "batch", "always", "none"]),
        "batch_ms": rng.choice([0, 1, 2, 5]),
        "batch_records": rng.choice([1, 7, 50, 300]),
        "seg": rng.choice([2048, 8192, 65536]),
        "hook": rng.random() < 0.3,
        "ts": ts,
        "step": 10_000,
        "max": rng.randrange(50, 4000),
        "close": rng.random() < 0.1,
    }
    cfg.update(_mode_config(rng, model.mode))
    if power and rng.random() < 0.85:  # written but not fsynced: a tail for the power loss
        cfg.update(policy="none", batch_records=rng.choice([1, 7, 50]), power=True)
        cfg["writes"] = rng.randrange(1, 4)
    elif model.mode == "seal" and rng.random() < 0.5:  # inside DuckDB's COPY (one call)
        cfg["aim"] = ["parquet_copy", rng.randrange(1, 3), rng.uniform(0, 0.005)]
    elif rng.random() < 0.5:
        phases = TARGETS[model.mode]
        phase = rng.choice(sorted(phases))
        nth, steps = phases[phase]
        cfg["target"] = [phase, rng.randrange(1, nth + 1), rng.randrange(steps + 1)]
        cfg["close"] = cfg["close"] or phase == "close"
    return cfg


def _mode_config(rng: random.Random, mode: str) -> dict[str, Any]:
    if mode == "seg":  # a roll after (nearly) every batch
        return {"seg": rng.choice([200, 600, 1500]), "max": rng.randrange(20, 300)}
    if mode == "day":  # a new UTC day every few records
        return {"day_every": rng.choice([2, 4, 10]), "max": rng.randrange(5, 60)}
    if mode == "seal":  # a few days per run, each sealed once closed
        return {"day_every": rng.choice([20, 60]), "max": rng.randrange(40, 300), "seal": True}
    return {}


def _kill_run(server: Server, rng: random.Random, cfg: dict[str, Any]) -> Any:
    """Start a worker, SIGKILL it at a random moment (unless it kills itself first)."""
    pid, lines = server.start(cfg)
    if "target" in cfg:  # it dies at its target step; if that never comes, a random kill
        _wait(server, lines, lambda: False)
    elif "aim" in cfg:  # at a random moment inside the nth occurrence of a phase
        phase, nth, delay = cfg["aim"]
        _wait(server, lines, lambda: lines.count(f"p {phase}") >= nth)
        time.sleep(delay)
    elif cfg.get("power"):  # right after a write that is not fsynced yet
        _wait(server, lines, lambda: _unsynced_writes(lines) >= cfg["writes"])
    elif rng.random() < 0.5:
        time.sleep(rng.uniform(0, 0.1 if cfg.get("seal") else 0.03))
    else:
        wanted = rng.randrange(1, 6)
        while sum(1 for x in lines if x.startswith("d ")) < wanted and not _ended(lines):
            lines.append(server.next_line())
    if not _ended(lines):
        with contextlib.suppress(ProcessLookupError):  # it may have finished by itself first
            os.kill(pid, signal.SIGKILL)
    while not (lines and lines[-1].startswith("exit")):
        lines.append(server.next_line())
    return load("test_crash_checks").Outcome(lines[:-1], int(lines[-1].split()[2]))


def _wait(server: Server, lines: list[str], done: Callable[[], bool]) -> None:
    """Collect the worker's lines until `done()`, its exit, or TARGET_WAIT_S."""
    deadline = time.monotonic() + TARGET_WAIT_S
    while not _ended(lines) and not done() and (left := deadline - time.monotonic()) > 0:
        with contextlib.suppress(queue.Empty):
            lines.append(server.next_line(left))


def _unsynced_writes(lines: list[str]) -> int:
    """Writes since the last fsync."""
    n = 0
    for line in reversed(lines):
        if line.startswith("f "):
            break
        n += line.startswith("w ")
    return n


def _ended(lines: list[str]) -> bool:
    return bool(lines) and lines[-1].startswith(("exit", "error"))


def _reopen_and_check(model: Model, torn: int, stats: Counter[str]) -> None:
    with JournalWriter.open(model.root, durability=Durability(policy="none")) as w:
        report = w.recovered
        assert w.next_seq > max(model.durable, model.max_seq)
        if torn:
            assert report is not None and report.bytes_dropped >= torn
    model.all_synced()
    for action in report.actions if report else ():
        stats["repair: " + _action_kind(action)] += 1
    if report is not None and report.bytes_dropped:
        after = list(iter_records(model.root, report.last_good_seq + 1))[:3]
        notes = [r.event for r in after if isinstance(r.event, JournalRecovered)]
        assert notes and notes[0].bytes_dropped == report.bytes_dropped
    for path in segments(model.root):
        assert load("test_crash_checks").TORN_MARK not in path.read_bytes()
    result = verify_journal(model.root)
    assert result.ok, result.problems[:5]


def _action_kind(action: str) -> str:
    words = [w for w in action.split() if "/" not in w and not w.strip("(),").isdigit()]
    return " ".join(words[:4])


def _round(server: Server, rng: random.Random, model: Model, run: int, stats: Counter[str]) -> None:
    power = rng.random() < 0.3
    cfg = _config(rng, model, run, power)
    out = _kill_run(server, rng, cfg)
    model.durable = max(model.durable, out.durable)
    for _f, name, size in out.synced:
        model.synced[name] = max(model.synced.get(name, 0), int(size))
    if not (model.root / layout.LOCK_NAME).exists():
        assert out.durable == 0  # killed before the journal existed
        return
    checks = load("test_crash_checks")
    checks.count_kill(out, cfg, stats)
    if power:
        checks.power_loss(rng, model, stats)
    torn = checks.tear(rng, model.root)
    stats["torn tails added"] += bool(torn)
    reopened = rng.random() < 0.6
    if reopened:
        _reopen_and_check(model, torn, stats)
        if model.mode == "seal" and rng.random() < 0.3:
            checks.seal_newest(model, stats)  # the next worker reopens the day: drops the seal
    else:  # leave the recovery to the next worker; readers must cope meanwhile
        result = verify_journal(model.root)
        assert result.problems == result.repairable, result.problems[:5]
    model.absorb(stats)
    if not reopened and model.mode in ("day", "seal"):  # few segments: the views bind fast
        checks.check_views_crashed(model, stats)
    checks.check_seals(model, stats)


def torture(base: Path, kills: int, seed: int, stats: Counter[str] | None = None) -> Counter[str]:
    """Run rounds until `kills` workers died by SIGKILL; journals go under `base`.

    Raises:
        AssertionError: a check failed; its notes say the seed, journal and run to replay.
    """
    stats = Counter() if stats is None else stats
    rng = random.Random(seed)
    server = Server()
    run = 0
    try:
        for j in itertools.count():
            if stats["kills"] >= kills:
                break
            model = Model(base / f"journal-{j}", MODES[j % len(MODES)])
            for _ in range(ROUNDS_PER_JOURNAL):
                with _replay_note(seed, model, run):
                    _round(server, rng, model, run, stats)
                run += 1
            with _replay_note(seed, model, run):
                _final(model, stats)
            stats["journals"] += 1
            stats["days"] += len(layout.list_days(model.root))
    finally:
        server.close()
    return stats


def _final(model: Model, stats: Counter[str]) -> None:
    _reopen_and_check(model, 0, stats)
    model.absorb(stats)
    checks = load("test_crash_checks")
    if model.mode == "seal":  # the views over thousands of tiny segments are slow to bind
        checks.check_views(model, stats)
    checks.count_leftovers(model, stats)
    stats["unique records checked"] += len(model.crcs)


@contextlib.contextmanager
def _replay_note(seed: int, model: Model, run: int) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        exc.add_note(f"crash torture: seed {seed}, {model.root.name} ({model.mode}), run {run}")
        raise


@pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGKILL")
def test_crash_sigkill_in_every_phase_loses_no_durable_record(tmp_path: Path) -> None:
    stats = torture(tmp_path, KILLS, SEED)
    print(dict(sorted(stats.items())))
    assert stats["kills"] >= KILLS
    for phase in ("append", "open", "seg_roll", "day_roll", "seal"):
        assert stats[f"phase {phase}"] > 0, phase
    assert stats["phase (any) manifest write"] > 0
    assert stats["path seal/parquet_copy"] > 0
    assert stats["power-loss unsynced tails cut"] > 0
    assert stats["seal copies checked equal to segments"] > 0
