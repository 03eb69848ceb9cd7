# Where a run trades: the embedded simulator or the live venue. Either way the engine talks to
# it through the real clients (MarketFeed, ClobClient + PolymarketVenue, UserFeed) over
# websockets and HTTP; only the URLs and the credentials differ.
#
# Rules:
# 1. `sim`: a SimServer with the default seeded Scenario is started in this process on a free
#    loopback port; the account is the simulator's public dev key, whose API credentials are
#    derived through L1 exactly as a live key's would be. It is worthless anywhere else.
# 2. `live`: credentials come from the environment mapping the CLI passes, or from the file
#    `[venue] credentials_file` names; missing API credentials are created/derived through L1.
#    Nothing here prints or logs a secret (credentials.py and clob.py redact). Given API
#    credentials are checked with one authenticated call before the run starts: a venue that
#    refuses them (401/403) stops the start with a clear error instead of a run whose every
#    order fails.
# 3. `paper`: the live venue's market data (URLs of [venue]) with fills simulated locally by
#    polyarb.venues.paper.PaperVenue ([paper] latency and collateral); no key, no user channel
#    (its updates come from the paper venue itself), nothing ever sent to the venue.
# 4. Detect-only runs build no trading client at all: no keys are needed or read.
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyarb.config import RunConfig
from polyarb.venues.polymarket.credentials import (
    CredentialsError,
    PolymarketCredentials,
    Secret,
    load_credentials,
    load_credentials_file,
)

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """The venue could not be set up (the message says why; never a secret)."""


@dataclass
class Backend:
    """The endpoints of a run and, when it trades, the venue client."""

    name: str
    clob_url: str
    ws_market_url: str
    ws_user_url: str
    venue: Any = None  # PolymarketVenue (sim, live) or PaperVenue (paper) when trading
    server: Any = None  # SimServer for `sim`

    @property
    def user_channel(self) -> bool:
        """Whether fills arrive on the venue's user websocket (not for paper)."""
        return self.venue is not None and self.name != "paper"

    async def close(self) -> None:
        """Close the venue client and stop the embedded simulator."""
        if self.venue is not None:
            await self.venue.close()
            self.venue = None
        if self.server is not None:
            await self.server.stop()
            self.server = None


def live_credentials(config: RunConfig, env: Mapping[str, str]) -> PolymarketCredentials:
    """The live account's credentials (rule 2).

    Raises:
        CredentialsError: none set, partial or malformed (the message names the variable).
    """
    path = config.venue.credentials_file
    return load_credentials_file(Path(path).expanduser()) if path else load_credentials(env)


def sim_scenario(config: RunConfig) -> Any:
    """The default market scenario for the embedded simulator (docs/simulator.md)."""
    from polyarb.sim.scenario import Scenario, ScenarioConfig

    sim = config.sim
    windows = ScenarioConfig().dislocation_interval_ms if sim.neg_risk_events else None
    return Scenario(ScenarioConfig(seed=sim.seed, markets=sim.markets,
                                   neg_risk_events=sim.neg_risk_events,
                                   fine_tick_markets=min(1, sim.markets),
                                   dislocation_interval_ms=windows))


async def _trading_venue(creds: PolymarketCredentials, base_url: str, chain_id: int,
                         timeout_s: float) -> Any:
    from polyarb.venues.polymarket.clob import ClobClient, ClobError
    from polyarb.venues.polymarket.venue import PolymarketVenue

    client = ClobClient(creds, base_url=base_url, chain_id=chain_id, timeout_s=timeout_s)
    try:
        await client.sync_time()
        if creds.api is None:
            await client.create_or_derive_api_key()
        else:
            await _check_api_credentials(client)
    except ClobError as exc:
        await client.aclose()
        raise BackendError(f"venue {base_url}: {exc}") from None
    return PolymarketVenue(client)


_AUTH_REFUSED = {401: "Unauthorized", 403: "Forbidden"}


