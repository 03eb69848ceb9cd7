# Journal replay as a book source: recorded books come back as resting orders at the recorded
# relative times, tops of book match the recording, bots trade against recorded liquidity, and
# everything skipped or adjusted is counted.
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from polyarb.events.inputs import MarketsLoaded
from polyarb.journal import Durability, JournalWriter
from polyarb.sim import Exchange, OrderRequest, PriceChange, SimConfig
from polyarb.sim.model import MICROS
from polyarb.sim.scenario import JournalScenario, Scenario, ScenarioConfig
from polyarb.sim.scenario.journal_source import BOOK_OWNER
from tests.sim.helpers import CID, NO, YES, market_info
from tests.sim.test_scenario_support import MS, T0, S, run

OTHER = "9" * 77


def _write(root: Path, frames: list[tuple[int, Any]], *, markets: bool = True,
           binary: bool = False) -> Path:
    with JournalWriter.open(root, durability=Durability(policy="none")) as w:
        if markets:
            w.append(MarketsLoaded(ts_recv_ns=T0, source="test", markets=(market_info(),)))
        for ts, payload in frames:
            data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
            w.append_raw_frame(ts, "market-0", data.encode() if binary else data)
        w.append_raw_frame(T0, "user-0", "[]", channel="user")  # not market data: ignored
    return root


