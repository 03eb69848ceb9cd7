# A journal written the way `polyarb run` writes one, across restarts: every restart opens the
# journal with the engine loop's checkpoint hook, rebuilds the engine (from the newest usable
# state_checkpoint), journals RunStarted through startup.start_run and schedules mid-day
# checkpoints. The checkpoint-restart tests script days, restarts and crashes with it.
#
# Rules: no clock, no randomness (time is `Scenario.ts`, moved by the script); no MagicMock.
from __future__ import annotations

from pathlib import Path

import orjson

from polyarb.config import RunConfig
from polyarb.core.config import EngineConfig
from polyarb.events import encode_record
from polyarb.events.base import Decision
from polyarb.events.decisions import PlaceOrders
from polyarb.events.inputs import ClockTick, MarketsLoaded, OrderAccepted
from polyarb.journal import Durability, JournalWriter
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame
from polyarb.runtime.rebuild import Rebuilt
from polyarb.runtime.startup import HookTarget, engine_of, rebuild_engine, start_run
from tests.core.engine_helpers import MS, SEC, T0, USD, book_msg
from tests.runtime.helpers import basket

DAY = 86_400 * SEC


class Scenario:
    """One journal root, written by successive runs.

    Args:
        root: the journal root.
        every: mid-day checkpoint cadence in records (0: day-roll checkpoints only).
    """

    def __init__(self, root: Path, every: int) -> None:
        self.root = root
        self.every = every
        self.ts = T0
        self.runs = 0
        self.actions: list[Decision] = []
        self.rebuilt: list[Rebuilt] = []
        self.loop: EngineLoop | None = None
        self.start(EngineConfig())

    def clock(self) -> int:
        self.ts += MS
        return self.ts

    def start(self, config: EngineConfig) -> None:
        """A run starts: open, rebuild, RunStarted, markets (the order of startup.py)."""
        hook = HookTarget()
        writer = JournalWriter.open(self.root, durability=Durability(policy="none"),
                                    checkpoint_hook=hook)
        rebuilt = rebuild_engine(writer)
        self.rebuilt.append(rebuilt)
        run_config = RunConfig(engine=config)
        loop = EngineLoop(writer, engine_of(rebuilt, run_config), self.actions.append,
                          Counters())
        hook.loop = self.loop = loop
        self.runs += 1
        start_run(loop, rebuilt, run_config, f"r{self.runs}", "test", self.clock)
        loop.schedule_checkpoints(self.every, since=rebuilt.checkpoint_seq or 0)
        loop.handle(MarketsLoaded(ts_recv_ns=self.clock(), source="test",
                                  markets=tuple(basket())))

    def frames(self, ask: int) -> None:
        """One book per basket outcome, YES asks summing to 3 * ask (< $1: an arbitrage)."""
        assert self.loop is not None
        for info in basket():
            msg = book_msg(info.tokens[0].token_id, [(ask - 50_000, 100 * USD)],
                           [(ask, 100 * USD)], info.condition_id)
            self.loop.handle(Frame(self.clock(), "market-0", orjson.dumps(msg).decode()))

    def accept(self) -> None:
        """The venue accepts the orders of the latest batch (execution state moves)."""
        assert self.loop is not None
        batches = [a for a in self.actions if isinstance(a, PlaceOrders)]
        if not batches:
            return
        for order in batches[-1].orders:
            self.loop.handle(OrderAccepted(
                ts_recv_ns=self.clock(), client_order_id=order.client_order_id,
                venue_order_id=f"v-{order.client_order_id}", status="live"))

    def tick(self, seconds: int) -> None:
        assert self.loop is not None
        self.ts += seconds * SEC
        self.loop.handle(ClockTick(ts_recv_ns=self.ts))

    def next_day(self) -> None:
        self.ts += DAY

    def stop(self) -> None:
        """A clean stop (the writer closes)."""
        assert self.loop is not None
        self.loop.writer.close()
        self.loop = None

    def crash_cutting_decisions(self, ask: int) -> None:
        """A frame journaled whose decisions a crash cut off, then the writer gone."""
        assert self.loop is not None
        infos = basket()
        for i, info in enumerate(infos):
            msg = book_msg(info.tokens[0].token_id, [(ask - 50_000, 100 * USD)],
                           [(ask, 100 * USD)], info.condition_id)
            frame = Frame(self.clock(), "market-0", orjson.dumps(msg).decode())
            if i < len(infos) - 1:
                self.loop.handle(frame)
            else:
                assert isinstance(frame.data, str)
                self.loop.writer.append_raw_frame(frame.ts_recv_ns, frame.conn, frame.data)
        self.stop()

    def engine_hash(self) -> str:
        assert self.loop is not None
        return self.loop.engine.state_hash()


def rewrite_record(root: Path, seq: int, line: bytes) -> None:
    """Replace the journal line of `seq` with `line` (a test's tampering; CRC as given)."""
    for path in sorted(root.glob("*/seg-*.ndjson")):
        data = path.read_bytes()
        head = b'{"seq":%d,' % seq
        start = 0 if data.startswith(head) else data.find(b"\n" + head) + 1
        if start > 0 or data.startswith(head):
            end = data.index(b"\n", start) + 1
            path.write_bytes(data[:start] + line + data[end:])
            return
    raise AssertionError(f"seq {seq} not found")


def reencoded(seq: int, event: object) -> bytes:
    """A valid journal line (good CRC) of `event` at `seq`."""
    return encode_record(seq, event)  # type: ignore[arg-type]
