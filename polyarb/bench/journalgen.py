# A valid journal of N events written in bulk (for `polyarb bench report`, bench/bench_duckdb.py):
# mostly raw market frames of 300-500 bytes, plus trades, order updates and decisions, spread over
# UTC days of 2.5M records, 64 MiB segments, manifests with sha256s and the day hash chain.
#
# Rules:
# 1. The bytes are the journal format (docs/journal-format.md): the same envelope, CRC, segment
#    names, manifests and day chain, so every reader, `polyarb journal verify` and the DuckDB
#    views take it as a journal. Lines are encoded in bulk (one CRC per line, frames filled from
#    a template pool) because the real writer would take minutes for 10M events.
# 2. Deterministic: every random choice comes from seeded random.Random instances.
# 3. A journal appears complete or not at all: it is written under `<root>.partial` and renamed.
from __future__ import annotations

import hashlib
import os
import random
import shutil
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

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

DAY0_NS = 1_766_793_600 * 1_000_000_000  # 2025-12-27T00:00:00Z
DAY_NS = 86_400 * 1_000_000_000
RECORDS_PER_DAY = 2_500_000
SEGMENT_BYTES = 64 << 20
SIDES: tuple[Side, ...] = ("BUY", "SELL")
TOKENS = [str(random.Random(i).getrandbits(250)) for i in range(40)]


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
    """A pool template filled for one line: sizes and hashes derived from seq, the venue ms."""
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
    """Write one closed segment file and return its manifest entry."""
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
    """Write a journal of n events under root, replacing any journal there (rule 3).

    Raises:
        ValueError: n is below 2 (day_opened and run_started come first).
    """
    if n < 2:
        raise ValueError("a generated journal needs at least 2 events")
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


def segment_files(root: Path) -> list[Path]:
    """Every NDJSON segment under the journal root, in order."""
    return sorted(root.glob("*/seg-*.ndjson"))


def seal_all(root: Path) -> float:
    """Seal every day (a day already sealed is kept); returns the wall seconds it took."""
    t0 = time.perf_counter()
    for day in layout.list_days(root):
        seal_day(root / day)
    return time.perf_counter() - t0


def parse_size(text: str) -> int:
    """A count such as `10M`, `100K`, `2.5M` or `5000`.

    Raises:
        ValueError: not such a count, or not positive.
    """
    clean = text.strip().upper().replace("_", "").replace(",", "")
    mult = {"K": 1_000, "M": 1_000_000}.get(clean[-1:], 1)
    try:
        n = int(float(clean.rstrip("KM")) * mult)
    except (ValueError, OverflowError):
        raise ValueError(f"not a count: {text!r} (e.g. 10M, 100K, 5000)") from None
    if n <= 0:
        raise ValueError(f"not a positive count: {text!r}")
    return n