def _book(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> dict[str, Any]:
    return {"event_type": "book", "asset_id": token, "market": CID, "timestamp": "1766793600000",
            "hash": "", "bids": [{"price": p, "size": s} for p, s in bids],
            "asks": [{"price": p, "size": s} for p, s in asks]}


def _change(*entries: tuple[str, str, str, str]) -> dict[str, Any]:
    return {"event_type": "price_change", "market": CID, "timestamp": "1766793600000",
            "price_changes": [{"asset_id": t, "price": p, "size": s, "side": side, "hash": ""}
                              for t, p, s, side in entries]}


def _replay(root: Path, **kw: Any) -> tuple[JournalScenario, Exchange, list[tuple[int, Any]]]:
    source = JournalScenario(root, **kw)
    seen: list[tuple[int, Any]] = []
    ex = run(source, 10**6 * S, start_ns=0,
             check=lambda ex, now, _: seen.append((now, ex.best_prices(YES))))
    return source, ex, seen


def test_replay_snapshot_then_changes_reproduce_levels_and_times(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [
        (T0 + 1 * S, [_book(YES, [("0.48", "30"), ("0.50", "15")],
                            [("0.53", "60"), ("0.52", "25")])]),
        (T0 + 1 * S + 250 * MS, _change((YES, "0.51", "40", "BUY"), (NO, "0.49", "40", "SELL"))),
        (T0 + 2 * S, _change((NO, "0.48", "0", "BUY"), (YES, "0.52", "0", "SELL"))),
        (T0 + 3 * S, [_book(NO, [("0.40", "10")], [("0.55", "20")])]),
    ])
    source, ex, seen = _replay(root)
    assert source.markets() == [market_info()]
    assert seen == [(0, (0, MICROS)), (0, (500_000, 520_000)), (250 * MS, (510_000, 520_000)),
                    (1 * S, (510_000, 530_000)), (2 * S, (450_000, 600_000))]
    assert ex.open_orders(BOOK_OWNER) and ex.problems() == []
    book = ex.book_json(NO, 0)
    assert book["bids"] == [{"price": "0.4", "size": "10"}]
    assert book["asks"] == [{"price": "0.55", "size": "20"}]
    stats = source.stats()
    assert stats["frames"] == 4 and stats["books"] == 2 and stats["level_changes"] == 4


def test_replay_mirrored_duplicates_keep_queue_place(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [
        (T0, [_book(YES, [("0.50", "15")], [("0.52", "25")])]),
        (T0 + MS, _change((YES, "0.50", "15", "BUY"), (NO, "0.50", "15", "SELL"))),
    ])
    _, ex, _ = _replay(root)
    placed = [o for o in ex.open_orders(BOOK_OWNER) if o.asset_id == YES]
    assert len(placed) == 1 and placed[0].created_at_ns == 0


def test_replay_tops_match_a_recorded_scenario(tmp_path: Path) -> None:
    cfg = ScenarioConfig(markets=3, neg_risk_events=1, outcomes=(3, 3))
    scenario = Scenario(cfg)
    tokens = [t.token_id for m in scenario.markets() for t in m.tokens]
    recorded: dict[int, dict[str, tuple[int, int]]] = {}
    with JournalWriter.open(tmp_path / "j", durability=Durability(policy="none")) as w:
        w.append(MarketsLoaded(ts_recv_ns=T0, source="sim", markets=tuple(scenario.markets())))

        def record(ex: Exchange, now: int, events: list[Any]) -> None:
            touched = {c.asset_id for e in events if isinstance(e, PriceChange)
                       for c in e.changes}
            for token in tokens:
                if token in touched or now == T0:
                    frame = orjson.dumps(ex.book_ws(token, now)).decode()
                    w.append_raw_frame(now, "market-0", frame)
            recorded[now - T0] = {t: ex.best_prices(t) for t in tokens}

        run(scenario, 4 * S, check=record)
    source = JournalScenario(tmp_path / "j")
    replayed: dict[int, dict[str, tuple[int, int]]] = {}
    run(source, 10 * S, start_ns=0,
        check=lambda ex, now, _: replayed.__setitem__(now, {t: ex.best_prices(t) for t in tokens}))
    assert len(replayed) > 20  # a frame time for every step that changed a book
    assert all(replayed[t] == recorded[t] for t in replayed)
    assert replayed[max(replayed)] == recorded[max(recorded)]


def test_replay_small_levels_round_up_and_crossed_bids_drop(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [
        (T0, [_book(YES, [("0.50", "2.5"), ("0.53", "10")], [("0.52", "25")])]),
        (T0 + MS, _change((YES, "0.40", "1", "BUY"))),
    ])
    source, ex, _ = _replay(root)
    book = ex.book_json(YES, 0)
    assert book["bids"] == [{"price": "0.4", "size": "5"}, {"price": "0.5", "size": "5"}]
    stats = source.stats()
    assert stats["levels_rounded_up"] == 2 and stats["crossed_levels_dropped"] == 1


def test_replay_finer_prices_and_tick_changes_set_the_tick(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [
        (T0, [_book(YES, [("0.031", "50")], [("0.045", "50")])]),
        (T0 + MS, [{"event_type": "tick_size_change", "asset_id": YES, "market": CID,
                    "old_tick_size": "0.001", "new_tick_size": "0.01",
                    "timestamp": "1766793600001"}]),
    ])
    source, ex, _ = _replay(root)
    assert ex.market_info(CID).tick_size_micros == 10_000
    assert ex.best_prices(YES) == (31_000, 45_000)  # resting orders keep their prices
    assert source.stats()["tick_inferred"] == 1


def test_replay_counts_what_it_cannot_use(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [
        (T0, [_book(OTHER, [("0.5", "10")], [])]),
        (T0, "PONG"),
        (T0, "not json at all"),
        (T0, [{"event_type": "last_trade_price", "asset_id": YES, "market": CID,
               "price": "0.5", "size": "10", "side": "BUY", "timestamp": "1766793600000"}]),
    ])
    stats = _replay(root)[0].stats()
    assert stats["unknown_token"] == 1 and stats["frame_rejects"] == 1
    assert stats["ignored_Control"] == 1 and stats["ignored_LastTradePrice"] == 1


def test_replay_binary_frames_are_decoded(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [(T0, [_book(YES, [("0.5", "10")], [("0.6", "10")])])],
                  binary=True)
    _, ex, _ = _replay(root)
    assert ex.best_prices(YES) == (500_000, 600_000)


def test_replay_bot_order_fills_against_recorded_liquidity(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [(T0, [_book(YES, [("0.5", "10")], [("0.6", "10")])])])
    source = JournalScenario(root)
    ex = run(source, S, start_ns=0)
    result = ex.place(OrderRequest(owner="bot", token_id=YES, side="BUY", price_micros=600_000,
                                   size_micros=4 * MICROS, order_type="FAK"), 1)
    assert result.success and result.status == "matched"
    assert ex.book_json(YES, 1)["asks"] == [{"price": "0.6", "size": "6"}]
    assert ex.balance("bot", YES).balance_micros == 4 * MICROS


def test_replay_gaps_are_capped(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [
        (T0, [_book(YES, [("0.5", "10")], [])]),
        (T0 + 3_600 * S, [_book(YES, [("0.4", "10")], [])]),
        (T0 + 3_600 * S - S, _change((YES, "0.3", "10", "BUY"))),  # clock stepped back
    ])
    source = JournalScenario(root, max_gap_ms=2_000)
    ex = Exchange(SimConfig())
    source.setup(ex, 0)
    times = []
    while (due := source.next_due_ns()) is not None:
        times.append(due)
        source.step(ex, due)
    assert times == [0, 2 * S]  # the frame from before the clock step is due at once
    assert [lv["price"] for lv in ex.book_json(YES, 0)["bids"]] == ["0.3", "0.4"]


def test_replay_frames_per_step_cap_spreads_a_burst(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [(T0, _change((YES, f"0.{k}", "10", "BUY")))
                                   for k in range(10, 40)])
    source = JournalScenario(root, max_frames_per_step=8)
    ex = Exchange(SimConfig())
    source.setup(ex, 0)
    steps = 0
    while source.next_due_ns() is not None:
        source.step(ex, S)
        steps += 1
    assert steps == 4 and len(ex.book_json(YES, 0)["bids"]) == 30


def test_replay_without_markets_is_a_clear_error(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [(T0, [_book(YES, [], [])])], markets=False)
    with pytest.raises(ValueError, match="no markets_loaded"):
        JournalScenario(root)


def test_replay_setup_twice_and_step_before_setup_raise(tmp_path: Path) -> None:
    source = JournalScenario(_write(tmp_path / "j", []))
    assert source.next_due_ns() is None
    with pytest.raises(RuntimeError, match="before setup"):
        source.step(Exchange(SimConfig()), 0)
    ex = Exchange(SimConfig())
    source.setup(ex, 0)
    with pytest.raises(RuntimeError, match="twice"):
        source.setup(ex, 0)


def test_replay_skips_markets_the_exchange_refuses(tmp_path: Path) -> None:
    root = _write(tmp_path / "j", [])
    source = JournalScenario(root)
    ex = Exchange(SimConfig())
    ex.add_market(market_info())  # already there: a clash
    source.setup(ex, 0)
    assert [cid for cid, _ in source.skipped_markets] == [CID]
    assert source.stats()["markets_skipped"] == 1
