# Crash harness: SIGKILL a writer at random moments (200 times by default; POLYARB_CRASH_KILLS
# raises it, POLYARB_CRASH_SEED replays a run) and check, after every kill:
#   - reopening for writing succeeds (crash recovery);
#   - every seq the child reported durable is present and intact (CRC, seq, payload);
#   - a torn tail (including one the parent adds, as a power loss would) never survives;
#   - seqs continue without reuse: a line once seen never changes;
#   - verify is clean after a clean close (or reports only the torn tail before recovery).
#
# Rules: the child (crash_child.py) is a fork server started once with sys.executable, so each
# kill costs milliseconds; journals are reused for a few rounds to keep the checks cheap.
from __future__ import annotations

import contextlib
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
from collections.abc import Iterator
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

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = int(os.environ.get("POLYARB_CRASH_KILLS", "200"))
SEED = int(os.environ.get("POLYARB_CRASH_SEED", "20251227"))
ROUNDS_PER_JOURNAL = 10
TORN_MARK = b"TORN-TAIL-MARK"
DAY_NS = 86_400 * 1_000_000_000
STATS: Counter[str] = Counter()  # what the kills hit, printed at the end (pytest -s)


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

    def next_line(self) -> str:
        line = self.lines.get(timeout=60)
        assert line != "eof", "the fork server died"
        return line

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()


class Model:
    """What the parent knows about one journal: every line seen, and each run's next payload."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.crcs: dict[int, bytes] = {}
        self.next_n: dict[int, int] = {}
        self.max_seq = 0
        self.last_ts = 0

    def absorb(self, durable: int) -> None:
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
        assert last >= durable, f"durable seq {durable} lost (journal ends at {last})"
        assert last >= self.max_seq, f"seq {self.max_seq} seen before, journal ends at {last}"
        self.max_seq = last

    def _check_payload(self, line: bytes) -> None:
        event = decode_record(line).event
        self.last_ts = max(self.last_ts, event.ts_recv_ns)
        if isinstance(event, RawFrame):
            frame = orjson.loads(bytes(event.frame))
            run, n = frame["run"], frame["n"]
            assert frame["pad"] == _child().pad(run, n)
        elif isinstance(event, OrderRejected):
            run, n = map(int, event.client_order_id.split("-"))
            assert event == _child().order_event(run, n, event.ts_recv_ns)
        else:
            return  # the writer's own notes: day_opened, journal_recovered, state_checkpoint
        assert n == self.next_n.get(run, 0), f"run {run}: record {n} out of order"
        self.next_n[run] = n + 1


def _child() -> ModuleType:
    # The payload functions live in crash_child.py; load it once as a module.
    if "crash_child" not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location("crash_child", CHILD)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["crash_child"] = module
    return sys.modules["crash_child"]


def _config(rng: random.Random, model: Model, run: int) -> dict[str, Any]:
    ts = model.last_ts + 1 if model.last_ts else 1_766_793_600 * 10**9 - DAY_NS // 2
    jump = rng.random()
    if jump < 0.3:  # just before the next UTC midnight: the run crosses it
        ts = (ts // DAY_NS + 1) * DAY_NS - rng.randrange(500_000)
    elif jump < 0.35:  # the clock stepped back an hour: records stay in the current day
        ts -= 3600 * 10**9
    return {
        "root": str(model.root),
        "run": run,
        "seed": rng.randrange(2**32),
        "policy": rng.choice(["batch", "batch", "always"]),
        "batch_ms": rng.choice([0, 1, 2, 5]),
        "batch_records": rng.choice([1, 7, 50, 300]),
        "seg": rng.choice([2048, 8192, 65536]),
        "hook": rng.random() < 0.3,
        "ts": ts,
        "step": 10_000,
        "max": rng.randrange(50, 4000),
    }


def _kill_run(server: Server, rng: random.Random, cfg: dict[str, Any]) -> tuple[list[str], int]:
    """Start a worker, SIGKILL it at a random moment; return its report lines and durable seq."""
    pid, lines = server.start(cfg)
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0, 0.03))
    else:
        wanted = rng.randrange(1, 6)
        while sum(1 for x in lines if x.startswith("d ")) < wanted:
            line = server.next_line()
            lines.append(line)
            if line.startswith(("exit", "error")):
                break
    if not any(x.startswith("exit") for x in lines):
        with contextlib.suppress(ProcessLookupError):  # it may have finished by itself first
            os.kill(pid, signal.SIGKILL)
        while not (lines and lines[-1].startswith("exit")):
            lines.append(server.next_line())
    assert not [x for x in lines if x.startswith("error")], lines
    durable = max((int(x.split()[1]) for x in lines if x.startswith("d ")), default=0)
    return lines, durable


def _tear(rng: random.Random, root: Path) -> int:
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


def _reopen_and_check(model: Model, torn: int, durable: int) -> None:
    with JournalWriter.open(model.root, durability=Durability(policy="none")) as w:
        report = w.recovered
        assert w.next_seq > max(durable, model.max_seq)
        if torn:
            assert report is not None and report.bytes_dropped >= torn
    for action in report.actions if report else ():
        STATS["repair: " + _action_kind(action)] += 1
    if report is not None and report.bytes_dropped:
        after = list(iter_records(model.root, report.last_good_seq + 1))[:3]
        notes = [r.event for r in after if isinstance(r.event, JournalRecovered)]
        assert notes and notes[0].bytes_dropped == report.bytes_dropped
    for path in _segment_files(model.root):
        assert TORN_MARK not in path.read_bytes()
    result = verify_journal(model.root)
    assert result.ok, result.problems[:5]


def _action_kind(action: str) -> str:
    words = [w for w in action.split() if "/" not in w and not w.strip("(),").isdigit()]
    return " ".join(words[:4])


def _segment_files(root: Path) -> Iterator[Path]:
    for day in layout.list_days(root):
        yield from (root / day).glob("seg-*.ndjson")


def _round(server: Server, rng: random.Random, model: Model, run: int) -> None:
    cfg = _config(rng, model, run)
    _lines, durable = _kill_run(server, rng, cfg)
    if not (model.root / layout.LOCK_NAME).exists():
        assert durable == 0  # killed before the journal existed
        return
    torn = _tear(rng, model.root)
    STATS["kills"] += 1
    STATS["torn tails added"] += bool(torn)
    if rng.random() < 0.6:
        _reopen_and_check(model, torn, durable)
    else:  # leave the recovery to the next worker; readers must cope meanwhile
        result = verify_journal(model.root)
        assert result.problems == result.repairable, result.problems[:5]
    model.absorb(durable)


@pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGKILL")
def test_crash_sigkill_at_random_moments_loses_no_durable_record(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    server = Server()
    try:
        for first in range(0, KILLS, ROUNDS_PER_JOURNAL):
            model = Model(tmp_path / f"journal-{first}")
            for run in range(first, min(KILLS, first + ROUNDS_PER_JOURNAL)):
                _round(server, rng, model, run)
            _reopen_and_check(model, 0, 0)
            model.absorb(0)
            STATS["days"] += len(layout.list_days(model.root))
    finally:
        server.close()
        print(dict(sorted(STATS.items())))
