# Exception texts never hold a secret: forced failures (bad credentials files, malformed private
# keys, mis-filed values, HTTP errors whose bodies echo the credentials, an unreachable venue)
# are checked in str(), repr(), the whole formatted traceback chain (__cause__/__context__),
# the CLI's output, and every Python log record emitted meanwhile (DEBUG and up).
from __future__ import annotations

import asyncio
import logging
import os
import traceback
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.sim.server import DEV_PRIVATE_KEY
from polyarb.venues.polymarket.clob import ClobClient, ClobError, RetryPolicy
from polyarb.venues.polymarket.credentials import (
    ApiCredentials,
    CredentialsError,
    PolymarketCredentials,
    Secret,
    load_credentials,
    load_credentials_file,
)
from polyarb.venues.polymarket.signing import KeyFormatError, LocalSigner
from tests.security.markers import (
    MARKER_API_KEY,
    MARKER_PASSPHRASE,
    MARKER_SECRET,
    Markers,
    scan_texts,
)

KEY_HEX = DEV_PRIVATE_KEY.removeprefix("0x")
ALL = {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, "POLYMARKET_API_KEY": MARKER_API_KEY,
       "POLYMARKET_API_SECRET": MARKER_SECRET, "POLYMARKET_API_PASSPHRASE": MARKER_PASSPHRASE}


@pytest.fixture
def markers() -> Markers:
    found = Markers()
    found.add("private key", DEV_PRIVATE_KEY)
    # Any 16 consecutive hex digits of the key count as a leak (a clipped or sliced message).
    found.forms["private key fragment"] = [KEY_HEX[i:i + 16].encode()
                                           for i in range(len(KEY_HEX) - 15)]
    found.add("api key", MARKER_API_KEY)
    found.add("secret", MARKER_SECRET)
    found.add("passphrase", MARKER_PASSPHRASE)
    found.forms["secret fragment"] = [MARKER_SECRET[i:i + 16].encode()
                                      for i in range(len(MARKER_SECRET) - 15)]
    return found


def _texts(exc: BaseException) -> list[tuple[str, str]]:
    name = type(exc).__name__
    return [(f"str({name})", str(exc)), (f"repr({name})", repr(exc)),
            (f"traceback of {name}", "".join(traceback.format_exception(exc)))]


def _raised(fn: object, *args: object) -> BaseException:
    with pytest.raises((CredentialsError, KeyFormatError, ClobError, ValueError)) as info:
        fn(*args)  # type: ignore[operator]
    return info.value


BAD_FILES = {
    "loose permissions": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n", 0o644),
    "bare key line": (f"{DEV_PRIVATE_KEY}\n", 0o600),
    "key as a name": (f"{KEY_HEX}=1\n", 0o600),
    "unknown name": (f"MY_WALLET_KEY={DEV_PRIVATE_KEY}\n", 0o600),
    "repeated name": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n" * 2, 0o600),
    "unbalanced quotes": (f"POLYMARKET_PRIVATE_KEY='{DEV_PRIVATE_KEY}\n", 0o600),
    "key too long": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}ab\n", 0o600),
    "key in funder": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n"
                      f"POLYMARKET_FUNDER={DEV_PRIVATE_KEY}\n", 0o600),
    "key in signature type": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n"
                              f"POLYMARKET_SIGNATURE_TYPE={KEY_HEX}\n", 0o600),
    "secret not base64": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n"
                          f"POLYMARKET_API_KEY={MARKER_API_KEY}\n"
                          f"POLYMARKET_API_SECRET={MARKER_SECRET}!\n"
                          f"POLYMARKET_API_PASSPHRASE={MARKER_PASSPHRASE}\n", 0o600),
    "partial api": (f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n"
                    f"POLYMARKET_API_SECRET={MARKER_SECRET}\n", 0o600),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_credentials_file_errors_hold_no_secret(case: str, tmp_path: Path,
                                                    markers: Markers) -> None:
    text, mode = BAD_FILES[case]
    path = tmp_path / "creds.env"
    path.write_text(text)
    os.chmod(path, mode)
    config = tmp_path / "polyarb.toml"
    config.write_text(f'[venue]\ncredentials_file = "{path}"\n')

    exc = _raised(load_credentials_file, path)
    done = CliRunner().invoke(app, ["run", "--venue", "live", "--yes", "--config", str(config),
                                    "--journal-dir", str(tmp_path / "j")], env={})
    doctor = CliRunner().invoke(app, ["doctor", "--credentials-file", str(path), "--clob-url",
                                      "http://127.0.0.1:9", "--ws-url", "ws://127.0.0.1:9",
                                      "--timeout", "1"], env={})

    assert isinstance(exc, CredentialsError)
    assert done.exit_code == 2 and "error:" in done.output
    assert doctor.exit_code == 1 and "FAIL" in doctor.output
    assert scan_texts(markers, [*_texts(exc), ("polyarb run output", done.output),
                                ("polyarb doctor output", doctor.output)]) == []


