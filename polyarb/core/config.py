# The engine's configuration: every knob of the deterministic core in one frozen, hashable value.
#
# Rules: frozen, unknown fields are errors, defaults are the seed's (2% margin, $10 minimum order,
# 50% max spread, $100 daily loss, 3 open positions). The shell loads it from polyarb.toml and
# journals it (and its hash) in RunStarted; the core only ever receives it as an argument.
from __future__ import annotations

import hashlib

import msgspec

from polyarb.core.breaker import BreakerConfig
from polyarb.core.detection import DetectionConfig
from polyarb.core.exec_common import ExecutionConfig
from polyarb.core.risk import RiskConfig

NS_PER_S = 1_000_000_000


class RiskSizes(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-order size limits of the pre-trade gates (exposure limits come from the breaker)."""

    min_order_size_micros: int = 5_000_000
    min_order_notional_micros: int = 1_000_000
    max_order_size_micros: int = 1_000_000_000


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the core needs to decide.

    Attributes:
        detection: what counts as an opportunity and how it is sized.
        breaker: circuit-breaker trips (and the exposure limits the gates share).
        risk: per-order size limits.
        execution: order type, client id prefix, dust, unwind policy.
        detect_only: detect, size and journal opportunities but never place orders.
        max_feed_silence_ns: a book with no update for this long (by event time) is stale.
        dedupe_opportunities: report an opportunity again only when its size or limit prices
            change, or after a frame showed its market without it.
    """

    detection: DetectionConfig = DetectionConfig()
    breaker: BreakerConfig = BreakerConfig()
    risk: RiskSizes = RiskSizes()
    execution: ExecutionConfig = ExecutionConfig()
    detect_only: bool = False
    max_feed_silence_ns: int = 60 * NS_PER_S
    dedupe_opportunities: bool = True

    def risk_config(self) -> RiskConfig:
        """The pre-trade gates' config: the breaker's exposure limits plus the size limits."""
        return RiskConfig.from_breaker(
            self.breaker,
            min_order_size_micros=self.risk.min_order_size_micros,
            min_order_notional_micros=self.risk.min_order_notional_micros,
            max_order_size_micros=self.risk.max_order_size_micros,
        )

    def canonical_json(self) -> bytes:
        """The config as canonical JSON (sorted keys): what RunStarted journals."""
        return msgspec.json.encode(self, order="sorted")

    def config_hash(self) -> str:
        """SHA-256 of canonical_json(), hex."""
        return hashlib.sha256(self.canonical_json()).hexdigest()
