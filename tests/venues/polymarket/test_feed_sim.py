# MarketFeed end to end: the embedded simulator's /ws/market (polyarb.sim.server) feeding a
# journal through JournalWriter.append_raw_frame, read back as RawFrame records.
from __future__ import annotations

from pathlib import Path

import msgspec
import orjson

from polyarb.events.base import Input
from polyarb.events.inputs import ConnectionOpened, RawFrame, SubscriptionSent
from polyarb.journal import Durability, JournalWriter, iter_records
from polyarb.venues.polymarket.feed import MarketFeed
from tests.sim.server.helpers import run, scenario, serving, tokens
from tests.venues.polymarket.test_feed_support import FAST_BACKOFF, running, until


class JournalSink:
    """What the runtime does: journal frames raw, and lifecycle events as events."""

    def __init__(self, writer: JournalWriter) -> None:
        self.writer = writer
        self.frames = 0
        self.books: set[str] = set()

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        self.writer.append_raw_frame(ts_recv_ns, conn, data)
        self.frames += 1
        if isinstance(data, str) and data.startswith("["):
            self.books.update(b["asset_id"] for b in orjson.loads(data) if "asset_id" in b)

    def on_event(self, event: Input) -> None:
        self.writer.append(event)


def test_feed_against_simulator_journals_every_frame_and_event(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(scen=scenario(churn_per_s=300.0)) as server:
            ids = tokens(server)
            writer = JournalWriter.open(tmp_path / "j", durability=Durability(policy="none"))
            sink = JournalSink(writer)
            feed = MarketFeed(server.ws_url + "/market", sink, tokens_per_connection=3,
                              backoff=FAST_BACKOFF, proxy=None, ping_interval_s=0.05)
            feed.subscribe(ids)
            async with running(feed):
                await until(lambda: sink.books == set(ids) and sink.frames > 50)
            writer.close()
        records = [r.event for r in iter_records(tmp_path / "j")]
        raw = [e for e in records if isinstance(e, RawFrame)]
        assert len(raw) == sink.frames
        assert {e.conn for e in raw} == set(feed.assignment)
        assert any(e.text == "PONG" for e in raw)
        assert all(e.frame != msgspec.Raw() or e.text is not None for e in raw)
        initial = [e for e in records if isinstance(e, SubscriptionSent)]
        assert sorted(a for e in initial for a in e.asset_ids) == sorted(ids)
        assert len([e for e in records if isinstance(e, ConnectionOpened)]) == len(feed.assignment)
        stamps = [e.ts_recv_ns for e in records if isinstance(e, Input)]
        assert stamps == sorted(stamps)
    run(main)
