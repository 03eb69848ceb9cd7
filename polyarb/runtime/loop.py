# The engine loop: the one place where inputs are journaled, folded and acted on.
#
# Rules (docs/architecture.md, "the order of work"):
# 1. Every input passes through `handle`, in queue order: journal it (a websocket frame through
#    append_raw_frame, its exact bytes), apply it to the engine with the seq the journal gave it,
#    journal every decision, then act. When a decision is an order action (PlaceOrders, Unwind,
#    CancelOrders) the journal is synced first: nothing leaves before its decision is on disk.
# 2. One consumer task drains one queue (Inbox), so the order of the journal is total and equals
#    the order the engine saw. Feeds, the ticker, the heartbeater and the executor only put
#    items on the queue; the startup path calls `handle` directly before the consumer starts.
# 3. The event applied is exactly the event replay decodes: a frame is embedded verbatim when
#    embed_text_frame says so (its EmbeddedFrame goes to the writer, which trusts it), else kept
#    as text. A market frame is decoded once: MarketData.prime decodes it for the engine, and
#    that decode is the codec's proof of valid JSON.
# 4. A journal failure, or any exception from the engine, stops the loop and propagates: the
#    run halts rather than act on an input that is not journaled (crash-only; the next start
#    recovers from the disk).
# 5. The journal's checkpoint hook (day roll) asks the engine for checkpoint(at_seq, ts) with
#    the time of the input being journaled; at that moment the engine has folded every record
#    up to at_seq and nothing after it.
# 5a. Mid-day checkpoints (`schedule_checkpoints`, [journal] checkpoint_every_records): once
#    the journal's seq has passed the due seq, a state_checkpoint is journaled right after the
#    input's decisions (an input boundary, so a restart or a replay starts from it exactly).
#    The due seq is counted from the latest checkpoint, the day roll's included; the cost on
#    the hot path is one integer compare per input (the seq is the journal's own counter).
# 5b. A checkpoint whose state would exceed half the readers' line limit (256 MB) is not
#    journaled (a warning says so): a line over the limit would make the journal unreadable.
#    The restart then folds from the checkpoint before it, replay from an earlier day.
# 6. Once `redact(api_key)` is set, our API key is replaced in user-channel frames and REST
#    snapshot bodies before they are journaled: credentials never reach the journal.
from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from polyarb.core.engine import Engine
from polyarb.events.base import Decision, Input
from polyarb.events.codec import EmbeddedFrame, embed_text_frame
from polyarb.events.decisions import CancelOrders, PlaceOrders, StateCheckpoint, Unwind
from polyarb.events.inputs import RawFrame, RestSnapshot, RunStarted
from polyarb.journal import JournalWriter
from polyarb.journal.scan import MAX_LINE
from polyarb.runtime.counters import Counters
from polyarb.runtime.gcpause import gc_paused

ACTIONS = (PlaceOrders, Unwind, CancelOrders)
_NEVER = 1 << 62  # a due seq no journal reaches: mid-day checkpoints off
MAX_CHECKPOINT_BYTES = MAX_LINE // 2  # rule 5b
log = logging.getLogger(__name__)


class Frame(msgspec.Struct, frozen=True, gc=False):
    """A websocket frame as a feed delivered it (str: text frame, bytes: binary frame).

    A msgspec Struct rather than a frozen dataclass: built once per frame, ~6x cheaper.
    """

    ts_recv_ns: int
    conn: str
    data: str | bytes
    channel: Literal["market", "user"] = "market"


Item = Frame | Input
_STOP = object()


class Inbox:
    """The loop's queue: a deque plus one waiting consumer, filled from the event loop's thread.

    asyncio.Queue's per-item bookkeeping (getters, putters, unfinished count) cost ~0.6 µs per
    frame; the consumer here needs only "wake me when something is queued".

    Attributes:
        items: the queued items, oldest first (the consumer pops them).
    """

    __slots__ = ("_waiter", "items")

    def __init__(self) -> None:
        self.items: deque[object] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: object) -> None:
        """Queue one item and wake the consumer."""
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def put_many(self, items: Sequence[object]) -> None:
        """Queue items in order and wake the consumer once (a feed's frames of one read)."""
        if items:
            self.items.extend(items[:-1])
            self.put_nowait(items[-1])

    def get_nowait(self) -> object:
        """The oldest item. Raises asyncio.QueueEmpty when there is none."""
        try:
            return self.items.popleft()
        except IndexError:
            raise asyncio.QueueEmpty from None

    def empty(self) -> bool:
        """True when nothing is queued."""
        return not self.items

    async def wait(self) -> None:
        """Return once something is queued (at once when something is)."""
        if self.items:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None


