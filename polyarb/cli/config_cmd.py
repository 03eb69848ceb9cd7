# `polyarb config ...`: show the effective configuration a run would use.
#
# Rules: the output is the redacted config (the same canonical JSON RunStarted journals, as TOML
# or JSON) plus its hash, and where credentials would come from. Credential values are never
# printed: only whether each POLYMARKET_* variable is set.
from __future__ import annotations

import os

import typer

config_app = typer.Typer(help="Show the effective configuration (polyarb.toml).",
                         no_args_is_help=True)


def _toml_value(value: object) -> str:
    import orjson

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return orjson.dumps(value).decode()  # strings (Decimal amounts are strings already)


def to_toml(data: dict[str, object], prefix: str = "") -> list[str]:
    """Render nested config data as TOML tables (None values are left out: TOML has no null)."""
    lines: list[str] = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in tables:
        name = f"{prefix}{key}"
        body = to_toml(value, name + ".")
        if body and not body[0].startswith("["):
            lines += ["", f"[{name}]"]
        lines += body
    return lines


def _credentials_lines(credentials_file: str) -> list[str]:
    from polyarb.venues.polymarket.credentials import ENV_NAMES

    if credentials_file:
        return [f"# credentials: from the file {credentials_file} (values not shown)"]
    lines = ["# credentials: from the environment (values never shown)"]
    for name in ENV_NAMES:
        state = "<redacted>" if os.environ.get(name, "").strip() else "(not set)"
        lines.append(f"#   {name} = {state}")
    return lines


@config_app.command("show")
def show(
    config: str | None = typer.Option(
        None, "--config", help="Config file \\[default: ./polyarb.toml when present]."),
    as_json: bool = typer.Option(False, "--json", help="Print canonical JSON instead of TOML."),
) -> None:
    """Print the effective config (file + defaults), secrets redacted, and its hash.

    The hash is RunStarted.config_hash of a run started with this config and no overrides.
    """
    from polyarb.config import ConfigError, load_config

    try:
        cfg = load_config(config, explicit=config is not None)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(cfg.canonical_json().decode())
        return
    typer.echo(f"# config hash {cfg.config_hash()}")
    for line in _credentials_lines(cfg.venue.credentials_file):
        typer.echo(line)
    for line in to_toml(cfg.to_builtins()):
        typer.echo(line)
