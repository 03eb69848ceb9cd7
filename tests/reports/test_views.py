# The DuckDB views over a journal: one view per kind with that kind's fields, the events view,
# exact integer aggregates, fields of kinds that appear late, day selection and errors.
from __future__ import annotations

import json
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.events import ALL_KINDS, BreakerTransitioned, ClockTick, Event, TradeUpdated
from polyarb.journal import layout
from polyarb.reports import JournalQueryError, journal_schema, open_journal_db
from polyarb.reports.schema import JSON, Field

PNL_SQL = (
    "SELECT token_id, sum(CAST(size_micros AS HUGEINT) * price_micros), sum(fee_micros), "
    "count(*) FROM trade_updated GROUP BY token_id ORDER BY token_id"
)


def python_pnl(events: list[Event]) -> list[tuple[str, int, int, int]]:
    acc: dict[str, list[int]] = {}
    for e in events:
        if isinstance(e, TradeUpdated):
            row = acc.setdefault(e.token_id, [0, 0, 0])
            row[0] += e.size_micros * e.price_micros
            row[1] += e.fee_micros
            row[2] += 1
    return [(token, *vals) for token, vals in sorted(acc.items())]  # type: ignore[misc]


def normalize(value: Any) -> Any:
    """A field value as the kind view returns it (JSON parsed, empty Raw -> None)."""
    if isinstance(value, msgspec.Raw):
        return None if len(value) == 0 else json.loads(bytes(memoryview(value)))
    if isinstance(value, tuple | msgspec.Struct):
        return json.loads(msgspec.json.encode(value))
    return value


def view_rows(con: Any, kind: str, fields: tuple[Field, ...]) -> list[list[Any]]:
    rows = con.execute(f'SELECT * EXCLUDE (shard) FROM "{kind}" ORDER BY seq').fetchall()
    json_at = [3 + i for i, f in enumerate(fields) if f.view_type == JSON]
    out = []
    for row in rows:
        row = list(row)
        for i in json_at:
            row[i] = None if row[i] is None else json.loads(row[i])
        out.append(row)
    return out


def expected_rows(
    records: list[tuple[int, Event]], kind: str, fields: tuple[Field, ...]
) -> list[list[Any]]:
    out = []
    for seq, event in records:
        if ALL_KINDS[kind] is type(event):
            values = msgspec.structs.asdict(event)
            out.append([seq, event.ts_recv_ns, event.SCHEMA_VERSION]
                       + [normalize(values[f.name]) for f in fields])  # fmt: skip
    return out


@pytest.mark.parametrize("minimal", [False, True], ids=["all-fields", "defaults"])
def test_kind_views_every_kind_returns_its_fields(tmp_path: Path, kit: Any, minimal: bool) -> None:
    # Arrange: one event of every kind, all fields set or only the required ones
    events = [
        kit.sample_event(cls, kit.DAY0_NS + i, minimal=minimal)
        for i, cls in enumerate(ALL_KINDS.values())
    ]
    records = kit.write_journal(tmp_path / "j", events)
    # Act
    con = open_journal_db(tmp_path / "j")
    # Assert
    for kind, fields in journal_schema().kinds.items():
        cols = [r[0] for r in con.execute(f'DESCRIBE "{kind}"').fetchall()]
        assert cols == ["seq", "ts_recv_ns", "v", *(f.name for f in fields), "shard"]
        assert view_rows(con, kind, fields) == expected_rows(records, kind, fields), kind


def test_events_view_has_stored_columns_with_their_types(tmp_path: Path, kit: Any) -> None:
    kit.write_journal(tmp_path / "j", kit.frames(3))
    con = open_journal_db(tmp_path / "j")
    described = [(r[0], r[1]) for r in con.execute("DESCRIBE events").fetchall()]
    assert described == [*journal_schema().columns, ("shard", "VARCHAR")]


