# DuckDB views over one or more journal roots: `events`, one view per kind, `journal_sources`.
#
# Rules:
# 1. Views, not copies: every query re-reads the files, so a live writer's newly completed lines
#    are seen. The set of files is fixed when the connection is opened; reopen to pick up new
#    segments, new days or newly sealed days.
# 2. `events` has the stored columns (schema.py: envelope, every kind's fields, crc) plus
#    `shard`, the journal root a row came from: seqs are unique within one root only, so
#    (shard, seq) is the key when several roots (shards) are unioned.
# 3. A kind view (named by its kind tag) has seq, ts_recv_ns, v, that kind's fields and shard.
#    It fills in defaults the journal omitted (fee_micros 0, trader_side 'TAKER', ...) and casts
#    Decimal fields to DECIMAL(38,18); `events` shows the lines as stored (omitted -> NULL).
# 4. JSON columns hold each value re-serialized compactly by DuckDB (semantically the same JSON;
#    1.50 reads back as 1.5). The exact bytes of a frame are in the segments.
# 5. Integer columns are BIGINT: multiply micros in HUGEINT (`CAST(size_micros AS HUGEINT) *
#    price_micros`) so a product cannot overflow.
# 6. Records are shown as journaled: a record of an older schema version (`v`) is not upcast
#    here (polyarb.journal.iter_records does that).
# 7. Exception to rule 1, asked for by a caller (the reports: snapshot_kinds): the kinds other
#    than raw_frame (few rows, read by many queries) are read once into a table and their
#    views re-pointed at it, so NDJSON is parsed once instead of once per query. Those views then
#    show the journal as of that read; `events` and `raw_frame` still re-read the files.
# 8. Memory: the connection's default database is a compressed in-memory one (DATABASE), so the
#    snapshot and the reports' tables (_common.sql) shrink ~10x once a CHECKPOINT compresses them
#    (DuckDB's plain in-memory tables are stored uncompressed: 0.9 GB at 10M events). DuckDB's
#    memory limit is memory_limit() (its own default is 80% of RAM); past it, it spills (tables,
#    hash tables, sorts) to a private directory under the system's temp directory, which DuckDB
#    removes on close (its default, `.tmp` in the working directory, would litter wherever the
#    command runs).
from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from polyarb.reports import scan
from polyarb.reports.schema import SHARD, Field, journal_schema, quote_ident, quote_str
from polyarb.reports.sources import DaySource, JournalQueryError, plan_roots

EVENTS_VIEW = "events"
SOURCES_TABLE = "journal_sources"
SNAPSHOT_TABLE = "events_snapshot"
"""The table snapshot_kinds fills (rule 7)."""
DATABASE = "polyarb"
"""The compressed in-memory database every view and table is created in (rule 8)."""
MEMORY_BASE_MB = 1024
"""Memory for tables, hash tables and sorts (rule 8): at 10M events no report needs half."""
MEMORY_PER_THREAD_MB = 4 * (scan.MIN_OBJECT_BYTES >> 20)
"""Memory per DuckDB thread: each of its JSON readers holds two buffers of the line-size limit
(128 MB for 64 MB segments); a limit below that fails the scan instead of spilling."""
LIVE_KINDS = ("raw_frame",)
"""Kinds snapshot_kinds leaves on the files: the bulk of a journal, read by few queries."""


