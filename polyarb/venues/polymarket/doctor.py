# `polyarb doctor`: checks that a machine and a set of credentials can trade on the CLOB (or the
# simulator), each check a pass/fail with a hint saying how to fix it.
#
# Rules:
# 1. Checks, in order: key format, signature type vs funder, server clock skew (GET /time),
#    order version (GET /version == 2), API credentials (given ones proven with an L2 call;
#    none given: derived with L1 GET /auth/derive-api-key, never created), balance and
#    allowances (GET /balance-allowance, or its /update form), market websocket (connect,
#    subscribe one token, PING, any frame or PONG back). A check that needs an earlier one
#    that failed fails too, saying which.
# 2. Never prints a secret: details are built from addresses, statuses and counts only, and
#    every text passes a Redactor that knows the private key, API key, secret and passphrase
#    before it leaves this module. Derived credentials are used, never shown.
# 3. Read-only against the venue: no order, no key creation, no cancel. The only write-like
#    call is /balance-allowance/update (a cache refresh), and only when asked for.
# 4. HTTP through ClobClient (L1/L2 auth, injectable transport) and a plain httpx client for
#    the public calls; the websocket through `websockets`. Timeouts everywhere.
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import httpx
import orjson
from websockets.asyncio.client import connect

from polyarb.core.numbers import NumberError, format_micros, parse_micros
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket import credentials as cr
from polyarb.venues.polymarket.clob import DEFAULT_URL, ClobClient, ClobError, RetryPolicy
from polyarb.venues.polymarket.feed import MARKET_URL
from polyarb.venues.polymarket.feed_wire import PING, initial_frame
from polyarb.venues.polymarket.outcomes import Redactor
from polyarb.venues.polymarket.signing import KeyFormatError, LocalSigner

SIGNED_VERSION = 2


