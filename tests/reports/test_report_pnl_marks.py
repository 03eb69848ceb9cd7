# The pnl report's unrealized P&L equals the engine's to the micro-dollar while positions are
# open: both mark unhedged shares at the book's mid (one side's price when the other is empty,
# the last fill price when the book is unusable), the report from the journaled frames and
# continuity decisions (polyarb/reports/sql/pnl.sql), the engine from its books
# (polyarb/core/positions.py rule 7).
#
# Streams: a fixed scenario that walks one held token's book through every case (snapshot,
# price changes, a one-sided book, a crossed change, a tick size change, a stale feed, a lost
# update, a new snapshot), checked after each step with --until; and random streams
# (hypothesis) mixing fills with snapshots (crossed or one-sided too), price changes in the
# current format with true, missing or wrong venue tops and in the legacy format, best_bid_ask
# events, tick size changes, rejected elements, stale periods and day rolls. And a real run:
# `polyarb run` on the embedded simulator (the runtime tests' session run), folded again.
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.events.inputs import TradeUpdated
from polyarb.reports.run_report import Window, run_report
from polyarb.runtime.rebuild import rebuild
from tests.core.engine_helpers import (
    SEC,
    USD,
    book_msg,
    change_entry,
    market,
    price_change_msg,
    px,
    tick_change_msg,
)
from tests.replay.journal_builder import JournalRun
from tests.reports.test_report_pnl import MARKETS, TOKENS, _trade
from tests.runtime.conftest import sim_run, sim_run_journal  # noqa: F401 (fixtures)

DAY_NS = 86_400 * SEC
MARK = 11  # the pnl report's `mark` column


