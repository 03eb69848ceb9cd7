# `polyarb sim ...`: run the exchange simulator, or list its markets without starting it.
#
# Rules:
# 1. Commands parse their options, build a config and call the library (polyarb.sim.server);
#    a bad --faults spec is a usage error (exit 2) naming the bad part.
# 2. `serve` prints the REST and websocket URLs and a ready-made set of test credentials: the
#    public dev key of the protocol reference and the API credentials the simulator derives
#    for it. They only ever work against a simulator; no real secret is printed.
# 3. The market scenario is the scenario generator (polyarb.sim.scenario) when it is
#    importable, else the server's built-in static scenario; `--from-journal DIR` replays the
#    books a polyarb journal recorded instead.
from __future__ import annotations

from typing import Any

import typer

sim_app = typer.Typer(
    help="The embedded Polymarket-compatible exchange simulator (REST + websockets).",
    no_args_is_help=True,
)


def make_scenario(seed: int, markets: int, neg_risk_events: int, churn: float) -> Any:
    """The default market scenario for the CLI (rule 3).

    Raises:
        typer.BadParameter: a shape the scenario refuses (e.g. no market at all).
    """
    try:
        from polyarb.sim.scenario import Scenario, ScenarioConfig
    except ImportError:  # the generator is optional: fall back to the built-in one
        from polyarb.sim.server import StaticConfig, StaticScenario

        return StaticScenario(StaticConfig(seed=str(seed), markets=markets,
                                           neg_risk_events=neg_risk_events, churn_per_s=churn))
    # dislocations (arbitrage windows) live in neg-risk events: none without one
    windows = ScenarioConfig().dislocation_interval_ms if neg_risk_events else None
    try:
        config = ScenarioConfig(seed=seed, markets=markets, neg_risk_events=neg_risk_events,
                                fine_tick_markets=min(1, markets),
                                dislocation_interval_ms=windows)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return Scenario(config)


def journal_scenario(journal_dir: str, max_gap_ms: int | None) -> Any:
    """A scenario replaying a journal's recorded books.

    Raises:
        typer.BadParameter: the directory holds no replayable market.
    """
    from polyarb.journal.errors import JournalError
    from polyarb.sim.scenario import JournalScenario

    try:
        return JournalScenario(journal_dir, max_gap_ms=max_gap_ms)
    except (ValueError, OSError, JournalError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--from-journal") from None


def _print_banner(server: Any) -> None:
    from polyarb.sim.server import DEV_ADDRESS, DEV_PRIVATE_KEY
    from polyarb.venues.polymarket import credentials as cr

    creds = server.venue.keys.derive(DEV_ADDRESS, 0)
    typer.echo(f"polyarb simulator serving {len(server.venue.exchange.markets.by_id)} markets")
    typer.echo(f"  REST       {server.url}")
    typer.echo(f"  WS market  {server.ws_url}/market")
    typer.echo(f"  WS user    {server.ws_url}/user")
    typer.echo("Test credentials (simulator only: the public dev key; never fund it):")
    typer.echo(f"  {cr.ENV_PRIVATE_KEY}={DEV_PRIVATE_KEY}")
    typer.echo(f"  # address {DEV_ADDRESS}")
    typer.echo(f"  {cr.ENV_API_KEY}={creds.api_key.reveal()}")
    typer.echo(f"  {cr.ENV_API_SECRET}={creds.secret.reveal()}")
    typer.echo(f"  {cr.ENV_API_PASSPHRASE}={creds.passphrase.reveal()}")
    typer.echo("Press Ctrl-C to stop.", err=True)


@sim_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (non-loopback warns loudly)."),
    port: int = typer.Option(8765, help="Port to bind; 0 picks a free one."),
    seed: int = typer.Option(1, help="Seed of markets, ids, API keys and faults."),
    markets: int = typer.Option(10, min=0, help="Binary markets."),
    neg_risk_events: int = typer.Option(2, min=0, help="Multi-outcome (neg-risk) events."),
    faults: str = typer.Option(
        "", help="Fault rates, e.g. disconnect=0.001,http503=0.05,lost_response=0.02."),
    churn: float = typer.Option(
        5.0, min=0.0, help="Book updates per second (built-in fallback scenario only)."),
    from_journal: str | None = typer.Option(
        None, "--from-journal", help="Replay the books recorded in this journal directory."),
    max_gap_ms: int | None = typer.Option(
        None, min=0, help="With --from-journal: shorten longer silences to this."),
) -> None:
    """Serve the simulated CLOB on one port until Ctrl-C."""
    from polyarb.sim.server import FaultSpecError, ServerConfig, SimServer, parse_faults

    try:
        fault_config = parse_faults(faults)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    scenario = (journal_scenario(from_journal, max_gap_ms) if from_journal is not None
                else make_scenario(seed, markets, neg_risk_events, churn))
    config = ServerConfig(host=host, port=port, seed=str(seed), faults=fault_config)
    server = SimServer(config, scenario)
    try:
        server.run(ready=_print_banner)
    except OSError as exc:
        typer.echo(f"error: cannot serve on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("simulator stopped", err=True)


@sim_app.command("markets")
def list_markets(
    seed: int = typer.Option(1, help="Seed of the scenario."),
    markets: int = typer.Option(10, min=0, help="Binary markets."),
    neg_risk_events: int = typer.Option(2, min=0, help="Multi-outcome (neg-risk) events."),
    as_json: bool = typer.Option(False, "--json", help="Print the MarketInfo list as JSON."),
) -> None:
    """List the simulated markets (token ids, neg-risk groups) without starting a server."""
    import msgspec

    infos = make_scenario(seed, markets, neg_risk_events, 0.0).markets()
    if as_json:
        typer.echo(msgspec.json.encode(infos).decode())
        return
    for info in infos:
        group = f"  neg-risk {info.neg_risk_market_id}" if info.neg_risk else ""
        typer.echo(f"{info.condition_id}  {info.question}{group}")
        for token in info.tokens:
            typer.echo(f"    {token.outcome:<4} {token.token_id}")
