# Stop requests: SIGINT / SIGTERM, the --duration timer and task failures, as one object the
# supervisor waits on.
#
# Rules:
# 1. The first SIGINT or SIGTERM asks for a graceful stop (the supervisor's shutdown sequence);
#    a second one forces: the supervisor skips the waits and closes at once.
# 2. Handlers are installed on the running asyncio loop only where that is possible (the main
#    thread on POSIX) and removed on exit, so embedding the runtime in a test or a notebook
#    never leaves a handler behind.
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from types import TracebackType

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Why and how the run should stop (rules 1-2)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.stopping = asyncio.Event()
        self.forced = asyncio.Event()
        self._installed: list[signal.Signals] = []

    def request(self, reason: str) -> None:
        """Ask for a graceful stop (the first reason wins)."""
        if self.reason is None:
            self.reason = reason
        self.stopping.set()

    def force(self, reason: str) -> None:
        """Ask for an immediate stop."""
        self.request(reason)
        self.forced.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stopping.is_set():
            log.warning("%s again: forcing the stop", sig.name)
            self.force(f"{sig.name} (forced)")
        else:
            log.warning("%s: stopping (again to force)", sig.name)
            self.request(sig.name)

    def __enter__(self) -> StopRequest:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)
                self._installed.append(sig)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        self._installed.clear()

    async def wait_forced(self) -> None:
        """Return once a stop is forced."""
        await self.forced.wait()