def frame_record(frame: Frame, prime: Callable[[msgspec.Raw], bool] | None = None,
                 ) -> tuple[RawFrame, str | bytes | EmbeddedFrame]:
    """The RawFrame replay will decode for `frame`, and what the writer journals for it.

    The frame is classified once (rule 3): an embeddable text frame comes back as the
    EmbeddedFrame the writer splices unchecked; any other frame as its data.

    Args:
        frame: the frame as the feed delivered it.
        prime: the engine's shared decode (MarketData.prime) for a market frame: it decodes the
            bytes for the engine and its answer is the journal's proof of valid JSON.
    """
    data, ts = frame.data, frame.ts_recv_ns
    if isinstance(data, bytes):
        text = base64.b64encode(data).decode("ascii")
        return RawFrame(ts_recv_ns=ts, conn=frame.conn, channel=frame.channel, text=text,
                        binary=True), data
    raw = data.encode("utf-8", "surrogatepass")
    value = msgspec.Raw(raw)
    embedded = embed_text_frame(data, raw, parsed=prime is not None and prime(value))
    if embedded is None:
        return RawFrame(ts_recv_ns=ts, conn=frame.conn, channel=frame.channel, text=data), data
    return RawFrame(ts_recv_ns=ts, conn=frame.conn, channel=frame.channel, frame=value), embedded


class EngineLoop:
    """Journal -> apply -> journal decisions -> act, for every input (rules 1-5).

    Args:
        writer: the open journal.
        engine: the engine (fresh, or rebuilt from the journal).
        act: called with each order action once it is durable (the executor's dispatch).
        counters: what the status panel shows; updated here.

    Attributes:
        observers: called with every journaled decision (counters, book resync); read-only.
    """

    def __init__(self, writer: JournalWriter, engine: Engine,
                 act: Callable[[Decision], None], counters: Counters) -> None:
        self.writer = writer
        self.engine = engine
        self.act = act
        self.counters = counters
        self.observers: list[Callable[[Decision], None]] = [counters.decision]
        self.queue = Inbox()
        self.last_seq = writer.next_seq - 1
        self._ts = 0  # time of the input being journaled (rule 5)
        self._every = 0  # records between mid-day checkpoints (rule 5a); 0: off
        self._checkpoint_due = _NEVER
        self._redact: tuple[str, bytes] | None = None
        # Seq of the run_started in force, journaled in each checkpoint so a restart reads that
        # record directly (rebuild.py rule 4); None until known (start_run seeds it).
        self.run_seq: int | None = None

    def redact(self, api_key: str) -> None:
        """Replace our API key with REDACTED_API_KEY in user-channel frames and REST bodies.

        The venue echoes the key as `owner` in our orders and trades. It is a credential, so it
        never reaches the journal (rule 6); the engine folds neither kind of record, so replay
        is unaffected, and the typed events were parsed from the original bytes.
        """
        self._redact = (api_key, api_key.encode())

    # --- producers -------------------------------------------------------------------------

    def submit(self, item: Item) -> None:
        """Queue one input (any thread-less producer on the event loop)."""
        self.queue.put_nowait(item)

    def submit_many(self, items: list[Frame]) -> None:
        """Queue inputs in order with one consumer wake-up (the frames of one socket read)."""
        self.queue.put_many(items)

    def checkpoint(self, at_seq: int) -> StateCheckpoint | None:
        """The journal's day-roll hook (rule 5); the next mid-day one counts from it (5a)."""
        if self._every:
            self._checkpoint_due = at_seq + self._every
        with gc_paused():  # the snapshot allocates the whole state (the writer encodes it)
            return self._state_checkpoint(at_seq)

    def schedule_checkpoints(self, every: int, since: int = 0) -> None:
        """Journal a state_checkpoint once `every` records followed the latest one (rule 5a).

        Args:
            every: records between checkpoints ([journal] checkpoint_every_records); 0 = off.
            since: the seq of the journal's latest state_checkpoint (0 for none).
        """
        self._every = max(0, every)
        self._checkpoint_due = since + every if every > 0 else _NEVER

    def _checkpoint_now(self) -> None:
        """Journal the engine's state after everything journaled so far (rule 5a)."""
        with gc_paused():  # the snapshot and the line's check allocate the whole state
            checkpoint = self._state_checkpoint(self.last_seq)
            if checkpoint is not None:
                self.last_seq = self.writer.append(checkpoint)
        self._checkpoint_due = self.last_seq + self._every

    def _state_checkpoint(self, at_seq: int) -> StateCheckpoint | None:
        """The engine's checkpoint, or None when its line would be too long (rule 5b)."""
        checkpoint = self.engine.checkpoint(at_seq, self._ts, self.run_seq)
        if len(checkpoint.state) > MAX_CHECKPOINT_BYTES:
            log.warning("state checkpoint after seq %d not journaled: its state is %d bytes, "
                        "over %d (half the journal readers' line limit)", at_seq,
                        len(checkpoint.state), MAX_CHECKPOINT_BYTES)
            return None
        return checkpoint

    # --- the work --------------------------------------------------------------------------

    def handle(self, item: Item) -> list[Decision]:
        """Journal, apply, journal the decisions, act (rule 1). Returns the decisions."""
        event: Input
        if self._redact is not None:
            item = _scrubbed(item, self._redact)
        if isinstance(item, Frame):
            ts = self._ts = item.ts_recv_ns
            channel = item.channel
            market = channel == "market"
            event, payload = frame_record(item, self.engine.md.prime if market else None)
            # embeddable=False: frame_record classified the frame; a str here is not JSON.
            seq = self.writer.append_raw_frame(ts, item.conn, payload, channel=channel,
                                               embeddable=False)
            counters = self.counters
            if market:
                counters.market_frames += 1
            else:
                counters.user_frames += 1
        else:
            self._ts = item.ts_recv_ns
            event = item
            seq = self.writer.append(item)
            self.counters.input(item)
            if type(item) is RunStarted:
                self.run_seq = seq
        self.last_seq = seq
        decisions = self.engine.apply(seq, event)
        if decisions:
            self.record(decisions)
        if self.last_seq >= self._checkpoint_due:  # rule 5a: after the input's decisions
            self._checkpoint_now()
        return decisions

    def record(self, decisions: list[Decision], *, act: bool = True) -> None:
        """Journal decisions, then hand the order actions to `act` once durable.

        Args:
            decisions: what the engine returned for one input.
            act: False only for decisions journaled late after a crash (never acted on).
        """
        actions: list[Decision] = []
        for decision in decisions:
            self.last_seq = self.writer.append(decision)
            for observe in self.observers:
                observe(decision)
            if isinstance(decision, ACTIONS):
                actions.append(decision)
        if actions and act:
            self.writer.sync()
            for action in actions:
                self.act(action)

    async def run(self) -> None:
        """Consume the queue until `stop_consumer()`; exceptions propagate (rule 4)."""
        queue = self.queue
        items = queue.items
        while True:
            await queue.wait()
            # Drain what is already queued without yielding per item: one wake-up per burst.
            while items:
                item = items.popleft()
                if item is _STOP:
                    return
                self.handle(item)  # type: ignore[arg-type]

    def stop_consumer(self) -> None:
        """Make `run()` return after the items queued so far."""
        self.queue.put_nowait(_STOP)

    def handle_pending(self) -> None:
        """Handle everything queued now, synchronously (after the consumer stopped)."""
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not _STOP:
                self.handle(item)  # type: ignore[arg-type]

    async def drain(self) -> None:
        """Wait until the queue is empty (items queued later are not waited for)."""
        while not self.queue.empty():
            await asyncio.sleep(0.01)


