# `polyarb demo`: a self-contained tour of the journal. Journals a synthetic market-channel feed
# (book snapshots and price changes in Polymarket's wire format) exactly as the live feed would,
# verifies the journal and queries it with DuckDB. Shell code: it reads the clock and the disk.
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import typer

_TOKENS = 20


def synthetic_frames(count: int, start_ns: int) -> Iterator[tuple[int, str]]:
    """Yield (ts_recv_ns, frame text) pairs: one book per token, then price changes."""
    tokens = [str(10**70 + i) for i in range(_TOKENS)]
    market = "0x" + "ab" * 32
    ts = start_ns
    for token in tokens:
        ts += 1_000_000
        book = {
            "event_type": "book",
            "asset_id": token,
            "market": market,
            "bids": [{"price": "0.48", "size": "100"}, {"price": "0.49", "size": "50"}],
            "asks": [{"price": "0.52", "size": "80"}, {"price": "0.51", "size": "40"}],
            "timestamp": str(ts // 1_000_000),
        }
        yield ts, orjson.dumps(book).decode()
    for i in range(max(count - _TOKENS, 0)):
        ts += 250_000
        token = tokens[i % _TOKENS]
        change = {
            "asset_id": token,
            "price": f"0.{40 + i % 9}",
            "size": str(10 + i % 90),
            "side": "BUY",
            "best_bid": "0.49",
            "best_ask": "0.51",
        }
        frame = {
            "event_type": "price_change",
            "market": market,
            "price_changes": [change],
            "timestamp": str(ts // 1_000_000),
        }
        yield ts, orjson.dumps(frame).decode()


def run_demo(journal_dir: str, frames: int) -> int:
    """Run the demo; return the process exit code."""
    from polyarb.events import ClockTick
    from polyarb.journal import JournalLocked, JournalWriter, verify_journal
    from polyarb.reports import open_journal_db

    root = Path(journal_dir)
    t0 = time.perf_counter()
    try:
        writer = JournalWriter.open(root)
    except JournalLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    with writer:
        start_ns = time.time_ns()
        first = writer.next_seq
        for ts, frame in synthetic_frames(frames, start_ns):
            writer.append_raw_frame(ts, "market-0", frame)
        writer.append(ClockTick(ts_recv_ns=time.time_ns()))
        last = writer.next_seq - 1
    elapsed = time.perf_counter() - t0
    typer.echo(
        f"journaled {last - first + 1} records (seq {first}..{last}) into {root}/ "
        f"in {elapsed:.2f} s ({(last - first + 1) / elapsed:,.0f} records/s)"
    )
    report = verify_journal(root)
    status = "clean" if report.ok else f"{len(report.problems)} problem(s)"
    typer.echo(f"journal verify: {status} ({report.records} records)")
    con = open_journal_db(root)
    rows = con.execute(
        "SELECT kind, count(*) AS records FROM events GROUP BY kind ORDER BY records DESC"
    ).fetchall()
    typer.echo("DuckDB: SELECT kind, count(*) FROM events GROUP BY kind")
    for kind, n in rows:
        typer.echo(f"  {kind:<14} {n:>10,}")
    typer.echo(f"next: polyarb journal stats {root}   |   polyarb journal tail {root} -n 3")
    return 0 if report.ok else 1
