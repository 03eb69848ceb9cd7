# repr(), str(), format() and serialisation of every object that holds a credential
# (credentials.py, l2auth.py, signing.py, and the clients built from them) show no secret:
# `<redacted>`, the public address, or an error that names only the type.
from __future__ import annotations

import copy
import json
import logging
import pickle
from collections.abc import Callable

import msgspec
import orjson
import pytest

from polyarb.sim.server import DEV_ADDRESS, DEV_PRIVATE_KEY
from polyarb.venues.polymarket.clob import ClobClient
from polyarb.venues.polymarket.credentials import (
    ApiCredentials,
    PolymarketCredentials,
    Secret,
    load_credentials,
)
from polyarb.venues.polymarket.l2auth import ApiKeyRecord, derive_api_credentials
from polyarb.venues.polymarket.order_builder import OrderBuilder
from polyarb.venues.polymarket.outcomes import Redactor
from polyarb.venues.polymarket.signing import LocalSigner
from tests.security.markers import (
    MARKER_API_KEY,
    MARKER_PASSPHRASE,
    MARKER_SECRET,
    Markers,
    scan_texts,
)

API = ApiCredentials.of(MARKER_API_KEY, MARKER_SECRET, MARKER_PASSPHRASE)
CREDS = load_credentials({"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY,
                          "POLYMARKET_API_KEY": MARKER_API_KEY,
                          "POLYMARKET_API_SECRET": MARKER_SECRET,
                          "POLYMARKET_API_PASSPHRASE": MARKER_PASSPHRASE})
DERIVED = derive_api_credentials(b"s" * 32, DEV_ADDRESS)


@pytest.fixture(scope="module")
def markers() -> Markers:
    found = Markers()
    found.add("private key", DEV_PRIVATE_KEY)
    found.add_api("marker", API)
    found.add_api("derived", DERIVED)
    return found


def _objects() -> dict[str, object]:
    return {
        "Secret": Secret(DEV_PRIVATE_KEY),
        "ApiCredentials": API,
        "ApiCredentials (derived)": DERIVED,
        "PolymarketCredentials": CREDS,
        "PolymarketCredentials (no api)": PolymarketCredentials(Secret(DEV_PRIVATE_KEY)),
        "LocalSigner": LocalSigner.from_hex(DEV_PRIVATE_KEY),
        "ApiKeyRecord": ApiKeyRecord(address=DEV_ADDRESS, credentials=API),
        "OrderBuilder": OrderBuilder.from_credentials(CREDS),
        "Redactor": Redactor([DEV_PRIVATE_KEY, MARKER_SECRET]),
    }


def _renderings(obj: object) -> list[str]:
    return [repr(obj), str(obj), f"{obj}", f"{obj!r}", f"{[obj]}", f"{ {'k': obj} }",
            "%s %r" % (obj, obj)]  # noqa: UP031 (the logging style, on purpose)


@pytest.mark.parametrize("name", sorted(_objects()))
def test_credential_object_repr_str_format_are_redacted(name: str, markers: Markers) -> None:
    obj = _objects()[name]

    texts = [(f"{name} rendering {i}", t) for i, t in enumerate(_renderings(obj))]

    assert scan_texts(markers, texts) == []


def test_credential_reprs_say_redacted_and_keep_the_address() -> None:
    assert repr(Secret("x" * 20)) == "Secret(<redacted>)"
    assert repr(API) == ("ApiCredentials(api_key=<redacted>, secret=<redacted>, "
                         "passphrase=<redacted>)")
    assert DEV_ADDRESS in repr(CREDS) and "private_key=<redacted>" in repr(CREDS)
    assert "api=<set>" in repr(CREDS)
    assert repr(LocalSigner.from_hex(DEV_PRIVATE_KEY)) == (
        f"LocalSigner(address={DEV_ADDRESS}, key=<redacted>)")


def test_clob_client_repr_is_redacted(markers: Markers) -> None:
    client = ClobClient(CREDS, base_url="http://127.0.0.1:9")

    texts = [("ClobClient", t) for t in _renderings(client)]
    texts += [("ClobClient.redact", repr(client.redact))]

    assert scan_texts(markers, texts) == []
    assert "api=<set>" in repr(client)


def test_logging_a_credential_object_logs_no_secret(markers: Markers,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("polyarb.test.security")

    for name, obj in _objects().items():
        log.debug("%s: %s %r", name, obj, obj)
        log.info("creds=%s", obj)

    assert len(caplog.records) == 2 * len(_objects())
    assert scan_texts(markers, [("log", caplog.text)]) == []


SERIALISERS: dict[str, Callable[[object], object]] = {
    "pickle": pickle.dumps,
    "json": json.dumps,
    "orjson": orjson.dumps,
    "msgspec.json": msgspec.json.encode,
    "msgspec.msgpack": msgspec.msgpack.encode,
}


@pytest.mark.parametrize("how", sorted(SERIALISERS))
@pytest.mark.parametrize("name", ["Secret", "ApiCredentials", "PolymarketCredentials",
                                  "LocalSigner"])
def test_credential_objects_refuse_serialisation_without_echoing(
        how: str, name: str, markers: Markers) -> None:
    obj = _objects()[name]

    with pytest.raises((TypeError, pickle.PicklingError)) as info:
        SERIALISERS[how](obj)

    assert scan_texts(markers, [(f"{how} error", str(info.value))]) == []


def test_secret_copies_are_itself_and_compare_in_constant_time() -> None:
    secret = Secret(DEV_PRIVATE_KEY)

    assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret
    assert secret == Secret(DEV_PRIVATE_KEY) and secret != Secret(DEV_PRIVATE_KEY[:-1] + "1")
    with pytest.raises(TypeError):
        hash(secret)