async def tick_forever(loop: EngineLoop, interval_s: float, clock: Callable[[], int],
                       also: Callable[[int], None] | None = None) -> None:
    """Queue a ClockTick every `interval_s` (time passes in the core only through these).

    Args:
        loop: the engine loop.
        interval_s: the tick period.
        clock: ns since the epoch.
        also: told every tick's time after it is queued (the paper venue's settlement clock).
    """
    from polyarb.events.inputs import ClockTick

    while True:
        await asyncio.sleep(interval_s)
        now = clock()
        loop.submit(ClockTick(ts_recv_ns=now))
        if also is not None:
            also(now)


async def poll_forever(writer: JournalWriter, interval_s: float) -> None:
    """Call writer.poll() on a timer: the batch policy's time-based group commit."""
    while True:
        await asyncio.sleep(interval_s)
        with contextlib.suppress(Exception):  # a failed writer raises on the loop's next append
            writer.poll()


REDACTED_API_KEY = "REDACTED_API_KEY"


def _scrubbed(item: Item, key: tuple[str, bytes]) -> Item:
    text, raw = key
    if isinstance(item, Frame):
        if item.channel != "user":
            return item
        data = item.data
        if isinstance(data, str) and text in data:
            return Frame(item.ts_recv_ns, item.conn, data.replace(text, REDACTED_API_KEY),
                         item.channel)
        if isinstance(data, bytes) and raw in data:
            return Frame(item.ts_recv_ns, item.conn,
                         data.replace(raw, REDACTED_API_KEY.encode()), item.channel)
        return item
    if isinstance(item, RestSnapshot) and raw in bytes(item.body):
        body = msgspec.Raw(bytes(item.body).replace(raw, REDACTED_API_KEY.encode()))
        return msgspec.structs.replace(item, body=body)
    return item
