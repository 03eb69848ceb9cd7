# The scenario's markets: ids, metadata, fee and tick choices, and starting fair values, all
# derived from the seed.
#
# Rules:
# 1. Ids are hashes of the seed, never random draws: token ids are 77-digit decimal strings
#    (like the venue's uint256 ids), condition and neg-risk event ids are 0x + 64 hex.
# 2. Layout draws (outcome counts, fee markets, starting fairs, level sizes) come from one
#    `random.Random` seeded with the scenario seed and a fixed label, in a fixed order, so the
#    layout never depends on anything but the config.
# 3. A "unit" is what random-walks as one: a binary market, or a whole neg-risk event (its
#    outcomes' fair values always sum to exactly $1).
from __future__ import annotations

import hashlib
import random

import msgspec

from polyarb.events.inputs import FeeSchedule, MarketInfo, TokenInfo
from polyarb.sim.model import MICROS
from polyarb.sim.scenario.config import ScenarioConfig
from polyarb.sim.scenario.quotes import tick_for

FINE_START_MICROS = 45_000
"""Where a fine-tick market starts: just above the venue's 0.04 fine-tick boundary."""
_WEIGHT_RANGE = (20, 100)  # relative starting weights of a neg-risk event's outcomes


class SimMarket(msgspec.Struct, kw_only=True):
    """One scenario market: its metadata plus what the scenario needs to drive it."""

    index: int
    unit: int
    info: MarketInfo
    level_size_micros: int
    fine_tick: bool = False

    @property
    def yes(self) -> str:
        """The YES token id."""
        return self.info.tokens[0].token_id

    @property
    def no(self) -> str:
        """The NO token id."""
        return self.info.tokens[1].token_id


class Unit(msgspec.Struct, kw_only=True):
    """A random-walk unit: one binary market, or every outcome market of a neg-risk event."""

    index: int
    markets: tuple[int, ...]
    fairs: tuple[int, ...]  # starting fair values (micros), one per market
    event_id: str | None = None
    fine_tick: bool = False


class Universe(msgspec.Struct, kw_only=True):
    markets: list[SimMarket]
    units: list[Unit]


def _hex(seed: int, label: str) -> str:
    return hashlib.sha256(f"polyarb-sim:{seed}:{label}".encode()).hexdigest()


def token_id(seed: int, label: str) -> str:
    """A 77-digit decimal token id derived from the seed and a label."""
    n = int(_hex(seed, "token:" + label), 16)
    return str(10**76 + n % (9 * 10**76))


def hex_id(seed: int, label: str) -> str:
    """A 0x + 64 hex id (condition id, neg-risk event id) derived from the seed and a label."""
    return "0x" + _hex(seed, label)


def _info(cfg: ScenarioConfig, label: str, question: str, *, fees: FeeSchedule, tick: int,
          event_id: str | None = None) -> MarketInfo:
    return MarketInfo(
        condition_id=hex_id(cfg.seed, "condition:" + label), question=question,
        slug="sim-" + label,
        tokens=(TokenInfo(token_id=token_id(cfg.seed, label + ":yes"), outcome="Yes"),
                TokenInfo(token_id=token_id(cfg.seed, label + ":no"), outcome="No")),
        tick_size_micros=tick, min_order_size_micros=cfg.min_order_size_micros,
        neg_risk=event_id is not None, neg_risk_market_id=event_id, fees=fees)


def split_fairs(weights: list[int], floor: int) -> tuple[int, ...]:
    """Fair values >= floor summing to exactly $1, proportional to weights above the floor."""
    spare = MICROS - floor * len(weights)
    total = sum(weights)
    fairs = [floor + spare * w // total for w in weights]
    fairs[max(range(len(fairs)), key=lambda i: (weights[i], -i))] += MICROS - sum(fairs)
    return tuple(fairs)


def build_universe(cfg: ScenarioConfig) -> Universe:
    """Every market and walk unit of a config (rules 1-3)."""
    rng = random.Random(f"polyarb-sim:{cfg.seed}:layout")
    fee_count = (cfg.markets * cfg.fee_share_pct + 50) // 100
    fee_markets = set(rng.sample(range(cfg.markets), fee_count))
    charged = FeeSchedule(rate=cfg.fee_rate)
    markets: list[SimMarket] = []
    units: list[Unit] = []
    lo, hi = cfg.level_size_micros
    for k in range(cfg.markets):
        fine = k < cfg.fine_tick_markets
        fair = FINE_START_MICROS if fine else rng.randint(150_000, 850_000)
        info = _info(cfg, f"binary-{k}", f"Simulated binary market {k}: will it happen?",
                     fees=charged if k in fee_markets else FeeSchedule(),
                     tick=tick_for(fair, cfg.half_spread_micros, cfg.tick_micros))
        markets.append(SimMarket(index=k, unit=k, info=info, fine_tick=fine,
                                 level_size_micros=_lot(rng.randint(lo, hi), cfg)))
        units.append(Unit(index=k, markets=(k,), fairs=(fair,), fine_tick=fine))
    for e in range(cfg.neg_risk_events):
        # The first event has the fewest outcomes, so a default run always holds a basket
        # small enough for a bot's default per-group exposure limit.
        n = cfg.outcomes[0] if e == 0 else rng.randint(*cfg.outcomes)
        event_id = hex_id(cfg.seed, f"event:{e}")
        fairs = split_fairs([rng.randint(*_WEIGHT_RANGE) for _ in range(n)],
                            cfg.outcome_floor_micros)
        first = len(markets)
        for j in range(n):
            info = _info(cfg, f"event-{e}-outcome-{j}",
                         f"Simulated event {e}: will outcome {j} win?", fees=FeeSchedule(),
                         tick=cfg.tick_micros, event_id=event_id)
            markets.append(SimMarket(index=first + j, unit=len(units), info=info,
                                     level_size_micros=_lot(rng.randint(lo, hi), cfg)))
        units.append(Unit(index=len(units), markets=tuple(range(first, first + n)),
                          fairs=fairs, event_id=event_id))
    return Universe(markets=markets, units=units)


def _lot(size_micros: int, cfg: ScenarioConfig) -> int:
    """Whole shares (the venue's size grid is 0.01; whole shares read better in books), never
    below the minimum order size."""
    return max(cfg.min_order_size_micros, size_micros // MICROS * MICROS)
