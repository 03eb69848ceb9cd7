# Benchmark: the journal writer's hot path and read-back, per durability policy.
#
# Run: /tmp/venv/bin/python bench/bench_journal.py [--events N] [--dir PATH]
# For each policy (none, batch, always) it appends N small events and N raw websocket frames of
# realistic size (~300-600 bytes), then reads the journal back with iter_records. Baselines are
# measured in the same process: a bare loop of f.write(line) over the pre-encoded lines (what
# any journal must at least do), the codec alone (encode_record / encode_raw_frame without the
# writer), and for reads decode_record over the lines of one file. Ratios are vs those baselines,
# so they survive a noisy machine better than the absolute numbers.
# `always` fsyncs every record, so it runs N/100 records (rates stay comparable).
from __future__ import annotations

import argparse
import gc
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from polyarb.events import ClockTick, Event, OrderRejected, decode_record, encode_record
from polyarb.events.codec import encode_raw_frame
from polyarb.journal import Durability, JournalWriter, iter_records

T0 = 1_766_793_600 * 10**9 + 3600 * 10**9  # 2025-12-27T01:00Z: no day roll during the runs


def small_events(n: int) -> list[Event]:
    out: list[Event] = []
    for i in range(n):
        ts = T0 + i * 1000
        if i % 2:
            out.append(OrderRejected(ts_recv_ns=ts, client_order_id=f"r1-{i}", reason="balance"))
        else:
            out.append(ClockTick(ts_recv_ns=ts))
    return out


def frames(n: int, rng: random.Random) -> list[str]:
    """Text frames shaped like the market channel's price_change (one to three changes)."""
    out = []
    for _ in range(n):
        changes = ",".join(_change(rng) for _ in range(rng.randrange(1, 3)))
        market = f"0x{rng.getrandbits(256):064x}"
        out.append(
            f'{{"event_type":"price_change","market":"{market}","price_changes":[{changes}],'
            f'"timestamp":"{1766800000000 + rng.randrange(10**6)}"}}'
        )
    return out


def _change(rng: random.Random) -> str:
    side = rng.choice(["BUY", "SELL"])
    return (
        f'{{"asset_id":"{rng.getrandbits(250)}","price":"0.{rng.randrange(1, 99):02d}",'
        f'"size":"{rng.randrange(1, 10**5)}.{rng.randrange(10)}","side":"{side}",'
        f'"hash":"0x{rng.getrandbits(160):040x}","best_bid":"0.{rng.randrange(1, 50):02d}",'
        f'"best_ask":"0.{rng.randrange(50, 99):02d}"}}'
    )


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def bare_write(path: Path, lines: list[bytes]) -> float:
    def run() -> None:
        with open(path, "wb") as f:
            write = f.write
            for line in lines:
                write(line)

    return timed(run)


def append_events(root: Path, policy: Durability, events: list[Event]) -> float:
    with JournalWriter.open(root, durability=policy) as w:
        append = w.append

        def run() -> None:
            for event in events:
                append(event)
            w.sync()

        return timed(run)


def append_frames(root: Path, policy: Durability, data: list[str]) -> float:
    with JournalWriter.open(root, durability=policy) as w:
        append = w.append_raw_frame

        def run() -> None:
            ts = T0 + 10**12
            for i, frame in enumerate(data):
                append(ts + i, "market-0", frame)
            w.sync()

        return timed(run)


def journal_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("seg-*.ndjson"))


def row(name: str, count: int, seconds: float, nbytes: int, base: float | None) -> None:
    rate = count / seconds
    ratio = f"{seconds / base:6.2f}x" if base else "      "
    mb = f"{nbytes / seconds / 1e6:8.1f} MB/s" if nbytes else " " * 13
    print(f"  {name:38s} {rate:12,.0f} /s {seconds / count * 1e6:7.2f} us {mb} {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()
    n = args.events
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="bench-journal-"))
    try:
        run(work, n)
    finally:
        shutil.rmtree(work)


def run(work: Path, n: int) -> None:
    events = small_events(n)
    data = frames(n, random.Random(7))
    ev_lines = [encode_record(i + 1, e) for i, e in enumerate(events)]
    fr_lines = [encode_raw_frame(i + 1, T0, "market-0", f) for i, f in enumerate(data)]
    ev_bytes, fr_bytes = sum(map(len, ev_lines)), sum(map(len, fr_lines))
    print(f"journal benchmark: {n:,} records per run; small event ~{ev_bytes // n} B/line, "
          f"raw frame ~{fr_bytes // n} B/line; ratios vs the baseline above each block")
    print("baselines (same process):")
    base_ev = bare_write(work / "bare-ev", ev_lines)
    base_fr = bare_write(work / "bare-fr", fr_lines)
    row("bare f.write(line), small events", n, base_ev, ev_bytes, None)
    row("bare f.write(line), raw frames", n, base_fr, fr_bytes, None)
    codec_ev = timed(lambda: [encode_record(i, e) for i, e in enumerate(events)])
    codec_fr = timed(lambda: [encode_raw_frame(i, T0, "market-0", f) for i, f in enumerate(data)])
    row("codec only: encode_record", n, codec_ev, 0, None)
    row("codec only: encode_raw_frame", n, codec_fr, 0, None)
    for policy in ("none", "batch", "always"):
        count = n if policy != "always" else max(1, n // 100)
        scale = count / n
        root = work / f"journal-{policy}"
        durability = Durability(policy=policy)
        print(f"policy {policy} ({count:,} records each; ratio vs bare f.write, then vs codec):")
        t_ev = append_events(root, durability, events[:count])
        size_ev = journal_bytes(root)
        t_fr = append_frames(root, durability, data[:count])
        size_fr = journal_bytes(root) - size_ev
        row("append(small event)", count, t_ev, size_ev, base_ev * scale)
        row("  vs codec only", count, t_ev, 0, codec_ev * scale)
        row("append_raw_frame(text frame)", count, t_fr, size_fr, base_fr * scale)
        row("  vs codec only", count, t_fr, 0, codec_fr * scale)
        read_back(root)


def read_back(root: Path) -> None:
    records = 0

    def read() -> None:
        nonlocal records
        records = sum(1 for _ in iter_records(root))

    t_read = timed(read)
    paths = sorted(root.rglob("seg-*.ndjson"))
    lines = [ln for p in paths for ln in p.read_bytes().splitlines(keepends=True)]
    t_decode = timed(lambda: [decode_record(ln) for ln in lines])
    row("iter_records (read back, typed)", records, t_read, journal_bytes(root), None)
    row("  vs decode_record over lines", records, t_read, 0, t_decode)

if __name__ == "__main__":
    main()
