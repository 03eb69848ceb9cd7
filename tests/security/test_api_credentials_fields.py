# ApiCredentials seen through the dataclass machinery: its fields are Secrets only, so asdict,
# fields, copies, replace and pickling never expose the API key, secret, passphrase or the
# decoded HMAC key bytes (which are computed on use, never stored as a field).
from __future__ import annotations

import base64
import copy
import dataclasses
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.venues.polymarket.credentials import ApiCredentials, Secret, decode_api_secret
from tests.security.markers import (
    MARKER_API_KEY,
    MARKER_PASSPHRASE,
    MARKER_SECRET,
    Markers,
    scan_texts,
)

API = ApiCredentials.of(MARKER_API_KEY, MARKER_SECRET, MARKER_PASSPHRASE)


def _markers(api: ApiCredentials = API) -> Markers:
    found = Markers()
    found.add_api("marker", api)
    return found


def _texts(obj: object) -> list[str]:
    return [repr(obj), str(obj), f"{obj}", f"{obj!r}", format(obj, ""), f"{[obj]}",
            "%s %r" % (obj, obj)]  # noqa: UP031 (the logging style, on purpose)


def test_api_credentials_fields_are_the_three_secrets_only() -> None:
    names = [f.name for f in dataclasses.fields(ApiCredentials)]

    assert names == ["api_key", "secret", "passphrase"]
    assert all(isinstance(getattr(API, name), Secret) for name in names)


def test_api_credentials_asdict_holds_no_secret_in_the_clear() -> None:
    as_dict = dataclasses.asdict(API)
    as_tuple = dataclasses.astuple(API)

    assert sorted(as_dict) == ["api_key", "passphrase", "secret"]
    assert all(isinstance(v, Secret) for v in [*as_dict.values(), *as_tuple])
    texts = [(f"asdict {i}", t) for i, t in enumerate(_texts(as_dict) + _texts(as_tuple))]
    assert scan_texts(_markers(), texts) == []


def test_api_credentials_repr_str_format_hold_no_secret() -> None:
    texts = [(f"rendering {i}", t) for i, t in enumerate(_texts(API))]

    assert scan_texts(_markers(), texts) == []


def test_api_credentials_pickle_refused_without_echoing_a_secret() -> None:
    with pytest.raises((TypeError, pickle.PicklingError)) as info:
        pickle.dumps(API)

    assert scan_texts(_markers(), [("pickle error", str(info.value))]) == []


def test_api_credentials_copy_and_replace_keep_the_key_derivable_not_stored() -> None:
    copies = [copy.copy(API), copy.deepcopy(API), dataclasses.replace(API)]

    for other in copies:
        assert other == API and other.hmac_key == API.hmac_key
        assert not hasattr(other, "__dict__")  # slots: no place for a cached key
        assert scan_texts(_markers(), [("copy", t) for t in _texts(other)]) == []


def test_api_credentials_hmac_key_is_the_decoded_secret() -> None:
    assert API.hmac_key == decode_api_secret(MARKER_SECRET)


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=16, max_size=48))
def test_api_credentials_any_secret_never_rendered_or_in_asdict(key: bytes) -> None:
    api = ApiCredentials.of(MARKER_API_KEY, base64.urlsafe_b64encode(key).decode(),
                            MARKER_PASSPHRASE)
    texts = _texts(api) + _texts(dataclasses.asdict(api))

    assert scan_texts(_markers(api), [(f"text {i}", t) for i, t in enumerate(texts)]) == []