def test_events_view_omitted_default_reads_null_kind_view_fills_it(
    tmp_path: Path, kit: Any
) -> None:
    kit.write_journal(tmp_path / "j", kit.frames(1))
    con = open_journal_db(tmp_path / "j")
    stored = con.execute("SELECT channel, \"binary\" FROM events WHERE kind = 'raw_frame'")
    assert stored.fetchall() == [(None, None)]
    assert con.execute('SELECT channel, "binary" FROM raw_frame').fetchall() == [("market", False)]


def test_pnl_aggregate_many_days_and_segments_equals_python_exactly(
    tmp_path: Path, kit: Any, rng: random.Random
) -> None:
    # Arrange: three days, small segments, trades among frames; sizes make 64-bit sums overflow
    events = kit.interleave(
        kit.trades(3_000, rng, step_ns=kit.DAY_NS // 1_000),
        kit.frames(2_000, step_ns=kit.DAY_NS // 700),
    )
    records = kit.write_journal(tmp_path / "j", events, segment_bytes=20_000)
    # Act
    con = open_journal_db(tmp_path / "j")
    got = con.execute(PNL_SQL).fetchall()
    kinds = dict(con.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    # Assert
    assert [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in got] == (
        python_pnl(events)
    )
    assert max(row[1] for row in got) > 2**63  # the exactness check covers HUGEINT sums
    assert kinds == dict(Counter(type(e).__struct_config__.tag for _, e in records))
    assert kinds["day_opened"] == 3
    assert con.execute("SELECT count(DISTINCT day), sum(len(files)) > 3 FROM journal_sources"
                       ).fetchone() == (3, True)  # fmt: skip


trade_st = st.builds(
    TradeUpdated,
    ts_recv_ns=st.integers(0, 3 * 86_400 * 10**9).map(lambda t: 1_766_793_600 * 10**9 + t),
    trade_id=st.text(max_size=5),
    venue_order_id=st.just("o"),
    token_id=st.sampled_from(["1", "2", "é'\"3"]),
    side=st.sampled_from(["BUY", "SELL"]),
    price_micros=st.integers(0, 10**6),
    size_micros=st.integers(0, 2**62),
    status=st.just("MATCHED"),
    fee_micros=st.integers(0, 2**62),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=st.lists(trade_st, min_size=1, max_size=40), seg=st.integers(300, 3_000))
def test_pnl_aggregate_any_trades_equals_python(
    tmp_path_factory: pytest.TempPathFactory, kit: Any, trades: list[Event], seg: int
) -> None:
    root = tmp_path_factory.mktemp("j")
    events = sorted(trades, key=lambda e: e.ts_recv_ns)
    kit.write_journal(root, events, segment_bytes=seg)
    got = open_journal_db(root).execute(PNL_SQL).fetchall()
    assert [(r[0], int(r[1]), int(r[2]), r[3]) for r in got] == python_pnl(events)


def test_kind_first_seen_after_1m_records_keeps_all_fields(tmp_path: Path, kit: Any) -> None:
    # DuckDB's JSON schema sampling would drop these columns; explicit columns must not.
    # 1M lines take ~3 s to write here; the point is far beyond any sample size.
    ticks = (ClockTick(ts_recv_ns=kit.DAY0_NS + i) for i in range(1_000_000))
    trade = kit.trades(1, random.Random(1), ts0=kit.DAY0_NS + 2_000_000)[0]
    breaker = BreakerTransitioned(ts_recv_ns=kit.DAY0_NS + 2_000_001, cause_seq=5,
                                  from_state="ACTIVE", to_state="HALTED", gate="rejects",
                                  limit=Decimal("3"), observed=Decimal("4.25"))  # fmt: skip
    kit.write_journal(tmp_path / "j", [*ticks, trade, breaker])
    con = open_journal_db(tmp_path / "j")
    assert con.execute(
        "SELECT seq, trade_id, token_id, price_micros, size_micros, status FROM trade_updated"
    ).fetchall() == [
        (
            1_000_002,
            trade.trade_id,
            trade.token_id,
            trade.price_micros,
            trade.size_micros,
            "MATCHED",
        )
    ]  # fmt: skip (seq 1 is day_opened)
    assert con.execute(
        "SELECT seq, gate, \"limit\", observed FROM events WHERE kind = 'breaker_transitioned'"
    ).fetchall() == [(1_000_003, "rejects", "3", "4.25")]
    assert con.execute("SELECT count(*) FROM clock_tick").fetchone() == (1_000_000,)


def test_open_journal_db_days_selects_only_those_days(tmp_path: Path, kit: Any) -> None:
    events = kit.frames(6, step_ns=kit.DAY_NS // 2)  # two per day, three days
    records = kit.write_journal(tmp_path / "j", events)
    con = open_journal_db(tmp_path / "j", days=["2025-12-28"])
    day2 = [seq for seq, e in records if layout.day_of_ns(e.ts_recv_ns) == "2025-12-28"]
    assert con.execute("SELECT list(seq ORDER BY seq) FROM events").fetchone() == (day2,)
    assert len(day2) == 3


def test_open_journal_db_day_in_no_root_raises(tmp_path: Path, kit: Any) -> None:
    kit.write_journal(tmp_path / "j", kit.frames(2))
    with pytest.raises(JournalQueryError, match=r"days not found .*'2024-01-01'"):
        open_journal_db(tmp_path / "j", days=["2025-12-27", "2024-01-01"])


def test_open_journal_db_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(JournalQueryError, match="does not exist"):
        open_journal_db(tmp_path / "nope")


def test_open_journal_db_root_without_days_raises(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    with pytest.raises(JournalQueryError, match="holds no day directories"):
        open_journal_db(tmp_path)


def test_open_journal_db_segment_missing_from_manifest_raises(tmp_path: Path, kit: Any) -> None:
    kit.write_journal(tmp_path / "j", kit.frames(2))
    kit.write_file(tmp_path / "j" / "2025-12-27" / layout.segment_name(99), b"")
    with pytest.raises(JournalQueryError, match="not in the manifest"):
        open_journal_db(tmp_path / "j")


def test_open_journal_db_day_dir_without_manifest_yet_is_skipped(tmp_path: Path, kit: Any) -> None:
    kit.write_journal(tmp_path / "j", kit.frames(2))
    layout.make_dir(tmp_path / "j" / "2025-12-28")  # a writer rolling the day, mid-way
    con = open_journal_db(tmp_path / "j")
    assert con.execute("SELECT count(*) FROM events").fetchone() == (3,)  # with day_opened


def test_open_journal_db_day_without_records_gives_empty_typed_views(tmp_path: Path) -> None:
    layout.make_dir(tmp_path / "2025-12-27")
    layout.write_manifest(tmp_path / "2025-12-27", layout.Manifest(day="2025-12-27"))
    con = open_journal_db(tmp_path)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    assert con.execute("SELECT count(*), sum(price_micros) FROM trade_updated").fetchone() == (
        0,
        None,
    )


def test_open_journal_db_several_roots_unions_them_by_shard(tmp_path: Path, kit: Any) -> None:
    # Arrange: two shards with overlapping seqs (each journal numbers from 1)
    a = kit.write_journal(tmp_path / "a", kit.trades(30, random.Random(1)))
    b = kit.write_journal(tmp_path / "b", kit.trades(20, random.Random(2)))
    # Act
    con = open_journal_db([tmp_path / "a", tmp_path / "b"])
    # Assert
    per_shard = con.execute("SELECT shard, count(*), max(seq) FROM events GROUP BY 1 ORDER BY 1")
    assert per_shard.fetchall() == [
        (str((tmp_path / "a").resolve()), 31, 31),  # 30 trades and a day_opened
        (str((tmp_path / "b").resolve()), 21, 21),
    ]
    got = con.execute(PNL_SQL).fetchall()
    expected = python_pnl([e for _, e in a] + [e for _, e in b])
    assert [(r[0], int(r[1]), int(r[2]), r[3]) for r in got] == expected


def test_open_journal_db_same_root_twice_raises(tmp_path: Path, kit: Any) -> None:
    # Unioning a root with itself would count every record twice.
    kit.write_journal(tmp_path / "j", kit.frames(2))
    with pytest.raises(JournalQueryError, match="given twice"):
        open_journal_db([tmp_path / "j", tmp_path / "x" / ".." / "j"])