class Check(NamedTuple):
    """One check's verdict; `fix` says what to do when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class DoctorConfig:
    """Where to check and how strictly."""

    clob_url: str = DEFAULT_URL
    ws_url: str = MARKET_URL
    chain_id: int = c.POLYGON
    token_id: str | None = None
    max_skew_s: int = 5
    timeout_s: float = 10.0
    refresh_balance: bool = False


def market_ws_url(url: str) -> str:
    """The market channel URL: given as is when it ends in /market, else `<url>/market`."""
    url = url.rstrip("/")
    return url if url.endswith("/market") else url + "/market"


def check_key(env: Mapping[str, str]) -> tuple[Check, LocalSigner | None]:
    """Key format: present, 32 bytes of hex, in range."""
    name = "private key"
    text = env.get(cr.ENV_PRIVATE_KEY, "").strip()
    if not text:
        return Check(name, False, f"{cr.ENV_PRIVATE_KEY} is not set",
                     f"export {cr.ENV_PRIVATE_KEY}=0x<64 hex digits> (or use a credentials "
                     "file with chmod 600)"), None
    try:
        signer = LocalSigner.from_hex(text)
    except KeyFormatError as exc:
        why = str(exc)  # KeyFormatError never holds the key
    else:
        return Check(name, True, f"signer address {signer.address}"), signer
    return Check(name, False, why, "paste the wallet's private key: 64 hex digits, 0x "
                 "optional (a seed phrase or an address is not a key)"), None


_FUNDER_FIX = ("signature type 0 (EOA): no funder, or your own address; 1 (POLY_PROXY, email/"
               "Magic login) and 2 (POLY_GNOSIS_SAFE, browser wallet): "
               f"{cr.ENV_FUNDER} = the profile address shown on polymarket.com")


def check_signature_type(env: Mapping[str, str], signer: LocalSigner | None
                         ) -> tuple[Check, cr.PolymarketCredentials | None]:
    """Signature type vs funder (credentials.py rule 4); no API credentials needed here."""
    name = "signature type / funder"
    if signer is None:
        return Check(name, False, "needs a valid private key", _FUNDER_FIX), None
    picked = {k: env.get(k, "") for k in (cr.ENV_PRIVATE_KEY, cr.ENV_FUNDER,
                                          cr.ENV_SIGNATURE_TYPE)}
    try:
        creds = cr.load_credentials(picked)
    except cr.CredentialsError as exc:
        return Check(name, False, str(exc), _FUNDER_FIX), None
    kind = c.SIGNATURE_TYPE_NAMES[creds.signature_type]
    return Check(name, True, f"{creds.signature_type} ({kind}), maker {creds.maker}"), creds


def _given_api(env: Mapping[str, str]) -> tuple[cr.ApiCredentials | None, str]:
    names = (cr.ENV_API_KEY, cr.ENV_API_SECRET, cr.ENV_API_PASSPHRASE)
    values = [env.get(n, "").strip() for n in names]
    if not any(values):
        return None, ""
    if not all(values):
        missing = ", ".join(n for n, v in zip(names, values, strict=True) if not v)
        return None, f"API credentials are partial: {missing} not set"
    try:
        return cr.ApiCredentials.of(*values), ""
    except cr.CredentialsError as exc:
        return None, str(exc)


def _plain_api(body: bytes) -> cr.ApiCredentials | None:
    try:
        obj = orjson.loads(body)
        return cr.ApiCredentials.of(obj["apiKey"], obj["secret"], obj["passphrase"])
    except Exception:  # never echo a body that holds secrets
        return None


_API_FIX = (f"set {cr.ENV_API_KEY}, {cr.ENV_API_SECRET} and {cr.ENV_API_PASSPHRASE} to the "
            "credentials created for THIS key's address (or unset all three to derive them); "
            "a 401 can also mean clock skew or the wrong signature type")


Factory = Callable[[cr.PolymarketCredentials], Awaitable[ClobClient]]


async def check_api(factory: Factory, creds: cr.PolymarketCredentials,
                    env: Mapping[str, str]) -> tuple[Check, cr.ApiCredentials | None]:
    """Given credentials: an L2 call (GET /auth/api-keys); none: L1 derive (rule 1).

    Returns:
        The verdict and the working credentials (given or derived), if any.
    """
    name = "API credentials"
    given, problem = _given_api(env)
    if problem:
        return Check(name, False, problem, _API_FIX), None
    client = await factory(replace(creds, api=given))
    try:
        if given is not None:
            reply = await client.request("GET", "/auth/api-keys", auth="l2")
        else:
            reply = await client.request("GET", "/auth/derive-api-key", auth="l1")
    finally:
        await client.aclose()
    if given is not None:
        if reply.status == 200:
            return Check(name, True, "given credentials accepted (authenticated call ok)"), given
        return Check(name, False, f"authenticated call answered {_status(reply.status)}",
                     _API_FIX), None
    derived = _plain_api(reply.body) if reply.status == 200 else None
    if derived is None:
        return Check(name, False, f"none given and derive-api-key answered "
                     f"{_status(reply.status)}", "create API credentials once for this key "
                     "(POST /auth/api-key, e.g. with the official client), then set them"), None
    return Check(name, True, "none given; derived from the key with L1 auth (not shown)"), \
        derived


def _status(status: int | None) -> str:
    return "no response" if status is None else f"http {status}"


def _base_units(value: object) -> int | None:
    """Balance text: digits are base units; a decimal point means dollars (older replies)."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return parse_micros(text)
    except NumberError:
        return None


def _spenders(chain_id: int) -> dict[str, str]:
    k = c.CONTRACTS[chain_id]
    return {"CTF exchange": k.exchange_v2, "neg-risk exchange": k.neg_risk_exchange_v2,
            "Neg-Risk Adapter": k.neg_risk_adapter}


