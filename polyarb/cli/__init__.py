# The `polyarb` command. Rules: each command parses its arguments, calls one library function and
# maps its errors to clear messages and exit codes; heavy imports (duckdb, numpy, the engine) happen
# inside the commands so `polyarb --help` stays fast. No secret is ever printed.
from __future__ import annotations

import typer

from polyarb import __version__
from polyarb.cli.bench import bench_app
from polyarb.cli.config_cmd import config_app
from polyarb.cli.doctor import doctor as doctor_command
from polyarb.cli.journal import journal_app
from polyarb.cli.markets import markets as markets_command
from polyarb.cli.order import order_app
from polyarb.cli.replay import replay as replay_command
from polyarb.cli.report import report_app
from polyarb.cli.run import run as run_command
from polyarb.cli.sim import sim_app

app = typer.Typer(
    name="polyarb",
    help=(
        "Event-sourced arbitrage engine for Polymarket's CLOB. Every input and every decision is "
        "journaled under journal/YYYY-MM-DD/ and can be audited with SQL and replayed exactly."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(journal_app, name="journal")
app.add_typer(sim_app, name="sim")
app.command("run")(run_command)
app.add_typer(config_app, name="config")
app.command("replay")(replay_command)
app.add_typer(report_app, name="report")
app.command("markets")(markets_command)
app.add_typer(order_app, name="order")
app.command("doctor")(doctor_command)
app.add_typer(bench_app, name="bench")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"polyarb {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """polyarb: find and trade arbitrage on Polymarket, with a journal you can audit and replay."""


def main() -> None:
    """Console-script entry point."""
    app()