def open_journal_db(
    roots: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    days: Iterable[str | dt.date] | None = None,
    use_sealed: bool = True,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB with views over the journal(s) under `roots`.

    Sealed days are read from their `sealed.parquet`, the others from their NDJSON segments
    (one source per day: no record counted twice). Segments a writer is still appending to may
    end in a half-written line, which is ignored.

    Args:
        roots: one journal root, or several (shards) to union.
        days: only these UTC days (`YYYY-MM-DD` or dates); each must exist in some root.
        use_sealed: read sealed days from `sealed.parquet` (false: from their segments, the
            source of truth; for audits of a copy and for benchmarks).
        memory_limit: DuckDB's memory limit (`2GB`, `512MB`), past which it spills to disk;
            None: memory_limit(con) (rule 8).

    Returns:
        A connection with the views `events`, one per kind in polyarb.events.ALL_KINDS, and the
        table `journal_sources` (shard, day, source, files, records) saying what is read.

    Raises:
        JournalQueryError: a root that does not exist or holds no days, a requested day that is
            in no root, or an inconsistent day directory.
        SchemaError: the event vocabulary cannot be mapped to columns.
    """
    root_list = [roots] if isinstance(roots, str | os.PathLike) else list(roots)
    plans = plan_roots([Path(r).resolve() for r in root_list], days, use_sealed=use_sealed)
    con = duckdb.connect(":memory:")
    try:
        _bound_memory(con, memory_limit)
        _create_sources_table(con, plans)
        # Kind views are bound against a typed, empty stand-in for `events`, which is then
        # replaced: DuckDB re-binds a view's query each time it runs, and binding every view over
        # the real file scans costs ~1 ms per file each (3 s for 84 segments).
        con.execute(f"CREATE VIEW {EVENTS_VIEW} AS {scan.with_shard(scan.empty_select(), '')}")
        for kind, fields in journal_schema().kinds.items():
            con.execute(f"CREATE VIEW {quote_ident(kind)} AS {kind_view_sql(kind, fields)}")
        con.execute(f"CREATE OR REPLACE VIEW {EVENTS_VIEW} AS {events_sql(con, plans)}")
    except BaseException:
        con.close()
        raise
    return con


def memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    """The default memory limit of a connection: MEMORY_BASE_MB plus MEMORY_PER_THREAD_MB for
    each of its threads (rule 8)."""
    row = con.execute("SELECT current_setting('threads')").fetchone()
    threads = int(row[0]) if row is not None else 1
    return f"{MEMORY_BASE_MB + MEMORY_PER_THREAD_MB * threads}MB"


def _bound_memory(con: duckdb.DuckDBPyConnection, limit: str | None) -> None:
    # rule 8; the spill directory is named, not created: DuckDB creates it on its first spill
    spill = Path(tempfile.gettempdir()) / f"polyarb-report-{os.getpid()}-{secrets.token_hex(4)}"
    con.execute(f"SET memory_limit = {quote_str(limit or memory_limit(con))}")
    # DuckDB may draw a progress bar into stdout (seen in `python -c` children): a report's
    # stdout is the report
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET temp_directory = {quote_str(str(spill))}")
    con.execute(f"ATTACH ':memory:' AS {DATABASE} (COMPRESS)")
    con.execute(f"USE {DATABASE}")


def events_sql(con: duckdb.DuckDBPyConnection, plans: Sequence[DaySource]) -> str:
    """The `events` query: a UNION ALL of at most three scans per shard, plus `shard`."""
    parts: list[str] = []
    for shard in dict.fromkeys(p.shard for p in plans):  # roots in the order given
        mine = [p for p in plans if p.shard == shard]
        parquet = [p.parquet for p in mine if p.parquet is not None]
        closed = [f for p in mine for f in p.closed]
        open_ = [f for p in mine for f in p.open]
        if parquet:
            _check_parquet_footers(con, mine)
            parts.append(scan.with_shard(scan.parquet_select(con, parquet), shard))
        if closed:
            parts.append(scan.with_shard(scan.segments_select(closed), shard))
        if open_:
            parts.append(scan.with_shard(scan.open_segments_select(open_), shard))
    if not parts:
        parts.append(scan.with_shard(scan.empty_select(), ""))
    return "\nUNION ALL\n".join(parts)


def _check_parquet_footers(con: duckdb.DuckDBPyConnection, plans: Sequence[DaySource]) -> None:
    # Row counts and seq min/max are in the footers, so this is cheap; a copy that disagrees with
    # its seal record (truncated, swapped with another day's) must not be reported from.
    sealed = [(p.parquet, p.seal) for p in plans if p.parquet is not None and p.seal is not None]
    files = scan.file_list([path for path, _ in sealed])
    stats = {
        row[0]: tuple(row[1:])
        for row in con.execute(
            "SELECT file_name, sum(num_values), min(CAST(stats_min_value AS BIGINT)), "
            f"max(CAST(stats_max_value AS BIGINT)) FROM parquet_metadata({files}) "
            "WHERE path_in_schema = 'seq' GROUP BY file_name"
        ).fetchall()
    }
    for path, seal in sealed:
        got = stats.get(str(path))
        if got != (seal.records, seal.first_seq, seal.last_seq):
            raise JournalQueryError(
                f"{path}: (rows, first seq, last seq) {got} but the seal record says "
                f"{(seal.records, seal.first_seq, seal.last_seq)}; delete the file (the segments "
                "are the source of truth) or seal the day again"
            )


def kind_view_sql(kind: str, fields: Sequence[Field], source: str = EVENTS_VIEW) -> str:
    """The query of one kind's view over `events` or a copy of its rows (see rule 3)."""
    cols = ["seq", "ts_recv_ns", "v"]
    for f in fields:
        name = quote_ident(f.name)
        expr = name if f.view_type == f.stored_type else f"CAST({name} AS {f.view_type})"
        if f.default_sql is not None:
            expr = f"COALESCE({expr}, {f.default_sql})"
        cols.append(f"{expr} AS {name}")
    cols.append(quote_ident(SHARD))
    return f"SELECT {', '.join(cols)} FROM {source} WHERE kind = {quote_str(kind)}"


def snapshot_kinds(con: duckdb.DuckDBPyConnection) -> bool:
    """Read every kind but LIVE_KINDS once into SNAPSHOT_TABLE and point their views at it.

    Only when some day is read from NDJSON: each scan of a segment parses every line again
    (Parquet scans read just the columns a query needs, so sealed days stay views). The table
    holds the envelope, `shard` and the columns of the snapshotted kinds, in journal order.

    Args:
        con: a connection from open_journal_db.

    Returns:
        Whether the snapshot was taken (false: every day is read from Parquet).
    """
    ndjson = con.execute(
        f"SELECT count(*) FROM {SOURCES_TABLE} WHERE source = 'ndjson'").fetchone()
    if ndjson is None or ndjson[0] == 0:
        return False
    kinds = {k: f for k, f in journal_schema().kinds.items() if k not in LIVE_KINDS}
    names = ["seq", "ts_recv_ns", "v", "kind", SHARD]
    names += [f.name for fields in kinds.values() for f in fields]
    cols = ", ".join(quote_ident(n) for n in dict.fromkeys(names))
    live = ", ".join(quote_str(k) for k in LIVE_KINDS)
    con.execute(f"CREATE TABLE {SNAPSHOT_TABLE} AS SELECT {cols} FROM {EVENTS_VIEW} "
                f"WHERE kind NOT IN ({live})")
    con.execute("CHECKPOINT")  # compresses the table (rule 8)
    for kind, fields in kinds.items():
        view_sql = kind_view_sql(kind, fields, SNAPSHOT_TABLE)
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(kind)} AS {view_sql}")
    return True


def _create_sources_table(con: duckdb.DuckDBPyConnection, plans: Sequence[DaySource]) -> None:
    con.execute(
        f"CREATE TABLE {SOURCES_TABLE} (shard VARCHAR, day VARCHAR, source VARCHAR, "
        "files VARCHAR[], records BIGINT)"
    )
    rows = [(p.shard, p.day, p.kind, [str(f) for f in _files(p)], p.records) for p in plans]
    if rows:
        con.executemany(f"INSERT INTO {SOURCES_TABLE} VALUES (?, ?, ?, ?, ?)", rows)


def _files(plan: DaySource) -> tuple[Path, ...]:
    return (plan.parquet,) if plan.parquet is not None else plan.closed + plan.open
