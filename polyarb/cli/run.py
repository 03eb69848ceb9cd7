# `polyarb run`: start the engine on the embedded simulator (default), paper or live.
#
# Rules:
# 1. Parse the options, build the effective config (polyarb.toml + overrides), call
#    polyarb.runtime.run, print the exit summary. Heavy imports happen inside the command.
# 2. Exit codes: 0 stopped cleanly (signal or --duration); 1 the run failed (venue, journal,
#    markets, a task died) or live trading was not confirmed; 2 usage (bad option or config,
#    missing or malformed credentials, a journal held by another run, a world-writable journal
#    directory); 130 a forced stop (second Ctrl-C).
# 3. `live` never starts without credentials, shows what it will trade and the risk limits,
#    and trades only after `--yes` or an interactive "yes". No secret is ever printed.
from __future__ import annotations

import logging
import os
import sys

import typer

VENUES = ("sim", "paper", "live")


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _setup_logging(panel: bool) -> None:
    if panel:
        from rich.console import Console
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=Console(file=sys.stderr),
                                               show_path=False)
        level = logging.WARNING
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                               "%H:%M:%S"))
        level = logging.INFO
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("websockets", "httpx", "httpcore", "aiohttp", "polyarb.sim"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _confirm(yes: bool) -> object:
    if yes:
        return None

    def ask(plan: str) -> bool:
        typer.echo(plan, err=True)
        if not sys.stdin.isatty():
            typer.echo("live trading needs --yes when stdin is not a terminal", err=True)
            return False
        return bool(typer.confirm("Start live trading?", default=False, err=True))

    return ask


def _summary(result: object) -> None:
    from polyarb.runtime import RunResult

    assert isinstance(result, RunResult)
    c = result.counters
    typer.echo(f"run {result.run_id} stopped: {result.reason}")
    if result.markets:
        typer.echo(f"markets: {result.markets}")
    if c is not None:
        typer.echo(f"frames {c.market_frames:,} (user {c.user_frames:,}) | opportunities "
                   f"{c.opportunities} taken {len(c.taken)} blocked {sum(c.blocked.values())} "
                   f"| orders sent {c.orders_sent} | fills {c.fills}")
    if result.stats_line:
        typer.echo(result.stats_line)
    typer.echo(f"journal: {result.journal_dir}/ seq {result.first_seq}..{result.last_seq} "
               f"(polyarb journal verify {result.journal_dir})")


def run(
    venue: str | None = typer.Option(
        None, "--venue", help="sim (embedded simulator, default), paper or live.",
        show_default=False),
    config: str | None = typer.Option(
        None, "--config", help="Config file \\[default: ./polyarb.toml when present]."),
    journal_dir: str | None = typer.Option(
        None, "--journal-dir", help="Journal root \\[default: journal, or \\[run] journal_dir]."),
    duration: float | None = typer.Option(
        None, "--duration", min=0.0, help="Stop gracefully after SECONDS."),
    seed: int | None = typer.Option(None, "--seed", help="Simulator seed (\\[sim] seed)."),
    markets: list[str] | None = typer.Option(
        None, "--markets", help="Condition ids to trade (repeat or comma-separate); "
        "default: every active market (whole neg-risk events)."),
    detect_only: bool = typer.Option(
        False, "--detect-only", help="Detect, size and journal opportunities; send no order."),
    quiet: bool = typer.Option(
        False, "--quiet", help="Periodic status log lines on stderr instead of the panel."),
    yes: bool = typer.Option(False, "--yes", help="Start live trading without asking."),
) -> None:
    """Run the engine: journal every input, detect and trade arbitrage, until Ctrl-C.

    The default venue is the embedded simulator, traded through the real clients.

    Ctrl-C stops gracefully (resting orders cancelled, journal closed); twice forces.
    """
    from polyarb.config import ConfigError, load_config, with_overrides

    if venue is not None and venue not in VENUES:
        raise _fail(f"--venue must be one of {', '.join(VENUES)}", 2)
    ids = tuple(i.strip() for m in markets or () for i in m.split(",") if i.strip()) or None
    try:
        cfg = with_overrides(load_config(config, explicit=config is not None), venue=venue,
                             journal_dir=journal_dir, seed=seed, condition_ids=ids,
                             detect_only=True if detect_only else None)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    raise typer.Exit(start(cfg, duration, quiet, yes))


def start(cfg: object, duration: float | None, quiet: bool, yes: bool) -> int:
    """Preflight (live credentials), run, print the summary; return the exit code."""
    from pathlib import Path

    from polyarb.config import ConfigError, RunConfig
    from polyarb.journal import JournalError, JournalLocked
    from polyarb.journal.layout import JournalInsecure, check_not_world_writable
    from polyarb.runtime import RunOptions, run
    from polyarb.runtime.backends import BackendError, CredentialsError, preflight
    from polyarb.runtime.markets import MarketLoadError

    assert isinstance(cfg, RunConfig)
    try:  # before anything starts; JournalWriter.open checks again (the lock refuses it)
        check_not_world_writable(Path(cfg.run.journal_dir))
    except JournalInsecure as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    try:
        preflight(cfg, os.environ)
    except CredentialsError as exc:
        typer.echo(f"error: live trading needs credentials: {exc}", err=True)
        typer.echo("set POLYMARKET_PRIVATE_KEY (API key/secret/passphrase optional: "
                   "derived if unset) or [venue] credentials_file; or use --detect-only",
                   err=True)
        return 2
    panel = not quiet and sys.stderr.isatty()
    _setup_logging(panel)
    options = RunOptions(config=cfg, env=os.environ, duration_s=duration, panel=panel,
                         confirm=_confirm(yes))  # type: ignore[arg-type]
    try:
        result = run(options)
    except (JournalLocked, JournalInsecure) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except (JournalError, BackendError, CredentialsError, MarketLoadError, ConfigError,
            OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    _summary(result)
    return result.exit_code