def test_non_utf8_credentials_file_error_holds_no_secret(tmp_path: Path,
                                                         markers: Markers) -> None:
    path = tmp_path / "creds.env"
    path.write_bytes(f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}\n".encode() + b"\xff\xfe\n")
    os.chmod(path, 0o600)

    exc = _raised(load_credentials_file, path)

    assert "not UTF-8" in str(exc) and exc.__context__ is None
    assert scan_texts(markers, _texts(exc)) == []


KEYS = {
    "too long": DEV_PRIVATE_KEY + "ab",
    "too short": DEV_PRIVATE_KEY[:-2],
    "not hex": "0xzz" + KEY_HEX[2:],
    "out of range": "0x" + "f" * 64,
    "bytes as text": str(bytes.fromhex(KEY_HEX)),
}


@pytest.mark.parametrize("case", sorted(KEYS))
def test_malformed_private_key_errors_hold_no_key(case: str, markers: Markers) -> None:
    key = KEYS[case]

    errors = [_raised(load_credentials, {"POLYMARKET_PRIVATE_KEY": key}),
              _raised(LocalSigner.from_hex, key),
              _raised(PolymarketCredentials, Secret(key))]
    done = CliRunner().invoke(app, ["run", "--venue", "live", "--yes"],
                              env={"POLYMARKET_PRIVATE_KEY": key})

    assert done.exit_code == 2
    assert scan_texts(markers, [t for e in errors for t in _texts(e)]
                      + [("polyarb run output", done.output)]) == []


def test_local_signer_of_wrong_length_bytes_holds_no_key(markers: Markers) -> None:
    exc = _raised(LocalSigner, bytes.fromhex(KEY_HEX) + b"\x01")

    assert scan_texts(markers, _texts(exc)) == []


def _echoing_transport(status: int, pad: int) -> httpx.MockTransport:
    """A venue that answers `status` and echoes the secrets, every request header and the body
    back in its error message: the worst case for an error text that quotes the reply. `pad`
    characters come first, to put a secret across the 300-character clip of error texts."""
    def handler(request: httpx.Request) -> httpx.Response:
        echoed = " ".join(f"{k}={v}" for k, v in request.headers.items())
        body = request.content.decode("utf-8", "replace")
        message = "x" * pad + f" {DEV_PRIVATE_KEY} {MARKER_SECRET} {echoed} {body}"
        return httpx.Response(status, json={"error": message})
    return httpx.MockTransport(handler)


def _client(transport: httpx.AsyncBaseTransport) -> ClobClient:
    creds = load_credentials(ALL)

    async def no_sleep(_s: float) -> None:
        return None

    return ClobClient(creds, base_url="http://127.0.0.1:9", transport=transport,
                      retry=RetryPolicy(attempts=2, initial_s=0.001, max_s=0.001), sleep=no_sleep)


async def _failures(transport: httpx.AsyncBaseTransport) -> list[BaseException]:
    client = _client(transport)
    out: list[BaseException] = []
    try:
        for call in (lambda: client.get_json("/data/orders", auth="l2"),
                     lambda: client.get_json("/time"),
                     client.create_or_derive_api_key,
                     lambda: client.balance_allowance()):
            try:
                await call()
            except ClobError as exc:
                out.append(exc)
    finally:
        await client.aclose()
    return out


# pad 276: the key crosses the clip; 210: the API secret does; 0: everything is inside it
@pytest.mark.parametrize(("status", "pad"), [(400, 0), (400, 276), (400, 210), (401, 0),
                                             (401, 276), (429, 0), (500, 210), (503, 276)])
def test_http_error_texts_and_logs_hold_no_secret(status: int, pad: int, markers: Markers,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    errors = asyncio.run(_failures(_echoing_transport(status, pad)))

    assert len(errors) == 4
    logged = [("log", r.getMessage()) for r in caplog.records]
    assert scan_texts(markers, [t for e in errors for t in _texts(e)] + logged) == []


def test_unreachable_venue_error_texts_hold_no_secret(markers: Markers,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    errors = asyncio.run(_failures(httpx.AsyncHTTPTransport(retries=0)))  # port 9: refused

    assert errors
    logged = [("log", r.getMessage()) for r in caplog.records]
    assert scan_texts(markers, [t for e in errors for t in _texts(e)] + logged) == []


def test_api_credentials_of_a_bad_secret_error_holds_no_secret(markers: Markers) -> None:
    exc = _raised(ApiCredentials.of, MARKER_API_KEY, MARKER_SECRET + "$", MARKER_PASSPHRASE)

    assert scan_texts(markers, _texts(exc)) == []
