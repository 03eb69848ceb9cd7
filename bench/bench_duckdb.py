# DuckDB over the journal: aggregate speed on NDJSON segments vs sealed Parquet.
#
#   /tmp/venv/bin/python bench/bench_duckdb.py [--sizes 1M,10M] [--repeat 3] [--regen] [--out DIR]
#
# Generates (once, cached under bench/out/, gitignored) valid journals of N events: mostly raw
# market frames of 300-500 bytes, plus trades, order updates and decisions, spread over UTC days
# of 2.5M records, 64 MiB segments, manifests with sha256s and the day hash chain. Lines are
# encoded in bulk (one CRC per line, frames from a pool) because the real writer would take
# minutes for 10M events; the files are the same format. Then it seals every day and times,
# in one process, on the same files:
#   baseline   SELECT count(*), sum(seq) straight from read_json / read_parquet (one column)
#   pnl        SUM(size * price) per token over the trade_updated view (HUGEINT, exact)
#   kinds      count(*) per kind over the events view
# Targets on the 2-core reference machine: 10M sealed <= 1 s, 10M unsealed <= 5 s (pnl+kinds).
from __future__ import annotations

import argparse
import functools
import hashlib
import os
import random
import shutil
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from polyarb.events import (
    DayOpened,
    Event,
    OrderUpdated,
    PlaceOrders,
    RunStarted,
    TradeUpdated,
    encode_record,
)
from polyarb.events.decisions import OrderIntent
from polyarb.events.inputs import Side
from polyarb.journal import layout
from polyarb.journal.seal import seal_day
from polyarb.reports import open_journal_db
from polyarb.reports.scan import file_list

OUT = Path(__file__).parent / "out"
DAY0_NS = 1_766_793_600 * 1_000_000_000  # 2025-12-27T00:00:00Z
DAY_NS = 86_400 * 1_000_000_000
CORES = os.cpu_count() or 1
RECORDS_PER_DAY = 2_500_000
SEGMENT_BYTES = 64 << 20
SIDES: tuple[Side, ...] = ("BUY", "SELL")
TOKENS = [str(random.Random(i).getrandbits(250)) for i in range(40)]

PNL = (
    "SELECT token_id, count(*) AS n, sum(CAST(size_micros AS HUGEINT) * price_micros) AS pnl "
    "FROM trade_updated GROUP BY token_id"
)
KINDS = "SELECT kind, count(*) FROM events GROUP BY kind"
BOTH = (  # both answers in one scan: counts per kind, P&L per token of the trades
    "SELECT kind, CASE WHEN kind = 'trade_updated' THEN token_id END AS token, count(*) AS n, "
    "sum(CAST(size_micros AS HUGEINT) * price_micros) FILTER (WHERE kind = 'trade_updated') "
    "FROM events GROUP BY ALL"
)


def frame_pool(rng: random.Random, n: int = 2000) -> list[bytes]:
    """Templates of market-channel frames (price_change arrays), ~300-500 bytes once filled.

    Each template keeps `%d` (a size) and `%040x` (a hash) per change, filled per line, so no
    two lines are alike and Parquet compresses them like real traffic, not like a loop.
    """
    pool = []
    for _ in range(n):
        changes = ",".join(
            '{"asset_id":"%s","price":"0.%02d","size":"%%d.%d","side":"%s","hash":"%%040x",'  # noqa: UP031 (a %-template for bytes)
            '"best_bid":"0.%02d","best_ask":"0.%02d"}'
            % (
                rng.choice(TOKENS),
                rng.randrange(1, 99),
                rng.randrange(10),
                rng.choice(("BUY", "SELL")),
                rng.randrange(1, 50),
                rng.randrange(50, 99),
            )
            for _ in range(rng.choice((1, 1, 2)))
        )
        pool.append(
            b'[{"event_type":"price_change","market":"0x%064x","price_changes":[%s],'
            b'"timestamp":"%%d"}]' % (rng.getrandbits(256), changes.encode())
        )
    return pool