def judge_balance(obj: object, chain_id: int, maker: str) -> Check:
    """The balance/allowance verdict of a /balance-allowance reply."""
    name = "balance / allowances"
    balance = _base_units(obj.get("balance")) if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or balance is None:
        return Check(name, False, "unreadable balance reply", "retry; report if it persists")
    if balance <= 0:
        return Check(name, False, f"no pUSD collateral at {maker}",
                     "fund the funder address: wrap USDC.e into pUSD (CollateralOnramp), or "
                     "fix the funder/signature type if the money sits elsewhere; then run "
                     "doctor with --refresh-balance")
    given = obj.get("allowances")
    allowances = {str(k).lower(): _base_units(v) or 0 for k, v in given.items()} \
        if isinstance(given, dict) else None
    if allowances is None:
        single = _base_units(obj.get("allowance")) or 0
        ok = single > 0
        detail = f"balance {format_micros(balance)} pUSD, allowance {'set' if ok else 'zero'}"
        return Check(name, ok, detail, "" if ok else _ALLOWANCE_FIX)
    missing = [label for label, addr in _spenders(chain_id).items()
               if allowances.get(addr.lower(), 0) <= 0]
    detail = f"balance {format_micros(balance)} pUSD"
    if missing:
        return Check(name, False, f"{detail}; no allowance for {', '.join(missing)}",
                     _ALLOWANCE_FIX)
    return Check(name, True, f"{detail}; all {len(_spenders(chain_id))} spenders approved")


_ALLOWANCE_FIX = ("approve pUSD (and setApprovalForAll on the CTF) for the V2 CTF exchange, "
                  "the V2 neg-risk exchange and the Neg-Risk Adapter, then run doctor with "
                  "--refresh-balance (calls /balance-allowance/update)")


async def check_balance(client: ClobClient, config: DoctorConfig) -> Check:
    """GET /balance-allowance (COLLATERAL) for the signature type (rule 3 for /update)."""
    path = "/balance-allowance/update" if config.refresh_balance else "/balance-allowance"
    params = {"asset_type": "COLLATERAL",
              "signature_type": str(client.credentials.signature_type)}
    try:
        obj = await client.get_json(path, params, auth="l2")
    except ClobError as exc:
        return Check("balance / allowances", False, f"{path}: {_status(exc.status)}",
                     "fix the API credentials first; a 401 here means they are not accepted")
    return judge_balance(obj, config.chain_id, client.credentials.maker)


async def _first_token(http: httpx.AsyncClient) -> str | None:
    reply = await http.get("/markets", params={"next_cursor": "MA=="})
    rows = reply.json().get("data") if reply.status_code == 200 else None
    tokens = [str(t.get("token_id")) for m in rows or [] if isinstance(m, dict)
              and m.get("accepting_orders") and not m.get("closed")
              for t in m.get("tokens") or [] if isinstance(t, dict)]
    return tokens[0] if tokens else None


async def check_websocket(http: httpx.AsyncClient, config: DoctorConfig) -> Check:
    """Connect to the market channel, subscribe one token, PING; any frame or PONG passes."""
    name = "market websocket"
    url = market_ws_url(config.ws_url)
    fix = f"check that {url} is reachable (firewall, proxy, VPN) and the URL is right"
    try:
        token = config.token_id or await _first_token(http)
        async with asyncio.timeout(config.timeout_s):
            async with connect(url, open_timeout=config.timeout_s) as ws:
                await ws.send(initial_frame((token or "0",), custom_feature_enabled=False,
                                            initial_dump=True))
                await ws.send(PING)
                first = await ws.recv()
    except TimeoutError:
        return Check(name, False, f"{url}: no frame within {config.timeout_s:g} s", fix)
    except Exception as exc:  # any connect/protocol failure is this check's verdict
        return Check(name, False, f"{url}: {type(exc).__name__}: {str(exc)[:160]}", fix)
    text = first if isinstance(first, str) else first.decode("utf-8", "replace")
    what = "PONG" if text.strip() == "PONG" else "a market frame"
    return Check(name, True, f"{url}: subscribed, got {what}")


async def _public(http: httpx.AsyncClient, path: str) -> Any:
    reply = await http.get(path)
    if reply.status_code != 200:
        raise ClobError(f"GET {path}: http {reply.status_code}", reply.status_code)
    return orjson.loads(reply.content)


