# The live status panel (rich) and its plain fallback: periodic log lines on stderr.
#
# Rules:
# 1. Read-only: a Status reads the engine and the loop's counters on the event loop's thread
#    and never changes anything, so what it shows can lag but never alters a decision.
# 2. A terminal gets a rich panel refreshed `status_hz` times a second on stderr; `--quiet` or
#    a non-TTY stderr gets one log line every `log_interval_s` (stdout stays for the summary).
# 3. Money is shown exactly (polyarb.core.stats.dollars), never through float.
from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from polyarb.core.engine import Engine
from polyarb.core.stats import dollars
from polyarb.runtime.counters import Counters


@dataclass
class Snapshot:
    """One reading of everything the panel shows."""

    uptime_s: float
    seq: int
    frames: int
    frames_per_s: float
    user_frames: int
    books: dict[str, int]
    conns_open: int
    conns_known: int
    opportunities: int
    taken: int
    blocked: dict[str, int]
    orders_sent: int
    orders_open: int
    resting: int
    fills: int
    rejections: int
    realized_micros: int
    unrealized_micros: int
    breaker: str
    armed: tuple[str, ...]
    loss_micros: int
    loss_limit_micros: int
    positions: int
    positions_limit: int
    exposure_micros: int
    exposure_limit_micros: int
    extra: dict[str, str] = field(default_factory=dict)


class Status:
    """Reads the run's state for display (rule 1)."""

    def __init__(self, engine: Callable[[], Engine], counters: Counters,
                 seq: Callable[[], int], clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self.counters = counters
        self._seq = seq
        self._clock = clock
        self._start = clock()
        self._last = (self._start, 0)

    def read(self) -> Snapshot:
        """Take one reading (frames/s since the previous reading)."""
        eng, c, now = self._engine(), self.counters, self._clock()
        then, frames_then = self._last
        rate = (c.market_frames - frames_then) / (now - then) if now > then else 0.0
        self._last = (now, c.market_frames)
        books = {"live": 0, "broken": 0, "empty": 0}
        for book in eng.md.books.values():
            books[book.state] += 1
        pos, cfg, orders = eng.execution.positions, eng.config.breaker, eng.execution.orders
        conns_open, conns_known = c.connections_open()
        return Snapshot(
            uptime_s=now - self._start, seq=self._seq(), frames=c.market_frames,
            frames_per_s=rate, user_frames=c.user_frames, books=books,
            conns_open=conns_open, conns_known=conns_known, opportunities=c.opportunities,
            taken=len(c.taken), blocked=dict(c.blocked.most_common()),
            orders_sent=c.orders_sent, orders_open=len(orders.open_orders()),
            resting=orders.resting_orders(), fills=c.fills, rejections=c.rejections,
            realized_micros=pos.realized_micros(),
            unrealized_micros=pos.unrealized_micros(eng.md.book),
            breaker=eng.breaker.state, armed=eng.breaker.armed_gates(),
            loss_micros=eng.breaker.day_loss_micros(),
            loss_limit_micros=cfg.max_daily_loss_micros, positions=pos.open_positions(),
            positions_limit=cfg.max_open_positions,
            exposure_micros=pos.total_exposure_micros(),
            exposure_limit_micros=cfg.max_total_exposure_micros)


def _blocked(s: Snapshot) -> str:
    total = sum(s.blocked.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{g} {n}" for g, n in s.blocked.items()) + ")"


def render_line(s: Snapshot) -> str:
    """The status as one log line (rule 2)."""
    armed = f" [{', '.join(s.armed)}]" if s.armed else ""
    return (
        f"up {s.uptime_s:.0f}s seq {s.seq:,} | frames {s.frames:,} ({s.frames_per_s:,.0f}/s) | "
        f"books live {s.books['live']} broken {s.books['broken']} | "
        f"conns {s.conns_open}/{s.conns_known} | opps {s.opportunities} taken {s.taken} "
        f"blocked {_blocked(s)} | orders open {s.orders_open} fills {s.fills} | "
        f"pnl real {dollars(s.realized_micros)} unreal {dollars(s.unrealized_micros)} | "
        f"breaker {s.breaker}{armed}")


def render_panel(s: Snapshot, title: str) -> Any:
    """The status as a rich renderable (rule 2)."""
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("uptime / seq", f"{s.uptime_s:,.0f} s / {s.seq:,}"),
        ("market frames", f"{s.frames:,} ({s.frames_per_s:,.0f}/s); user {s.user_frames:,}"),
        ("books", f"live {s.books['live']}, broken {s.books['broken']}, "
                  f"empty {s.books['empty']}"),
        ("connections", f"{s.conns_open} open of {s.conns_known}"),
        ("opportunities", f"seen {s.opportunities}, taken {s.taken}, blocked {_blocked(s)}"),
        ("orders", f"sent {s.orders_sent}, open {s.orders_open} (resting {s.resting}), "
                   f"fills {s.fills}, rejected {s.rejections}"),
        ("P&L", f"realized {dollars(s.realized_micros)}, "
                f"unrealized {dollars(s.unrealized_micros)}"),
        ("breaker", s.breaker + (f" ({', '.join(s.armed)})" if s.armed else "")),
        ("limits", f"loss {dollars(s.loss_micros)}/{dollars(s.loss_limit_micros)}, "
                   f"positions {s.positions}/{s.positions_limit}, exposure "
                   f"{dollars(s.exposure_micros)}/{dollars(s.exposure_limit_micros)}"),
        *s.extra.items(),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return Panel(table, title=title, expand=False)


async def show_forever(status: Status, title: str, *, panel: bool, hz: int,
                       log_interval_s: int, log: Callable[[str], None]) -> None:
    """Refresh the panel (or write log lines) until cancelled (rule 2)."""
    if not panel:
        while True:
            await asyncio.sleep(log_interval_s)
            log(render_line(status.read()))
    from rich.console import Console
    from rich.live import Live

    console = Console(file=sys.stderr)
    with Live(render_panel(status.read(), title), console=console, auto_refresh=False,
              transient=False) as live:
        while True:
            await asyncio.sleep(1 / hz)
            live.update(render_panel(status.read(), title), refresh=True)
