# The pnl report's realized P&L equals the engine's to the micro-dollar: in total, per UTC day
# and per market. The engine's figures come from folding the same journal (the run that wrote
# it, and a replay); the report's from the SQL (polyarb/reports/sql/pnl.sql and _common.sql).
#
# Streams: the fixed two-day run, random position streams (hypothesis: fills of any size and
# price on and off the grid, BUY and SELL with fees, duplicate / out-of-order / FAILED /
# CONFIRMED statuses, invalid trades, tokens no market describes, resolutions by markets_loaded
# and on the feed, before and after fills, days rolling), and the engine test suite's random
# order-flow driver (orders placed by the engine and answered).
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.events.inputs import MarketsLoaded, TradeUpdated
from polyarb.replay import replay_journal
from polyarb.reports.run_report import Window, run_report
from tests.core.engine_helpers import SEC, USD, group_markets, market
from tests.replay.journal_builder import JournalRun, standard_journal

MARKETS = [market("0xa", "A", "a"), market("0xb", "B", "b"), *group_markets("0xg", 3)]
TOKENS = ["A", "a", "B", "b", "gY1", "gN1", "gY2", "gY3", "U"]  # U: never described
STATUSES = ["MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"]


def _report_realized(root: Path) -> tuple[int, dict[str, int], dict[str, int]]:
    rows = run_report("pnl", [root], Window())
    total, by_day, by_market = 0, defaultdict(int), defaultdict(int)
    for row in rows.rows:
        day, market_id, realized = row[0].isoformat(), row[1], int(row[4])
        total += realized
        by_day[day] += realized
        by_market[market_id] += realized
    return total, _nonzero(by_day), _nonzero(by_market)


def _engine_realized(run: JournalRun) -> tuple[int, dict[str, int], dict[str, int]]:
    pos = run.engine.execution.positions
    traded = {e.token_id for _, e in run.inputs if type(e) is TradeUpdated}
    by_market: dict[str, int] = defaultdict(int)
    for token in traded:
        by_market[pos.market_of(token)] += pos.position(token).realized_micros
    return pos.realized_micros(), _nonzero(pos.daily_realized()), _nonzero(by_market)


def _nonzero(values: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(values.items()) if v}


def test_report_pnl_realized_equals_the_engine_on_the_fixed_run(tmp_path: Path) -> None:
    # Arrange
    run = standard_journal(tmp_path / "journal")

    # Act
    report = _report_realized(tmp_path / "journal")
    replayed = replay_journal(tmp_path / "journal")

    # Assert
    assert report == _engine_realized(run)
    assert report[0] == replayed.realized_micros == 17_800_000
    assert report[1] == {"2025-12-27": 2_000_000, "2025-12-28": 15_800_000}


def test_report_pnl_unrealized_of_hedged_sets_equals_the_engine(tmp_path: Path) -> None:
    # Arrange: at the end only a hedged complete set of 0xm2 is held, marked at $1 per set
    run = standard_journal(tmp_path / "journal")
    pos = run.engine.execution.positions

    # Act
    rows = run_report("pnl", [tmp_path / "journal"], Window()).rows
    last_day = max(r[0] for r in rows)

    # Assert
    unrealized = sum(int(r[8]) for r in rows if r[0] == last_day)
    assert unrealized == pos.unrealized_micros(run.engine.md.book) == 900_000


# ---- random position streams ---------------------------------------------------------------

op = st.tuples(st.integers(0, 9), st.integers(0, 2**16), st.integers(0, 2**16))


def _play(root: Path, ops: list[tuple[int, int, int]]) -> JournalRun:
    run = JournalRun(root)
    run.load(*MARKETS)
    trades: list[TradeUpdated] = []
    for kind, a, b in ops:
        rng = random.Random(a * 65_537 + b)
        if kind <= 4:
            trades.append(_trade(run, rng, len(trades)))
            run.feed(trades[-1])
        elif kind <= 6 and trades:
            again = trades[a % len(trades)]
            run.feed(TradeUpdated(**{**_fields(again), "ts_recv_ns": run.next_ts(),
                                     "status": rng.choice(STATUSES)}))
        elif kind == 7:
            run.now += rng.choice((SEC, 3_600 * SEC, 13 * 3_600 * SEC))
        elif kind == 8:
            _resolve(run, rng)
    run.close()
    return run


def _trade(run: JournalRun, rng: random.Random, n: int) -> TradeUpdated:
    side = rng.choice(("BUY", "SELL"))
    size = rng.choice((rng.randint(1, 80) * USD, rng.randint(1, 8_000) * 10_000,
                       rng.randint(1, 10**8)))
    price = rng.choice((rng.randint(1, 99) * 10_000, rng.randint(1, 10**6)))
    fee = rng.choice((0, 0, rng.randint(0, size // 50 + 1)))
    if rng.random() < 0.05:
        size = -size  # invalid: the engine ignores it, so must the report
    return TradeUpdated(ts_recv_ns=run.next_ts(), trade_id=f"t{n}", venue_order_id=f"v{n % 7}",
                        token_id=rng.choice(TOKENS), side=side, price_micros=price,
                        size_micros=size, status=rng.choice(STATUSES[:4] * 3 + ["FAILED"]),
                        fee_micros=fee)


def _fields(t: TradeUpdated) -> dict[str, object]:
    return {f: getattr(t, f) for f in t.__struct_fields__}


def _resolve(run: JournalRun, rng: random.Random) -> None:
    info = rng.choice(MARKETS)
    winner = rng.choice([t.token_id for t in info.tokens] + ["nobody"])
    if rng.random() < 0.5:
        run.send({"event_type": "market_resolved", "market": info.condition_id,
                  "assets_ids": [t.token_id for t in info.tokens], "winning_asset_id": winner,
                  "winning_outcome": "Yes"})
    else:
        resolved = info.__class__(**{**{f: getattr(info, f) for f in info.__struct_fields__},
                                     "winning_token_id": winner})
        run.feed(MarketsLoaded(ts_recv_ns=run.next_ts(), source="test", markets=(resolved,)))


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(op, min_size=5, max_size=60))
def test_report_pnl_realized_equals_the_engine_on_random_position_streams(
        tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[int, int, int]]) -> None:
    # Arrange
    root = tmp_path_factory.mktemp("pnl") / "journal"
    run = _play(root, ops)

    # Act
    report = _report_realized(root)

    # Assert
    assert report == _engine_realized(run)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_pnl_realized_equals_the_engine_on_engine_driven_order_flow(
        tmp_path: Path, seed: int) -> None:
    # Arrange: the core tests' driver answers the engine's own orders (fills, rejects, unknown
    # outcomes, late fills, unwinds); its inputs are journaled again the runtime's way
    from tests.core.test_determinism import OPS, _stream

    rng = random.Random(seed)
    ops = [(rng.randrange(len(OPS)), rng.randrange(2**16), rng.randrange(2**16))
           for _ in range(300)]
    driven = _stream(0, ops)
    run = JournalRun(tmp_path / "journal", driven.engine.config)
    for _, event in driven.inputs:
        run.feed(event)
    run.close()

    # Act
    report = _report_realized(tmp_path / "journal")

    # Assert
    assert report == _engine_realized(run)
