# polyarb.sim.server: the simulator's HTTP + websocket server speaking Polymarket's CLOB protocol.
#
# Rules:
# 1. The exchange core (polyarb/sim) stays sans-I/O; this package is its shell: REST routes,
#    the two websocket channels, authentication, fault injection and the pump that turns
#    exchange events into wire frames. See docs/simulator.md.
# 2. Public API: SimServer (embed in asyncio or run blocking), ServerThread (run in a thread),
#    ServerConfig / FaultConfig / parse_faults, the Scenario seam and StaticScenario.
from __future__ import annotations

from polyarb.sim.server.app import ServerThread, SimServer, make_app
from polyarb.sim.server.config import (
    DEV_ADDRESS,
    DEV_PRIVATE_KEY,
    FaultConfig,
    FaultSpecError,
    ServerConfig,
    parse_faults,
)
from polyarb.sim.server.scenario import Scenario, StaticConfig, StaticScenario
from polyarb.sim.server.venue import Venue

__all__ = [
    "DEV_ADDRESS",
    "DEV_PRIVATE_KEY",
    "FaultConfig",
    "FaultSpecError",
    "Scenario",
    "ServerConfig",
    "ServerThread",
    "SimServer",
    "StaticConfig",
    "StaticScenario",
    "Venue",
    "make_app",
    "parse_faults",
]
