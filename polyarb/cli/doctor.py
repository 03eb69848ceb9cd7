# `polyarb doctor`: run the trading-readiness checks (polyarb.venues.polymarket.doctor) and
# print each as PASS/FAIL with a fix hint. Exit 0 when every check passes, 1 otherwise.
#
# Rules:
# 1. Credentials come from the environment (POLYMARKET_*) or from --credentials-file, a
#    NAME=value file that must not be readable by group or others (chmod 600).
# 2. Works against the simulator: --clob-url and --ws-url point it anywhere.
# 3. Nothing printed ever holds a secret (the checks redact; this module prints only them).
from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import typer


def _file_env(path: str) -> Mapping[str, str]:
    """The POLYMARKET_* names of a credentials file (rule 1).

    Raises:
        typer.Exit: unreadable, loosely permitted or malformed file (message printed).
    """
    from polyarb.venues.polymarket.credentials import CredentialsError, parse_env_file

    file = Path(path)
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"FAIL credentials file: cannot read {file} "
                   f"({getattr(exc, 'strerror', None) or type(exc).__name__})")
        raise typer.Exit(1) from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        typer.echo(f"FAIL credentials file: {file} is readable by group/others\n"
                   f"     fix: chmod 600 {file}")
        raise typer.Exit(1)
    try:
        return parse_env_file(text)
    except CredentialsError as exc:
        message = str(exc)  # names the line, never a value
    typer.echo(f"FAIL credentials file: {message}")
    raise typer.Exit(1)


def doctor(
    clob_url: str | None = typer.Option(None, "--clob-url",
                                        help="CLOB REST base URL (default: the venue)."),
    ws_url: str | None = typer.Option(None, "--ws-url",
                                      help="Websocket base or market-channel URL."),
    credentials_file: str | None = typer.Option(
        None, "--credentials-file", help="NAME=value file with POLYMARKET_* (chmod 600)."),
    token_id: str | None = typer.Option(None, "--token-id",
                                        help="Token to subscribe for the websocket check."),
    max_skew_s: int = typer.Option(5, "--max-skew", min=0, help="Allowed clock skew (s)."),
    timeout_s: float = typer.Option(10.0, "--timeout", min=0.1, help="Per-check timeout (s)."),
    refresh_balance: bool = typer.Option(
        False, "--refresh-balance", help="Ask the venue to refresh its cached balance first."),
) -> None:
    """Check keys, credentials, clock, version, balance/allowances and the market websocket."""
    from polyarb.venues.polymarket.doctor import DoctorConfig, run_checks

    env: Mapping[str, str] = _file_env(credentials_file) if credentials_file else os.environ
    defaults = DoctorConfig()
    config = DoctorConfig(clob_url=clob_url or defaults.clob_url,
                          ws_url=ws_url or defaults.ws_url, token_id=token_id,
                          max_skew_s=max_skew_s, timeout_s=timeout_s,
                          refresh_balance=refresh_balance)
    checks = asyncio.run(run_checks(env, config))
    for check in checks:
        typer.echo(f"{'PASS' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            typer.echo(f"     fix: {check.fix}")
    failed = sum(not ch.ok for ch in checks)
    typer.echo(f"{len(checks) - failed}/{len(checks)} checks passed")
    raise typer.Exit(1 if failed else 0)