async def check_clock(http: httpx.AsyncClient, config: DoctorConfig,
                      clock_ns: Callable[[], int]) -> Check:
    """Skew between the local clock and GET /time (L1/L2 timestamps must be close)."""
    name = "clock skew"
    before = clock_ns()
    try:
        server = await _public(http, "/time")
    except (ClobError, httpx.HTTPError, orjson.JSONDecodeError) as exc:
        return Check(name, False, f"GET /time failed: {str(exc)[:160]}",
                     f"check that {config.clob_url} is reachable")
    local_s = (before + clock_ns()) // 2 // 1_000_000_000
    if not isinstance(server, int) or isinstance(server, bool):
        return Check(name, False, "GET /time did not answer an integer", "wrong --clob-url?")
    skew = server - local_s
    ok = abs(skew) <= config.max_skew_s
    return Check(name, ok, f"local clock {skew:+d} s from the server",
                 "" if ok else "synchronise the clock (NTP: timedatectl set-ntp true)")


async def check_version(http: httpx.AsyncClient) -> Check:
    """GET /version must say 2 (this client signs V2 orders only)."""
    name = "order version"
    try:
        obj = await _public(http, "/version")
    except (ClobError, httpx.HTTPError, orjson.JSONDecodeError) as exc:
        return Check(name, False, f"GET /version failed: {str(exc)[:160]}", "wrong --clob-url?")
    version = obj.get("version") if isinstance(obj, dict) else None
    ok = version == SIGNED_VERSION
    return Check(name, ok, f"venue expects version {version}",
                 "" if ok else "upgrade polyarb: it signs version 2 orders only")


def _blocked(name: str, needs: str) -> Check:
    return Check(name, False, f"not checked: needs {needs}", f"fix the {needs} check first")


async def run_checks(env: Mapping[str, str], config: DoctorConfig | None = None, *,
                     transport: httpx.AsyncBaseTransport | None = None,
                     clock_ns: Callable[[], int] = time.time_ns) -> list[Check]:
    """Every check of rule 1, in order, with secrets redacted (rule 2).

    Args:
        env: the POLYMARKET_* variables (os.environ, or a parsed credentials file).
        config: URLs and limits.
        transport: httpx transport for the REST calls (tests).
        clock_ns: the local clock.
    """
    config = config if config is not None else DoctorConfig()
    key_check, signer = check_key(env)
    sig_check, creds = check_signature_type(env, signer)
    checks = [key_check, sig_check]
    async with httpx.AsyncClient(base_url=config.clob_url.rstrip("/"), transport=transport,
                                 timeout=config.timeout_s) as http:
        checks += [await check_clock(http, config, clock_ns), await check_version(http)]
        checks += await _account_checks(env, config, creds, transport, clock_ns)
        checks.append(await check_websocket(http, config))
    return redact_checks(checks, env)


async def _account_checks(env: Mapping[str, str], config: DoctorConfig,
                          creds: cr.PolymarketCredentials | None,
                          transport: httpx.AsyncBaseTransport | None,
                          clock_ns: Callable[[], int]) -> list[Check]:
    if creds is None:
        return [_blocked("API credentials", "signature type / funder"),
                _blocked("balance / allowances", "API credentials")]

    async def factory(with_creds: cr.PolymarketCredentials) -> ClobClient:
        client = ClobClient(with_creds, base_url=config.clob_url, chain_id=config.chain_id,
                            transport=transport, timeout_s=config.timeout_s, clock_ns=clock_ns,
                            retry=RetryPolicy(attempts=2, initial_s=0.2, max_s=1.0))
        with contextlib.suppress(ClobError):
            await client.sync_time()  # auth works despite skew; the skew check reports it
        return client

    api_check, api = await check_api(factory, creds, env)
    if api is None:
        return [api_check, _blocked("balance / allowances", "API credentials")]
    client = await factory(replace(creds, api=api))
    try:
        return [api_check, await check_balance(client, config)]
    finally:
        await client.aclose()


def redact_checks(checks: list[Check], env: Mapping[str, str]) -> list[Check]:
    """Rule 2's last line of defence: known secret values replaced in every text."""
    values = [env.get(n, "").strip() for n in (cr.ENV_PRIVATE_KEY, cr.ENV_API_KEY,
                                                cr.ENV_API_SECRET, cr.ENV_API_PASSPHRASE)]
    values += [v.removeprefix("0x") for v in values]
    redact = Redactor(v for v in values if len(v) >= 8)
    return [Check(ch.name, ch.ok, redact(ch.detail), redact(ch.fix)) for ch in checks]