def fill_frame(template: bytes, seq: int, ts: int) -> bytes:
    h = (seq * 0x9E3779B97F4A7C15) & ((1 << 160) - 1)
    args: tuple[int, ...] = ()
    for _ in range(template.count(b"%040x")):
        args += ((seq * 7919) % 1_000_003, h)
        h = (h * 31 + 17) & ((1 << 160) - 1)
    return template % (*args, ts // 1_000_000)


def other_event(i: int, ts: int, rng: random.Random) -> Event:
    """A non-frame event: mostly trades, some order updates and order decisions."""
    token, side = rng.choice(TOKENS), rng.choice(SIDES)
    price, size = rng.randrange(1_000, 999_000), rng.randrange(1, 10**10)
    roll = rng.random()
    if roll < 0.6:
        return TradeUpdated(ts_recv_ns=ts, trade_id=f"t-{i}", venue_order_id=f"0x{i:064x}",
                            token_id=token, side=side, price_micros=price, size_micros=size,
                            status="MATCHED", fee_micros=size // 1000)  # fmt: skip
    if roll < 0.85:
        return OrderUpdated(ts_recv_ns=ts, venue_order_id=f"0x{i:064x}", update_type="UPDATE",
                            token_id=token, side=side, price_micros=price,
                            original_size_micros=size, size_matched_micros=size // 2,
                            status="LIVE")  # fmt: skip
    order = OrderIntent(client_order_id=f"r1-{i}", token_id=token, side=side, price_micros=price,
                        size_micros=size, order_type="FOK", tick_size_micros=10_000)  # fmt: skip
    return PlaceOrders(ts_recv_ns=ts, cause_seq=max(1, i - 1), batch_id=f"b-{i}",
                       opp_id=f"o-{i}", orders=(order,))  # fmt: skip


def day_lines(
    first_seq: int, n: int, day_index: int, pool: list[bytes], prev: layout.Manifest | None
) -> Iterator[bytes]:
    """The encoded lines of one day: day_opened (+ run_started on day 0), then the mix."""
    rng = random.Random(day_index)
    ts0 = DAY0_NS + day_index * DAY_NS
    opened = DayOpened(
        ts_recv_ns=ts0,
        day=layout.day_of_ns(ts0),
        prev_day=None if prev is None else prev.day,
        prev_digest=None if prev is None else prev.digest,
        prev_last_seq=None if prev is None else prev.last_seq,
    )
    yield encode_record(first_seq, opened)
    start = 1
    if day_index == 0:
        run = RunStarted(ts_recv_ns=ts0, run_id="r1", venue="sim", code_version="bench",
                         config_hash="0" * 64)  # fmt: skip
        yield encode_record(first_seq + 1, run)
        start = 2
    step = 80_000_000_000_000 // n  # spread the day over ~22 hours
    head = b'{"seq":%d,"v":1,"kind":"raw_frame","ts_recv_ns":%d,"conn":"market-0","frame":%s'
    for i in range(start, n):
        seq, ts = first_seq + i, ts0 + i * step
        if rng.random() < 0.06:
            yield encode_record(seq, other_event(seq, ts, rng))
        else:
            body = head % (seq, ts, fill_frame(pool[seq % len(pool)], seq, ts))
            yield body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def write_day(root: Path, first_seq: int, n: int, day_index: int, pool: list[bytes],
              prev: layout.Manifest | None) -> layout.Manifest:  # fmt: skip
    """Write one closed day as 64 MiB segments and its manifest."""
    day = layout.day_of_ns(DAY0_NS + day_index * DAY_NS)
    day_dir = root / day
    layout.make_dir(day_dir)
    segments: list[layout.SegmentInfo] = []
    buf: list[bytes] = []
    size, seg_first = 0, first_seq
    for offset, line in enumerate(day_lines(first_seq, n, day_index, pool, prev)):
        buf.append(line)
        size += len(line)
        if size >= SEGMENT_BYTES or offset == n - 1:
            segments.append(flush_segment(day_dir, seg_first, buf))
            seg_first += len(buf)
            buf, size = [], 0
    manifest = layout.Manifest(day=day, first_seq=first_seq, last_seq=first_seq + n - 1,
                               records=n, segments=segments,
                               prev_digest=None if prev is None else prev.digest,
                               closed=True, run_ids=["r1"] if day_index == 0 else [])  # fmt: skip
    manifest.digest = layout.day_digest(manifest)
    layout.write_manifest(day_dir, manifest)
    return manifest


def flush_segment(day_dir: Path, first_seq: int, lines: list[bytes]) -> layout.SegmentInfo:
    data = b"".join(lines)
    path = day_dir / layout.segment_name(first_seq)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, layout.FILE_MODE)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return layout.SegmentInfo(name=path.name, first_seq=first_seq,
                              last_seq=first_seq + len(lines) - 1, records=len(lines),
                              bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                              closed=True)  # fmt: skip


def generate(root: Path, n: int) -> None:
    """Write a journal of n events under root (replacing any partial one)."""
    shutil.rmtree(root, ignore_errors=True)
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    pool = frame_pool(random.Random(7))
    seq, day_index = 1, 0
    prev: layout.Manifest | None = None
    while seq <= n:
        count = min(RECORDS_PER_DAY, n - seq + 1)
        prev = write_day(tmp, seq, count, day_index, pool, prev)
        seq, day_index = seq + count, day_index + 1
    tmp.rename(root)  # a cached journal is always complete


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """(best, median) wall seconds of fn over `repeat` runs, and the least CPU seconds.

    CPU seconds (all of DuckDB's threads) are steadier than wall time on a shared machine:
    cpu / cores is what the query would take on otherwise idle cores.
    """
    times, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(times), statistics.median(times), min(cpus)


def fetch_all(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()


def segment_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/seg-*.ndjson"))


def measure(root: Path, n: int, repeat: int, sealed: bool) -> dict[str, float]:
    con = open_journal_db(root, use_sealed=sealed)
    if sealed:
        files = file_list(sorted(root.glob("*/sealed.parquet")))
        baseline = f"SELECT count(*), sum(seq) FROM read_parquet({files})"
    else:
        files = file_list(segment_files(root))
        baseline = (
            f"SELECT count(*), sum(seq) FROM read_json({files}, format='newline_delimited', "
            "records=true, columns={'seq': 'BIGINT'})"
        )
    got = con.execute(baseline).fetchone()
    assert got is not None and got[0] == n, (got, n)
    results = {}
    for name, sql in (("baseline", baseline), ("pnl", PNL), ("kinds", KINDS), ("one-scan", BOTH)):
        best, med, cpu = timed(functools.partial(fetch_all, con, sql), repeat)
        results[name] = best
        label = "parquet" if sealed else "ndjson "
        print(f"  {label} {name:9s} best {best:6.2f} s  median {med:6.2f} s  "
              f"{n / best / 1e6:7.1f} M rows/s  cpu {cpu:6.2f} s "
              f"(idle {CORES} cores: ~{cpu / CORES:5.2f} s)")  # fmt: skip
    con.close()
    return results


def seal_all(root: Path) -> float:
    t0 = time.perf_counter()
    for day in layout.list_days(root):
        seal_day(root / day)
    return time.perf_counter() - t0


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * mult)


def run(n: int, repeat: int, regen: bool, out: Path = OUT) -> None:
    root = out / f"journal-{n}"
    if regen or not root.is_dir():
        t0 = time.perf_counter()
        generate(root, n)
        print(f"  generated {n:,} events in {time.perf_counter() - t0:.1f} s")
    ndjson_bytes = sum(p.stat().st_size for p in segment_files(root))
    print(f"  {len(segment_files(root))} segments, {ndjson_bytes / 1e9:.2f} GB NDJSON")
    seal_s = seal_all(root)
    pq = sum(p.stat().st_size for p in root.glob("*/sealed.parquet"))
    print(f"  sealed in {seal_s:.1f} s (0 when cached), {pq / 1e9:.2f} GB Parquet")
    nd = measure(root, n, repeat, sealed=False)
    pq_r = measure(root, n, repeat, sealed=True)
    for tag, res, target in (("unsealed", nd, 5.0), ("sealed", pq_r, 1.0)):
        two, one = res["pnl"] + res["kinds"], res["one-scan"]
        verdict = ""
        if n >= 10_000_000:
            verdict = f"; target {target:.0f} s: " + ", ".join(
                f"{name} {'met' if t <= target else 'MISSED'}"
                for name, t in (("pnl+kinds", two), ("one-scan", one))
            )
        print(f"  {tag:8s} pnl+kinds {two:5.2f} s = {two / res['baseline']:4.2f} x baseline time, "
              f"one-scan {one:5.2f} s = {one / res['baseline']:4.2f} x{verdict}")  # fmt: skip
    speedup = (nd["pnl"] + nd["kinds"]) / (pq_r["pnl"] + pq_r["kinds"])
    print(f"  sealed vs unsealed (pnl+kinds): {speedup:.1f}x faster")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, e.g. 1M,10M")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regen", action="store_true", help="rewrite the cached journals")
    parser.add_argument("--out", type=Path, default=OUT, help="journal cache (default bench/out)")
    args = parser.parse_args(argv)
    print(f"duckdb {duckdb.__version__}, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    for n in (parse_size(s) for s in args.sizes.split(",")):
        print(f"{n:,} events (load average before: {os.getloadavg()[0]:.1f})")
        run(n, args.repeat, args.regen, args.out)
        print(f"  load average after: {os.getloadavg()[0]:.1f} (above ~0.5: the cpus were shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
