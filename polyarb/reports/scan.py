# SQL that reads journal files into the stored columns (schema.py), for views and for sealing.
#
# Rules:
# 1. Explicit columns always: DuckDB's JSON type sampling drops fields of kinds that first
#    appear late in a file, so `read_json` gets the full column list and never auto-detects.
# 2. Closed segments are read strictly: any bad line fails the query with DuckDB's message
#    naming the file and line. Only segments a writer may still be appending to are read with
#    `ignore_errors`, which turns a torn (half-written) last line into an all-NULL row that is
#    filtered out. A guard fails the query if such a file shows more than that: a second
#    unreadable line, or a gap in its seqs (a bad line in the middle).
# 3. Paths and names are quoted here (quote_str/quote_ident); nothing else builds this SQL.
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from polyarb.reports.schema import SHARD, VARCHAR, journal_schema, quote_ident, quote_str

MIN_OBJECT_BYTES = 64 << 20
"""Smallest line-size limit given to DuckDB. Its JSON reader sizes its buffers from the limit,
so a needlessly large one costs speed (1 GiB made scans ~1.6x slower); see _max_object_bytes."""


def file_list(paths: Sequence[Path]) -> str:
    """An SQL list literal of file paths."""
    return "[" + ", ".join(quote_str(str(p)) for p in paths) + "]"


def stored_names() -> list[str]:
    """Names of the stored columns, in order."""
    return [name for name, _ in journal_schema().columns]


def select_list() -> str:
    """The quoted stored columns, comma-separated."""
    return ", ".join(quote_ident(n) for n in stored_names())


def _columns_struct(columns: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{quote_str(n)}: {quote_str(t)}" for n, t in columns) + "}"


def read_segments(paths: Sequence[Path], *, tolerant: bool = False) -> str:
    """A `read_json(...)` table function over NDJSON segments with every stored column."""
    return _read_json(paths, _columns_struct(journal_schema().columns), tolerant=tolerant)


def _max_object_bytes(paths: Sequence[Path]) -> int:
    # No line is longer than its file, so the largest file bounds every line read here (a
    # checkpoint or market snapshot can be large). An open segment may later gain a longer line;
    # while that line is its last it looks torn, and once followed it trips the guard.
    largest = max((p.stat().st_size for p in paths), default=0)
    return max(MIN_OBJECT_BYTES, largest + 1)


def _read_json(paths: Sequence[Path], columns: str, *, tolerant: bool, extra: str = "") -> str:
    # records=true: each line is one object unpacked into the columns; leaving it on auto makes
    # DuckDB's reader ~6x slower even with explicit columns (bench/bench_duckdb.py).
    return (
        f"read_json({file_list(paths)}, format='newline_delimited', records=true, "
        f"columns={columns}, maximum_object_size={_max_object_bytes(paths)}, "
        f"ignore_errors={str(tolerant).lower()}{extra})"
    )


def segments_select(paths: Sequence[Path]) -> str:
    """SELECT of the stored columns from closed segments (strict)."""
    return f"SELECT {select_list()} FROM {read_segments(paths)}"


def _open_guard(paths: Sequence[Path]) -> str:
    seq_only = _columns_struct([("seq", "BIGINT")])
    scan = _read_json(paths, seq_only, tolerant=True, extra=", filename='_polyarb_file'")
    message = (
        "'polyarb: journal segment ' || min(_polyarb_file) || ' has an unreadable line before "
        "its end (not a torn tail); run `polyarb journal verify`'"
    )
    return (
        f"SELECT CASE WHEN count(*) = 0 THEN true ELSE error({message}) END AS ok FROM ("
        f"SELECT _polyarb_file FROM {scan} GROUP BY _polyarb_file "
        "HAVING count(*) - count(seq) > 1 OR count(seq) <> coalesce(max(seq) - min(seq) + 1, 0))"
    )


def open_segments_select(paths: Sequence[Path]) -> str:
    """SELECT of the stored columns from segments a writer may be appending to.

    A torn last line is skipped; any other unreadable line fails the query (rule 2).
    """
    cols = ", ".join(f"r.{quote_ident(n)}" for n in stored_names())
    return (
        f"SELECT {cols} FROM {read_segments(paths, tolerant=True)} AS r, "
        f"({_open_guard(paths)}) AS guard WHERE r.seq IS NOT NULL AND guard.ok"
    )


def parquet_select(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> str:
    """SELECT of the stored columns from sealed Parquet files.

    Files sealed by an older polyarb may lack newer columns (NULL here) or hold a column under
    an older type (cast here; an impossible cast fails the query rather than losing values).
    """
    scan = f"read_parquet({file_list(paths)}, union_by_name=true)"
    have = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    parts = []
    for name, sql_type in journal_schema().columns:
        col = quote_ident(name)
        if name not in have:
            parts.append(f"CAST(NULL AS {sql_type}) AS {col}")
        elif have[name] != sql_type:
            parts.append(f"CAST({col} AS {sql_type}) AS {col}")
        else:
            parts.append(col)
    return f"SELECT {', '.join(parts)} FROM {scan}"


def empty_select() -> str:
    """A typed SELECT of the stored columns with no rows (a journal with no records yet)."""
    parts = [f"CAST(NULL AS {t}) AS {quote_ident(n)}" for n, t in journal_schema().columns]
    return f"SELECT {', '.join(parts)} WHERE false"


def with_shard(select: str, shard: str) -> str:
    """Append the view-only `shard` column (the journal root) to a SELECT of stored columns."""
    return (
        f"SELECT *, CAST({quote_str(shard)} AS {VARCHAR}) AS {quote_ident(SHARD)} FROM ({select})"
    )
