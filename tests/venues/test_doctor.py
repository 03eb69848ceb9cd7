# `polyarb doctor` (polyarb.venues.polymarket.doctor and polyarb/cli/doctor.py): every check
# against the simulator on loopback with the dev key it prints (derived and given credentials),
# the failures with their fix hints (no key, wrong funder rule, wrong API secret, clock skew,
# version, balance/allowance shapes, an unreachable websocket), exit codes, credentials files,
# and that no secret ever appears in what doctor prints (marker values).
from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.sim.server import DEV_ADDRESS, DEV_PRIVATE_KEY, ServerThread, SimServer
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket.doctor import (
    Check,
    DoctorConfig,
    check_version,
    judge_balance,
    market_ws_url,
    run_checks,
)
from tests.sim.server.helpers import config, scenario

runner = CliRunner()
SECRET_MARKER = base64.urlsafe_b64encode(b"SECRET-MARKER-doctor-test-0001!!").decode()
PASS_MARKER = "PASSPHRASE-MARKER-doctor-7c1e"
KEY_MARKER = "a7e1c0de-0000-4000-8000-d0c70rd0c70r"
NAMES = ("clock skew", "order version", "market websocket")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    thread = ServerThread(SimServer(config(), scenario(markets=2, neg_risk_events=1)))
    server = thread.start()
    try:
        yield server
    finally:
        thread.stop()


def dev_api(server: SimServer) -> dict[str, str]:
    creds = server.venue.keys.derive(DEV_ADDRESS, 0)
    return {"POLYMARKET_API_KEY": creds.api_key.reveal(),
            "POLYMARKET_API_SECRET": creds.secret.reveal(),
            "POLYMARKET_API_PASSPHRASE": creds.passphrase.reveal()}


def checks(server: SimServer, env: Mapping[str, str], clock: Callable[[], int] = time.time_ns,
           **kw: Any) -> dict[str, Check]:
    cfg = DoctorConfig(clob_url=server.url, ws_url=server.ws_url, timeout_s=5.0, **kw)
    got = asyncio.run(run_checks(env, cfg, clock_ns=clock))
    return {ch.name: ch for ch in got}


def failed(result: dict[str, Check]) -> list[str]:
    return [name for name, ch in result.items() if not ch.ok]


def test_doctor_dev_key_only_derives_credentials_and_passes_everything(sim: SimServer) -> None:
    result = checks(sim, {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY})

    assert failed(result) == []
    assert list(result) == ["private key", "signature type / funder", "clock skew",
                            "order version", "API credentials", "balance / allowances",
                            "market websocket"]
    assert "derived" in result["API credentials"].detail
    assert DEV_ADDRESS in result["private key"].detail
    assert "all 3 spenders approved" in result["balance / allowances"].detail


def test_doctor_given_credentials_are_proven_with_an_authenticated_call(sim: SimServer) -> None:
    result = checks(sim, {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, **dev_api(sim)},
                    refresh_balance=True)
    assert failed(result) == [] and "given credentials accepted" in \
        result["API credentials"].detail


def test_doctor_wrong_api_secret_fails_with_a_hint_and_never_prints_it(sim: SimServer) -> None:
    env = {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, "POLYMARKET_API_KEY": KEY_MARKER,
           "POLYMARKET_API_SECRET": SECRET_MARKER, "POLYMARKET_API_PASSPHRASE": PASS_MARKER}
    result = checks(sim, env)

    assert failed(result) == ["API credentials", "balance / allowances"]
    assert "http 401" in result["API credentials"].detail
    assert "THIS key's address" in result["API credentials"].fix
    text = repr(list(result.values()))
    for secret in (SECRET_MARKER, PASS_MARKER, KEY_MARKER, DEV_PRIVATE_KEY,
                   DEV_PRIVATE_KEY[2:]):
        assert secret not in text


def test_doctor_without_a_key_still_checks_the_public_parts(sim: SimServer) -> None:
    result = checks(sim, {})

    assert failed(result) == ["private key", "signature type / funder", "API credentials",
                              "balance / allowances"]
    assert all(result[name].ok for name in NAMES)
    assert "POLYMARKET_PRIVATE_KEY" in result["private key"].fix
    assert result["balance / allowances"].detail == "not checked: needs API credentials"


def test_doctor_proxy_signature_type_without_funder_says_what_to_set(sim: SimServer) -> None:
    result = checks(sim, {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY,
                          "POLYMARKET_SIGNATURE_TYPE": "1"})
    sig = result["signature type / funder"]
    assert not sig.ok and "needs a funder" in sig.detail and "POLYMARKET_FUNDER" in sig.fix


