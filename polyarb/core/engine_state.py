# The engine's state side, as a base class of Engine: statistics, the canonical snapshot, its
# hash and checkpoint record, and loading a snapshot back into an engine.
#
# Rules:
# 1. Cold code only: nothing here runs per frame. Engine (engine.py, whose header states the
#    reducer's rules) owns the attributes declared below and the restore() entry point.
# 2. snapshot() is canonical: every part is JSON-able data with sorted keys, so the same state
#    gives the same bytes and the same SHA-256 whatever PYTHONHASHSEED is. Config is not state.
# 3. _load(snapshot()) continues identically; a malformed part is a ValueError naming it, never
#    a half-loaded engine that keeps running. Snapshots are read through checked_snapshot: a
#    typed decode (EngineSnap: every book level's types checked in C, as msgspec decodes), so
#    the loaders trust the types and build their dicts with C-level dict() calls.
from __future__ import annotations

import hashlib
from typing import Any, TypedDict

import msgspec

from polyarb.core.breaker import Breaker
from polyarb.core.config import EngineConfig
from polyarb.core.engine_breaker import BreakerWatch
from polyarb.core.engine_views import MarketContext
from polyarb.core.execution import Execution
from polyarb.core.marketdata import MarketData
from polyarb.core.marketdata_state import MarketDataSnap
from polyarb.core.markets import MarketRegistry
from polyarb.core.stats import RunCounters, RunStats
from polyarb.events.decisions import StateCheckpoint

SNAPSHOT_VERSION = 1

Sig = tuple[int, tuple[int, ...]]
"""Dedupe signature of a candidate: its size and each leg's limit price."""


class EngineSnap(TypedDict):
    """The shape of snapshot(): market data typed (most of the bytes), other parts checked by
    their own restore()."""

    version: int
    registry: Any
    market_data: MarketDataSnap
    breaker: Any
    execution: Any
    counters: Any
    opp_no: int
    last_sig: Any


_DECODER = msgspec.json.Decoder(EngineSnap)


def checked_snapshot(data: dict[str, Any] | bytes) -> dict[str, Any]:
    """snapshot() data (or its bytes), its version and types checked (rule 3).

    Raises:
        ValueError: not JSON, a version this polyarb does not read, or a malformed part.
    """
    try:
        if isinstance(data, bytes):
            snap: dict[str, Any] = _DECODER.decode(data)  # type: ignore[assignment]
        else:
            snap = msgspec.convert(data, EngineSnap)
    except msgspec.ValidationError as exc:
        version = _version_of(data)
        if version != SNAPSHOT_VERSION:  # another version has another shape: say which
            raise ValueError(f"unsupported engine snapshot version {version!r}") from None
        raise ValueError(f"malformed engine snapshot: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"malformed engine snapshot: {exc}") from None
    if snap["version"] != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported engine snapshot version {snap['version']!r}")
    return snap


def _version_of(data: dict[str, Any] | bytes) -> object:
    snap = msgspec.json.decode(data) if isinstance(data, bytes) else data
    return snap.get("version") if isinstance(snap, dict) else None


class EngineState:
    """Statistics, snapshot, hash and checkpoint of an engine (mixed into Engine)."""

    config: EngineConfig
    registry: MarketRegistry
    md: MarketData
    breaker: Breaker
    execution: Execution
    counters: RunCounters
    _opp_no: int
    _last_sig: dict[str, dict[str, Sig]]
    _ctx: MarketContext
    _watch: BreakerWatch

    def stats(self) -> RunStats:
        """The seed's statistics line, from state only (render it with stats.render)."""
        pos = self.execution.positions
        total = pos.realized_micros() + pos.unrealized_micros(self.md.book)
        cfg = self.config.breaker
        loss = self.breaker.day_loss_micros()
        return self.counters.stats(
            self.execution.outcome_counts(), total, loss, cfg.max_daily_loss_micros,
            pos.open_positions(), cfg.max_open_positions)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as canonical JSON-able data (config excluded)."""
        return {
            "version": SNAPSHOT_VERSION,
            "registry": self.registry.snapshot(),
            "market_data": self.md.snapshot(),
            "breaker": self.breaker.snapshot(),
            "execution": self.execution.snapshot(),
            "counters": self.counters.snapshot(),
            "opp_no": self._opp_no,
            "last_sig": {m: {k: [v[0], list(v[1])] for k, v in sorted(sigs.items())}
                         for m, sigs in sorted(self._last_sig.items())},
        }

    def snapshot_bytes(self) -> bytes:
        """snapshot() encoded canonically (sorted keys)."""
        return msgspec.json.encode(self.snapshot(), order="sorted")

    def state_hash(self) -> str:
        """SHA-256 (hex) of snapshot_bytes()."""
        return hashlib.sha256(self.snapshot_bytes()).hexdigest()

    def checkpoint(self, at_seq: int, ts_recv_ns: int,
                   run_seq: int | None = None) -> StateCheckpoint:
        """A StateCheckpoint record of the current state (after folding `at_seq`).

        Args:
            at_seq: the seq of the last input folded.
            ts_recv_ns: the record's time (the shell's, e.g. the day roll's).
            run_seq: the seq of the run_started in force (0: none; None: unknown). The shell
                knows it, the state does not: it is journaled next to the state, not in it.
        """
        data = self.snapshot_bytes()
        return StateCheckpoint(ts_recv_ns=ts_recv_ns, at_seq=at_seq,
                               state_hash=hashlib.sha256(data).hexdigest(),
                               run_seq=run_seq, state=msgspec.Raw(data))

    def _load(self, snap: dict[str, Any]) -> None:
        # Replaces every part of a freshly built engine with the snapshot's (version checked).
        try:
            self.registry = MarketRegistry.restore(snap["registry"])
            self.md = MarketData.restore(snap["market_data"])
            self.breaker = Breaker.restore(snap["breaker"], self.config.breaker)
            self.execution = Execution.restore(snap["execution"], self.config.execution)
            self.counters = RunCounters.restore(snap["counters"])
            self._opp_no = int(snap["opp_no"])
            self._last_sig = {m: {k: (int(v[0]), tuple(int(x) for x in v[1]))
                                  for k, v in sigs.items()}
                              for m, sigs in snap["last_sig"].items()}
        except (KeyError, TypeError, ValueError, IndexError, msgspec.ValidationError) as exc:
            raise ValueError(f"malformed engine snapshot: {exc!r}") from exc
        self._ctx = MarketContext(self.md, self.registry)
        self._watch = BreakerWatch(self.breaker, self.execution, self.md)
