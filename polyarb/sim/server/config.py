# Configuration of the simulator's server: network, accounts, limits and fault injection.
#
# Rules:
# 1. Frozen msgspec Structs with unknown fields forbidden, like every config in polyarb: a typo
#    fails loudly instead of silently keeping a default.
# 2. Every fault is off by default (rate 0). Rates are probabilities per opportunity: per
#    outgoing websocket data frame for the websocket faults, per request for the HTTP faults,
#    per accepted order for the order faults, per new trade for the settlement faults, per
#    heartbeat request for heartbeat_lapse.
# 3. `parse_faults` reads the CLI spec `name=value,name=value`; names are FaultConfig's fields,
#    an unknown name or a rate outside [0, 1] is an error naming the offender.
# 4. The dev key is the public test key of the protocol reference (section 8): never use it
#    for real money. The simulator pre-registers its API key so the printed credentials work
#    at once.
from __future__ import annotations

import msgspec

from polyarb.sim.model import MICROS, SimConfig

DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


class FaultConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seeded fault injection; every rate is a probability in [0, 1], 0 = off."""

    seed: str = ""
    """RNG seed of the faults; empty means derived from the server seed."""
    disconnect: float = 0.0
    """Per websocket data frame: drop the TCP connection without a close frame."""
    stall: float = 0.0
    """Per websocket data frame: go silent for `stall_s` (PONG still answered, data dropped)."""
    stall_s: float = 60.0
    malformed: float = 0.0
    """Per websocket data frame: send a truncated (invalid JSON) frame before it."""
    unknown: float = 0.0
    """Per websocket data frame: send a frame with an unknown event_type before it."""
    delay: float = 0.0
    """Per websocket data frame: hold the connection's stream for `delay_s` (order kept)."""
    delay_s: float = 0.5
    http425: float = 0.0
    """Per order-entry/cancel request: 425, the matching engine is restarting."""
    http429: float = 0.0
    """Per request: 429 Too Many Requests."""
    http500: float = 0.0
    """Per request: 500 before the handler runs (nothing happened)."""
    http503: float = 0.0
    """Per order-entry/cancel request: 503, trading disabled."""
    lost_response: float = 0.0
    """Per accepted order: the order exists but the client gets a 500."""
    timeout: float = 0.0
    """Per accepted order: the response is held for `timeout_s`, then the connection dropped."""
    timeout_s: float = 30.0
    partial_fill: float = 0.0
    """Per crossing FOK/FAK order: resting liquidity thins just before it matches."""
    settle_fail: float = 0.0
    """Per new trade: settlement FAILED after `settle_after_s`."""
    settle_retry: float = 0.0
    """Per new trade: settlement RETRYING after `settle_after_s`, then mined again."""
    settle_after_s: float = 0.5
    heartbeat_lapse: float = 0.0
    """Per heartbeat request: lost on the way; the dead-man switch trips at once (the owner's
    open orders are cancelled, "heartbeat expired") and the client gets a 500."""

    def ws_enabled(self) -> bool:
        """True when any websocket fault can fire."""
        return any((self.disconnect, self.stall, self.malformed, self.unknown, self.delay))


RATE_FIELDS = tuple(
    name for name in FaultConfig.__struct_fields__
    if name != "seed" and not name.endswith("_s")
)
DURATION_FIELDS = tuple(name for name in FaultConfig.__struct_fields__ if name.endswith("_s"))


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the server needs besides the scenario. Times in seconds unless `_ns`."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; SimServer.port reports the one bound."""
    seed: str = "polyarb-sim"
    chain_id: int = 137
    start_collateral_micros: int = 1_000_000 * MICROS
    """Collateral of an account opened by API-key creation."""
    start_pairs_micros: int = 0
    """YES+NO pairs split for a new account in every market (so it can also SELL)."""
    tick_s: float = 0.01
    """Pump period: settlement, expiry and scenario steps run at least this often."""
    max_body_bytes: int = 1 << 20
    page_limit: int = 500
    l1_max_skew_s: int = 300
    l2_max_skew_s: int = 30
    max_assets_per_conn: int = 500
    """The venue silently stops delivering to a connection with more assets than this."""
    outbox_limit: int = 200_000
    """Frames queued for one websocket before it is dropped as a slow consumer."""
    subscribe_timeout_s: float = 30.0
    """A websocket that has not subscribed by then is closed."""
    dev_account: bool = True
    """Pre-register the dev key's API credentials (printed by `polyarb sim serve`)."""
    sim: SimConfig = SimConfig()
    faults: FaultConfig = FaultConfig()


class FaultSpecError(ValueError):
    """A --faults spec that cannot be read; the message names the bad part."""


def parse_faults(spec: str, base: FaultConfig | None = None) -> FaultConfig:
    """Parse `disconnect=0.01,http503=0.05,stall_s=5` into a FaultConfig.

    Args:
        spec: comma-separated name=value pairs (empty string: no faults).
        base: values to start from (defaults when None).

    Raises:
        FaultSpecError: unknown name, missing `=`, a non-number, or a value out of range.
    """
    values = msgspec.structs.asdict(base if base is not None else FaultConfig())
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, text = part.partition("=")
        name = name.strip()
        if not sep:
            raise FaultSpecError(f"fault {part!r} needs a value: name=value")
        values[name] = _fault_value(name, text.strip())
    return FaultConfig(**values)


def _fault_value(name: str, text: str) -> float | str:
    if name == "seed":
        return text
    if name not in RATE_FIELDS and name not in DURATION_FIELDS:
        known = ", ".join((*RATE_FIELDS, *DURATION_FIELDS, "seed"))
        raise FaultSpecError(f"unknown fault {name!r}; known: {known}")
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"fault {name}: {text!r} is not a number") from None
    if name in RATE_FIELDS and not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"fault {name}: rate {text} outside [0, 1]")
    if name in DURATION_FIELDS and not 0.0 <= value < 86_400:
        raise FaultSpecError(f"fault {name}: duration {text} s outside [0, 86400)")
    return value