def test_doctor_clock_skew_fails_but_auth_still_works(sim: SimServer) -> None:
    def ahead() -> int:
        return time.time_ns() + 90 * 10**9

    result = checks(sim, {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY}, clock=ahead)
    assert failed(result) == ["clock skew"]
    assert "-90 s" in result["clock skew"].detail or "-89 s" in result["clock skew"].detail
    assert "NTP" in result["clock skew"].fix


def test_doctor_unreachable_websocket_fails_with_the_url(sim: SimServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = checks(sim, {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY})
    cfg = DoctorConfig(clob_url=sim.url, ws_url=f"ws://127.0.0.1:{port}/ws", timeout_s=2.0)
    ws = asyncio.run(run_checks({}, cfg))[-1]
    assert result["market websocket"].ok
    assert not ws.ok and f"ws://127.0.0.1:{port}/ws/market" in ws.detail
    assert "reachable" in ws.fix


def test_doctor_version_other_than_2_fails() -> None:
    async def main() -> Check:
        transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"version": 3}))
        async with httpx.AsyncClient(base_url="https://clob.test", transport=transport) as h:
            return await check_version(h)
    got = asyncio.run(main())
    assert not got.ok and "version 3" in got.detail and "upgrade" in got.fix


def test_market_ws_url_accepts_base_or_channel_url() -> None:
    assert market_ws_url("ws://h:1/ws") == "ws://h:1/ws/market"
    assert market_ws_url("wss://x/ws/market/") == "wss://x/ws/market"


SPENDERS = c.CONTRACTS[137]


@pytest.mark.parametrize(("reply", "ok", "words"), [
    ({"balance": "0", "allowances": {}}, False, "no pUSD"),
    ({"balance": "5000000", "allowances": {SPENDERS.exchange_v2: "1",
                                           SPENDERS.neg_risk_exchange_v2.lower(): "1"}},
     False, "Neg-Risk Adapter"),
    ({"balance": "5000000", "allowances": dict.fromkeys(
        (SPENDERS.exchange_v2, SPENDERS.neg_risk_exchange_v2, SPENDERS.neg_risk_adapter),
        "99")}, True, "balance 5 pUSD"),
    ({"balance": "1000000000", "allowance": "999999999000000"}, True, "allowance set"),
    ({"balance": "250.500000"}, False, "allowance zero"),
    ({"balance": "-1"}, False, "unreadable"),
    ([1, 2], False, "unreadable"),
])
def test_judge_balance_shapes(reply: Any, ok: bool, words: str) -> None:
    got = judge_balance(reply, 137, "0xF00")
    assert got.ok is ok and words in got.detail + got.fix


def test_cli_doctor_exit_0_when_everything_passes(sim: SimServer) -> None:
    result = runner.invoke(app, ["doctor", "--clob-url", sim.url, "--ws-url", sim.ws_url],
                           env={"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, **dev_api(sim)})
    assert result.exit_code == 0, result.output
    assert "7/7 checks passed" in result.output and "FAIL" not in result.output
    for value in (DEV_PRIVATE_KEY[2:], *dev_api(sim).values()):
        assert value not in result.output


def test_cli_doctor_exit_1_and_fix_lines_on_failure(sim: SimServer) -> None:
    env = {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, "POLYMARKET_API_KEY": KEY_MARKER,
           "POLYMARKET_API_SECRET": SECRET_MARKER, "POLYMARKET_API_PASSPHRASE": PASS_MARKER}
    result = runner.invoke(app, ["doctor", "--clob-url", sim.url, "--ws-url", sim.ws_url],
                           env=env)
    assert result.exit_code == 1
    assert "FAIL API credentials" in result.output and "     fix: " in result.output
    for secret in (SECRET_MARKER, PASS_MARKER, KEY_MARKER, DEV_PRIVATE_KEY[2:]):
        assert secret not in result.output


def test_cli_doctor_credentials_file_must_be_private(sim: SimServer, tmp_path: Path) -> None:
    path = tmp_path / "creds.env"
    path.write_text(f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n")
    path.chmod(0o644)
    args = ["doctor", "--clob-url", sim.url, "--ws-url", sim.ws_url, "--credentials-file",
            str(path)]
    loose = runner.invoke(app, args, env={"POLYMARKET_PRIVATE_KEY": None})
    path.chmod(0o600)
    tight = runner.invoke(app, args, env={"POLYMARKET_PRIVATE_KEY": None})

    assert loose.exit_code == 1 and f"chmod 600 {path}" in loose.output
    assert tight.exit_code == 0, tight.output
    assert DEV_PRIVATE_KEY[2:] not in loose.output + tight.output