async def _check_api_credentials(client: Any) -> None:
    """One L2-authenticated call (GET /auth/api-keys, as `polyarb doctor`) (rule 2).

    Raises:
        BackendError: the venue refused the given API credentials.
    """
    reply = await client.request("GET", "/auth/api-keys", auth="l2")
    if reply.status in _AUTH_REFUSED:
        await client.aclose()
        raise BackendError(
            f"venue {client.base_url} refused the API credentials "
            f"(http {reply.status} {_AUTH_REFUSED[reply.status]}): check POLYMARKET_API_KEY, "
            "POLYMARKET_API_SECRET and POLYMARKET_API_PASSPHRASE (or unset all three to derive "
            "them from the private key); `polyarb doctor` checks them")
    if reply.status != 200:
        log.warning("could not check the API credentials (GET /auth/api-keys answered %s); "
                    "going on", reply.status)


async def open_sim(config: RunConfig, trade: bool) -> Backend:
    """Start the embedded simulator and, when trading, its dev account (rule 1).

    Raises:
        BackendError: the server or the account could not be set up.
    """
    from polyarb.sim.server import DEV_PRIVATE_KEY, ServerConfig, SimServer, parse_faults

    server_config = ServerConfig(port=0, seed=str(config.sim.seed),
                                 faults=parse_faults(config.sim.faults))
    server = SimServer(server_config, sim_scenario(config))
    try:
        await server.start()
    except OSError as exc:
        raise BackendError(f"cannot start the simulator: {exc}") from None
    backend = Backend(name="sim", clob_url=server.url, ws_market_url=server.ws_url + "/market",
                      ws_user_url=server.ws_url + "/user", server=server)
    if trade:
        try:
            creds = PolymarketCredentials(private_key=Secret(DEV_PRIVATE_KEY))
            backend.venue = await _trading_venue(creds, server.url, server_config.chain_id,
                                                 config.venue.request_timeout_s)
        except BaseException:
            await backend.close()
            raise
    log.info("simulator serving on %s", server.url)
    return backend


async def open_live(config: RunConfig, creds: PolymarketCredentials | None) -> Backend:
    """The live venue's endpoints and, with credentials, its trading client (rule 2).

    Raises:
        BackendError: the venue refused the credentials or could not be reached.
    """
    v = config.venue
    backend = Backend(name="live", clob_url=v.clob_url, ws_market_url=v.ws_market_url,
                      ws_user_url=v.ws_user_url)
    if creds is not None:
        backend.venue = await _trading_venue(creds, v.clob_url, v.chain_id,
                                             v.request_timeout_s)
    return backend


def open_paper(config: RunConfig, trade: bool) -> Backend:
    """Live market data, a local paper venue for the orders (rule 3)."""
    from polyarb.venues.paper import PaperConfig, PaperVenue

    v, p = config.venue, config.paper
    backend = Backend(name="paper", clob_url=v.clob_url, ws_market_url=v.ws_market_url,
                      ws_user_url=v.ws_user_url)
    if trade:
        backend.venue = PaperVenue(PaperConfig(latency_ms=p.latency_ms,
                                               collateral_micros=p.collateral_micros))
    return backend


def preflight(config: RunConfig, env: Mapping[str, str]) -> PolymarketCredentials | None:
    """Checks that need no network, run before the journal is opened (rules 2, 4).

    Returns:
        The live credentials when the run trades live, else None.

    Raises:
        CredentialsError: live trading without (valid) credentials.
    """
    if config.run.venue == "live" and not config.engine.detect_only:
        return live_credentials(config, env)
    return None


async def open_backend(config: RunConfig, env: Mapping[str, str]) -> Backend:
    """The backend of `config.run.venue` (rules 1-4).

    Raises:
        BackendError: the venue could not be set up.
        CredentialsError: live trading without (valid) credentials.
    """
    creds = preflight(config, env)
    trade = not config.engine.detect_only
    if config.run.venue == "sim":
        return await open_sim(config, trade)
    if config.run.venue == "paper":
        return open_paper(config, trade)
    return await open_live(config, creds)


__all__ = ["Backend", "BackendError", "CredentialsError", "live_credentials", "open_backend",
           "preflight"]
