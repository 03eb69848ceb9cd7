# The liveness watchdog of one market-channel connection: a pure state machine.
#
# Rules:
# 1. No I/O and no clock: the connection's keeper task passes `now` (monotonic seconds) and the
#    reader's counters in, and acts on the verdict it gets back (send PING, probe assets, close).
# 2. PONG is not proof of life (protocol reference section 9.1: sockets go silent for hours while
#    still answering PING). Three separate clocks:
#    - keepalive: a text `PING` every `ping_interval_s`; no `PONG` within `pong_timeout_s` of the
#      oldest unanswered PING closes the connection ("pong_timeout").
#    - connection silence: no frame other than PONG for `silence_timeout_s` closes it
#      ("silence"); the feed then reconnects and resubscribes, and the venue sends fresh books.
#    - asset silence: an asset with no frame naming it for `asset_silence_timeout_s` is probed
#      by unsubscribing and resubscribing it on the same socket (the venue answers a subscribe
#      with a fresh `book`). It never closes the connection: quiet markets and asset ids the
#      venue does not know are normal, and one of them must not make a connection of 200 assets
#      flap. A connection whose data stopped altogether is caught by the connection clock.
#    The core separately marks books stale by event time; this only keeps the data flowing.
# 3. Counters are compared, not timestamps: the reader only bumps integers per frame (no clock
#    read), so a silence is measured to within one check interval (`tick_s`).
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchPolicy:
    """Keepalive and silence thresholds of a market-channel connection (seconds).

    Attributes:
        ping_interval_s: cadence of the text `PING` (the venue asks for 10 s).
        pong_timeout_s: longest wait for `PONG` after a `PING`.
        silence_timeout_s: longest time without data (PONG excluded); None disables.
        asset_silence_timeout_s: longest time without a frame naming an asset before it is
            probed with unsubscribe + subscribe; None disables (and the reader skips the scan).
    """

    ping_interval_s: float = 10.0
    pong_timeout_s: float = 30.0
    silence_timeout_s: float | None = 60.0
    asset_silence_timeout_s: float | None = 300.0

    def __post_init__(self) -> None:
        for name in ("ping_interval_s", "pong_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("silence_timeout_s", "asset_silence_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")

    @property
    def tick_s(self) -> float:
        """How often the watchdog should be checked: a quarter of its shortest threshold."""
        limits = [self.ping_interval_s, self.pong_timeout_s]
        limits += [t for t in (self.silence_timeout_s, self.asset_silence_timeout_s) if t]
        return max(0.001, min(limits) / 4)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the keeper must do after a check.

    Attributes:
        close: a reason to close the connection ("silence", "pong_timeout"), else None.
        ping: send a text `PING` now.
    """

    close: str | None = None
    ping: bool = False


_KEEP = Verdict()
_PING = Verdict(ping=True)


class Watchdog:
    """Liveness of one connection, from its opening at `now_s`."""

    def __init__(self, policy: WatchPolicy, now_s: float) -> None:
        self.policy = policy
        self.last_data_s = now_s
        self.ping_due_s = now_s + policy.ping_interval_s
        self.unanswered_since_s: float | None = None
        self._frames = 0
        self._pongs = 0
        self._asset_seen: dict[str, float] = {}
        self._opened_s = now_s

    def subscribed(self, assets: Iterable[str], now_s: float) -> None:
        """Start the silence clock of assets that were just (re)subscribed."""
        for asset in assets:
            self._asset_seen[asset] = now_s

    def forget(self, assets: Iterable[str]) -> None:
        """Stop watching unsubscribed assets."""
        for asset in assets:
            self._asset_seen.pop(asset, None)

    def wait_s(self, now_s: float) -> float:
        """Seconds until the next check is due (a tick, or sooner when a PING is due)."""
        return max(0.0, min(self.policy.tick_s, self.ping_due_s - now_s))

    def check(self, now_s: float, frames: int, pongs: int, seen: Iterable[str]) -> Verdict:
        """Fold the reader's counters in and decide on keepalive and silence (rule 2).

        Args:
            now_s: the current monotonic time.
            frames: frames other than PONG read so far on this connection.
            pongs: PONG frames read so far.
            seen: assets named by frames since the last check.
        """
        if frames != self._frames:
            self._frames = frames
            self.last_data_s = now_s
        if pongs != self._pongs:
            self._pongs = pongs
            self.unanswered_since_s = None
        for asset in seen:
            self._asset_seen[asset] = now_s
        silence = self.policy.silence_timeout_s
        if silence is not None and now_s - self.last_data_s >= silence:
            return Verdict(close="silence")
        since = self.unanswered_since_s
        if since is not None and now_s - since >= self.policy.pong_timeout_s:
            return Verdict(close="pong_timeout")
        ping = now_s >= self.ping_due_s
        if ping:
            self.ping_due_s = now_s + self.policy.ping_interval_s
            if since is None:
                self.unanswered_since_s = now_s
        return _PING if ping else _KEEP

    def probe(self, now_s: float, assets: Iterable[str]) -> tuple[str, ...]:
        """The assets silent for `asset_silence_timeout_s`, to unsubscribe and resubscribe.

        Call after `check()` and after sending pending subscription changes (so a just-added
        asset has its clock started). A probed asset's clock restarts: one probe per window.

        Args:
            now_s: the current monotonic time.
            assets: the assets this connection is subscribed to, in subscription order.
        """
        limit = self.policy.asset_silence_timeout_s
        if limit is None:
            return ()
        seen = self._asset_seen
        opened = self._opened_s
        silent = tuple(a for a in assets if now_s - seen.get(a, opened) >= limit)
        for asset in silent:
            seen[asset] = now_s
        return silent