def _report_unrealized(root: Path, until_ns: int) -> tuple[int, list[str]]:
    """The report's unrealized P&L (and marks) of the UTC day of the last event before until."""
    rows = run_report("pnl", [root], Window(until_ns=until_ns)).rows
    last_day = dt.datetime.fromtimestamp((until_ns - 1) // SEC, dt.UTC).date()
    day_rows = [r for r in rows if r[0] == last_day]
    return sum(int(r[8]) for r in day_rows), sorted({r[MARK] for r in day_rows if r[MARK]})


def _engine_unrealized(run: JournalRun) -> int:
    return run.engine.execution.positions.unrealized_micros(run.engine.md.book)


def _buy(run: JournalRun, token: str, price: int, size: int, n: int) -> None:
    run.feed(TradeUpdated(ts_recv_ns=run.next_ts(), trade_id=f"t{n}", venue_order_id="v",
                          token_id=token, side="BUY", price_micros=price, size_micros=size,
                          status="MATCHED"))


# ---- the fixed scenario ------------------------------------------------------------------------

def _steps(run: JournalRun) -> list[tuple[str, Any]]:
    """(expected mark, action) pairs: each action moves the book of token Y of market 0xm."""
    return [
        ("last_fill", lambda: _buy(run, "Y", 400_000, 10 * USD, 1)),  # no book yet
        ("mid", lambda: run.book("Y", [(410_000, 5 * USD), (300_000, USD)],
                                 [(470_000, 5 * USD)])),  # mid (410k + 470k) // 2
        ("mid", lambda: run.change(("Y", "BUY", 430_001, 7 * USD))),  # odd sum rounds down
        ("mid", lambda: run.change(("Y", "BUY", 430_001, 0), ("Y", "SELL", 460_000, USD))),
        ("bid", lambda: run.change(("Y", "SELL", 460_000, 0), ("Y", "SELL", 470_000, 0))),
        ("mid", lambda: run.send([book_msg("Y", [(200_000, USD)], [(600_000, USD)])])),
        ("last_fill", lambda: run.send(price_change_msg([  # a wrong venue top: broken
            change_entry("Y", "BUY", 250_000, USD, 250_000, 550_000)]))),
        ("ask", lambda: run.book("Y", [], [(650_000, USD)])),
        ("last_fill", lambda: run.send(tick_change_msg("Y", 10_000, 1_000))),
        ("mid", lambda: run.book("Y", [(500_000, USD)], [(501_000, USD)])),
        ("last_fill", lambda: run.clock(61 * SEC)),  # stale
        ("mid", lambda: run.book("Y", [(100_000, USD)], [(900_000, USD)])),
        ("last_fill", lambda: run.send([{"event_type": "price_change", "asset_id": "Y",
                                          "price_changes": "garbage"}])),  # update lost
        ("last_fill", lambda: run.book("Y", [(600_000, USD)], [(550_000, USD)])),  # crossed
        ("mid", lambda: run.book("Y", [(300_000, USD)], [(700_001, USD)])),
        ("mid", lambda: run.send({"event_type": "price_change", "asset_id": "Y",  # legacy
                                  "changes": [{"price": "0.31", "size": "5", "side": "BUY"}]})),
        ("mid+set", lambda: _buy(run, "N", 500_000, 4 * USD, 2)),  # 4 sets, 6 Y at the mid
    ]


def test_report_pnl_unrealized_equals_the_engine_at_every_book_state(tmp_path: Path) -> None:
    # Arrange
    run = JournalRun(tmp_path / "journal")
    run.run_started("r1")
    run.load(market("0xm", "Y", "N"))
    checks: list[tuple[int, str, int]] = []
    for mark, action in _steps(run):
        action()
        checks.append((run.now + 1, mark, _engine_unrealized(run)))
    run.close()

    # Act
    got = [(_report_unrealized(tmp_path / "journal", until)) for until, _, _ in checks]

    # Assert
    assert [(value, [mark]) for _, mark, value in checks] == got
    assert len({value for _, _, value in checks}) > 8  # the marks really moved the value


def test_report_pnl_unrealized_marks_a_hedged_set_at_one_dollar(tmp_path: Path) -> None:
    # Arrange: YES and NO held 1:1, books on both: no share is priced by a book
    run = JournalRun(tmp_path / "journal")
    run.run_started("r1")
    run.load(market("0xm", "Y", "N"))
    run.book("Y", [(100_000, USD)], [(900_000, USD)])
    _buy(run, "Y", 400_000, 5 * USD, 1)
    _buy(run, "N", 500_000, 5 * USD, 2)
    run.close()

    # Act
    value, marks = _report_unrealized(tmp_path / "journal", run.now + 1)

    # Assert
    assert value == _engine_unrealized(run) == 5 * USD - 4_500_000
    assert marks == ["set"]


# ---- random streams ----------------------------------------------------------------------------

def _levels(rng: random.Random, low: int, high: int) -> list[tuple[int, int]]:
    # bids mostly below asks, so that many books are usable (and some are crossed)
    return [(rng.randint(low, high) * 10_000, rng.choice((0, USD, rng.randint(1, 10**9))))
            for _ in range(rng.randint(0, 4))]


def _change(run: JournalRun, rng: random.Random, token: str) -> dict[str, Any]:
    side = rng.choice(("BUY", "SELL"))
    price = rng.randint(1, 55) * 10_000 if side == "BUY" else rng.randint(45, 99) * 10_000
    size = rng.choice((0, 0, USD, rng.randint(1, 10**9)))
    entry = run.venue.change(token, side, price, size)  # true venue tops
    mode = rng.randint(0, 5)
    if mode == 1:  # no venue tops (the engine cannot check)
        entry.pop("best_bid")
        entry.pop("best_ask")
    elif mode == 2:
        entry.pop("best_ask")
    elif mode == 3:  # a wrong top: the engine breaks the book
        entry["best_bid"] = px(rng.randint(0, 99) * 10_000)
    elif mode == 4:  # legacy format
        return {"event_type": "price_change", "asset_id": token, "market": "",
                "changes": [{k: entry[k] for k in ("price", "size", "side")}]}
    return price_change_msg([entry])


def _market_op(run: JournalRun, rng: random.Random, kind: int) -> None:
    token = rng.choice(TOKENS)
    if kind == 0:
        bids, asks = _levels(rng, 1, 55), _levels(rng, 45, 99)
        run.venue.snapshot(token, bids, asks)
        run.send(book_msg(token, bids, asks))
    elif kind == 1:
        run.send(_change(run, rng, token))
    elif kind == 2:
        run.send([_change(run, rng, token), _change(run, rng, rng.choice(TOKENS))])
    elif kind == 3:
        bid, ask = rng.randint(0, 99) * 10_000, rng.randint(1, 100) * 10_000
        run.send({"event_type": "best_bid_ask", "asset_id": token, "market": "",
                  "best_bid": px(bid), "best_ask": px(ask)})
    elif kind == 4:
        run.send(tick_change_msg(token, 10_000, 1_000))
    elif kind == 5:
        run.send([book_msg(token, _levels(rng, 1, 55), _levels(rng, 45, 99)),
                  {"event_type": "book", "asset_id": token, "bids": "garbage", "asks": []}])
    else:
        run.clock(rng.choice((SEC, SEC, 61 * SEC, 13 * 3_600 * SEC)))


def _play(root: Path, ops: list[tuple[int, int]]) -> tuple[JournalRun, list[tuple[int, int]]]:
    run = JournalRun(root)
    run.run_started("r1")
    run.load(*MARKETS)
    checks: list[tuple[int, int]] = []
    for n, (kind, seed) in enumerate(ops):
        rng = random.Random(seed)
        if kind < 3:
            run.feed(_trade(run, rng, n))
        else:
            _market_op(run, rng, kind - 3)
        if n % 7 == 6:
            checks.append((run.now + 1, _engine_unrealized(run)))
    checks.append((run.now + 1, _engine_unrealized(run)))
    run.close()
    return run, checks


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 2**32)), min_size=5, max_size=40))
def test_report_pnl_unrealized_equals_the_engine_on_random_book_streams(
        tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[int, int]]) -> None:
    # Arrange
    root = tmp_path_factory.mktemp("marks") / "journal"
    _, checks = _play(root, ops)

    # Act
    got = [_report_unrealized(root, until)[0] for until, _ in checks]

    # Assert
    assert got == [value for _, value in checks]


# ---- a real run --------------------------------------------------------------------------------

def test_report_pnl_equals_the_engine_on_the_embedded_simulator_run(
        sim_run_journal: Path) -> None:  # noqa: F811 (the imported fixture)
    # Arrange: the engine the journal leads to, as a restart rebuilds it
    engine = rebuild(sim_run_journal).engine
    assert engine is not None
    pos = engine.execution.positions

    # Act
    rows = run_report("pnl", [sim_run_journal]).rows
    last_day = max(r[0] for r in rows)

    # Assert
    assert sum(int(r[4]) for r in rows) == pos.realized_micros()
    assert sum(int(r[8]) for r in rows if r[0] == last_day) == pos.unrealized_micros(
        engine.md.book)
