# Crash-harness child: appends to a journal until it is SIGKILLed, reporting durable seqs.
#
#   python crash_child.py serve        read one JSON config per stdin line; for each, fork a worker,
#                                      print "pid <pid>", wait for it, print "exit <pid> <code>".
#                                      (Forking from a warm process keeps 200 kills fast.)
#   python crash_child.py run <json>   be one worker in this process.
#
# A worker opens the journal (crash recovery), prints "open <next_seq> <bytes_dropped>
# <last_good_seq>", then appends raw frames and events and prints "d <seq>" each time
# durable_seq advances, only after that seq is fsynced. Any exception prints "error <repr>".
# Payloads are a pure function of (run, n) so the parent can check every surviving record.
from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from typing import Any

from polyarb.events import OrderRejected, StateCheckpoint
from polyarb.journal import Durability, JournalWriter


def say(message: str) -> None:
    os.write(1, (message + "\n").encode())  # one write: a kill never leaves half a report


def pad(run: int, n: int) -> str:
    """Deterministic filler that makes a raw frame ~400 bytes."""
    return hashlib.sha256(b"%d:%d" % (run, n)).hexdigest() * 5


def frame_text(run: int, n: int) -> str:
    return f'{{"run":{run},"n":{n},"pad":"{pad(run, n)}"}}'


def order_event(run: int, n: int, ts: int) -> OrderRejected:
    return OrderRejected(ts_recv_ns=ts, client_order_id=f"{run}-{n}", reason=pad(run, n)[:40])


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


def work(cfg: dict[str, Any]) -> None:
    rng = random.Random(cfg["seed"])
    w = _open(cfg)
    rec = w.recovered
    say(f"open {w.next_seq} {rec.bytes_dropped if rec else 0} {rec.last_good_seq if rec else 0}")
    reported = w.durable_seq
    say(f"d {reported}")
    run, ts, step = cfg["run"], cfg["ts"], cfg["step"]
    for n in range(cfg["max"]):
        ts += rng.randrange(step)
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
    say(f"d {w.sync()}")
    os._exit(0)  # still a crash: no close


def _worker(cfg: dict[str, Any]) -> int:
    try:
        work(cfg)
    except BaseException as exc:  # report anything, the parent fails the test with it
        say(f"error {exc!r}")
        return 3
    return 0


def serve() -> None:
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
        sys.exit(_worker(json.loads(sys.argv[2])))
