# Smaller runtime parts: book resync, the status panel and log line, market narrowing by
# condition id, stop requests (first signal graceful, second forces), the feed sink.
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from rich.console import Console

from polyarb.config import MarketsSection
from polyarb.events.decisions import ContinuityBroken, ContinuityRestored
from polyarb.events.inputs import ConnectionOpened
from polyarb.runtime.loop import Frame
from polyarb.runtime.markets import MarketLoadError, discovery_config, narrow
from polyarb.runtime.resync import Resync
from polyarb.runtime.signals import StopRequest
from polyarb.runtime.sinks import QueueSink
from polyarb.runtime.status import Status, render_line, render_panel
from tests.core.engine_helpers import T0, group_markets, market
from tests.runtime.helpers import basket_frames, open_loop
from tests.runtime.test_loop import _loaded


class FakeFeed:
    def __init__(self) -> None:
        self.ops: list[tuple[str, tuple[str, ...]]] = []

    def subscribe(self, token_ids: list[str]) -> None:
        self.ops.append(("subscribe", tuple(token_ids)))

    def unsubscribe(self, token_ids: list[str]) -> None:
        self.ops.append(("unsubscribe", tuple(token_ids)))


def _broken(token: str) -> ContinuityBroken:
    return ContinuityBroken(ts_recv_ns=T0, cause_seq=1, token_id=token, epoch=1, reason="x")


def test_resync_resubscribes_broken_books_once_per_interval_until_restored() -> None:
    feed, now = FakeFeed(), [100.0]
    resync = Resync(feed, min_interval_s=2.0, clock=lambda: now[0])
    resync.observe(_broken("b"))
    resync.observe(_broken("a"))

    assert resync.round() == ["b", "a"]  # the order they broke in
    assert feed.ops == [("unsubscribe", ("b", "a")), ("subscribe", ("b", "a"))]
    now[0] += 1.0
    assert resync.round() == []  # too soon
    resync.observe(ContinuityRestored(ts_recv_ns=T0, cause_seq=2, token_id="b", epoch=2))
    now[0] += 1.5
    assert resync.round() == ["a"]


def test_resync_caps_a_round() -> None:
    feed = FakeFeed()
    resync = Resync(feed, max_per_round=2, clock=lambda: 0.0)
    for token in "abc":
        resync.observe(_broken(token))

    assert resync.round() == ["a", "b"]


def test_status_reads_the_engine_and_renders_exact_money(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")
    loop.handle(_loaded())
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)
    loop.handle(ConnectionOpened(ts_recv_ns=T0 + 9, conn="market-0", url="ws://x"))
    ticks = iter([0.0, 2.0])
    status = Status(lambda: loop.engine, loop.counters, lambda: loop.last_seq,
                    clock=lambda: next(ticks))

    snap = status.read()
    line = render_line(snap)
    console = Console(width=120, record=True)
    console.print(render_panel(snap, "polyarb test"))
    panel = console.export_text()
    loop.writer.close()

    assert snap.books["live"] == 3 and snap.opportunities == 1 and snap.taken == 1
    assert (snap.conns_open, snap.conns_known) == (1, 1)
    assert snap.frames_per_s == 1.5  # 3 frames in 2 s
    assert "opps 1 taken 1" in line and "breaker ACTIVE" in line
    assert "pnl real $0.00" in line
    assert "loss $0.00/$100.00" in panel and "orders" in panel


def test_markets_narrow_keeps_whole_units_holding_the_ids() -> None:
    group = tuple(group_markets("0xg", 3))
    single = (market("0x" + "a" * 64, "ya", "na"),)

    kept = narrow([group, single], [group[1].condition_id])

    assert kept == group  # the whole event, never part of it
    assert narrow([group, single], []) == group + single
    with pytest.raises(MarketLoadError, match="0x" + "b" * 64):
        narrow([group, single], ["0x" + "b" * 64])


def test_markets_discovery_config_maps_the_section() -> None:
    section = MarketsSection(tags=("politics",), min_volume="1000", limit=5)

    cfg = discovery_config(section, "http://clob", None, 3.0)

    assert (cfg.clob_url, cfg.gamma_url, cfg.tags, cfg.limit) == ("http://clob", None,
                                                                  ("politics",), 5)
    assert str(cfg.min_volume) == "1000" and cfg.min_liquidity is None
    assert discovery_config(MarketsSection(limit=0), "u", "g", 1.0).limit is None


def test_stop_request_first_signal_stops_second_forces() -> None:
    async def main() -> StopRequest:
        with StopRequest() as stop:
            if len(stop._installed) != 2:  # not the main thread: a real SIGTERM would kill us
                pytest.skip("signal handlers cannot be installed here")
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stop.stopping.wait(), 5)
            assert not stop.forced.is_set()
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.wait_for(stop.wait_forced(), 5)
        return stop

    stop = asyncio.run(main())

    assert stop.reason == "SIGTERM"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler removed


def test_queue_sink_tags_frames_with_its_channel(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")

    async def main() -> None:
        QueueSink(loop, "user").on_frame(T0, "user-0", "PONG")
        QueueSink(loop, "market").on_event(ConnectionOpened(ts_recv_ns=T0, conn="m", url="u"))

    asyncio.run(main())
    first = loop.queue.get_nowait()
    second = loop.queue.get_nowait()
    loop.writer.close()

    assert first == Frame(T0, "user-0", "PONG", "user")
    assert isinstance(second, ConnectionOpened)
