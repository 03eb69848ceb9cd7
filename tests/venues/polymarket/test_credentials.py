# Credentials never leak: marker secrets are loaded, printed, broken and mis-filed, and the
# markers must never show up in a repr, a str or a full formatted traceback. Also the loader's
# rules (signature types, funder, partial API credentials, the file format and permissions).
from __future__ import annotations

import base64
import copy
import os
import pickle
import traceback
from pathlib import Path

import pytest

from polyarb.venues.polymarket import credentials as cr
from polyarb.venues.polymarket.order_builder import OrderBuilder
from polyarb.venues.polymarket.signing import LocalSigner

KEY_MARK = "5ec7e7"
KEY = "0x" + KEY_MARK * 10 + "abcd"
API_KEY = "apikeymark-0000-4000-8000-000000000000"
SECRET = base64.urlsafe_b64encode(b"secretmark" * 3).decode()
PASSPHRASE = "passphrasemark" + "0" * 20
FUNDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
MARKERS = (KEY_MARK, KEY[2:], "apikeymark", SECRET[:12], "passphrasemark")


def _env(**overrides: str) -> dict[str, str]:
    env = {
        cr.ENV_PRIVATE_KEY: KEY,
        cr.ENV_API_KEY: API_KEY,
        cr.ENV_API_SECRET: SECRET,
        cr.ENV_API_PASSPHRASE: PASSPHRASE,
        cr.ENV_FUNDER: FUNDER,
        cr.ENV_SIGNATURE_TYPE: "2",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def _assert_clean(text: str) -> None:
    leaked = [m for m in MARKERS if m in text]
    assert not leaked, f"secret marker leaked: {leaked}"


def _rendered(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_load_credentials_full_env_loads_everything() -> None:
    # Act
    creds = cr.load_credentials(_env())

    # Assert
    assert creds.signature_type == 2 and creds.funder == FUNDER and creds.maker == FUNDER
    assert creds.address == LocalSigner.from_hex(KEY).address
    assert creds.require_api().api_key.reveal() == API_KEY
    assert creds.private_key.reveal() == KEY


def test_credentials_repr_and_str_hide_every_secret() -> None:
    # Arrange
    creds = cr.load_credentials(_env())
    api = creds.require_api()

    # Act
    texts = [repr(creds), str(creds), f"{creds}", repr(api), str(api), repr(creds.private_key),
             f"{api.secret}", repr(creds.signer()), repr(OrderBuilder.from_credentials(creds)),
             repr(vars(creds) if hasattr(creds, "__dict__") else creds.__slots__)]

    # Assert
    for text in texts:
        _assert_clean(text)
    assert "<redacted>" in repr(creds) and FUNDER in repr(creds)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({cr.ENV_PRIVATE_KEY: KEY[:-1]}, "64 hex digits"),
        ({cr.ENV_PRIVATE_KEY: KEY + "00"}, "64 hex digits"),
        ({cr.ENV_PRIVATE_KEY: KEY[:-1] + "x"}, "non-hex"),
        ({cr.ENV_PRIVATE_KEY: "<unset>"}, "POLYMARKET_PRIVATE_KEY is not set"),
        ({cr.ENV_PRIVATE_KEY: "  "}, "POLYMARKET_PRIVATE_KEY is not set"),
        ({cr.ENV_SIGNATURE_TYPE: KEY}, "must be 0, 1 or 2"),
        ({cr.ENV_SIGNATURE_TYPE: "3"}, "must be 0, 1 or 2"),
        ({cr.ENV_FUNDER: KEY}, "funder must be a 0x address"),
        ({cr.ENV_FUNDER: KEY[:41]}, "funder must be a 0x address"),
        ({cr.ENV_API_SECRET: "<unset>"}, "partial: set POLYMARKET_API_SECRET"),
        ({cr.ENV_API_SECRET: SECRET + "!"}, "URL-safe base64"),
        ({cr.ENV_API_SECRET: SECRET[:-1] + "A" * 2}, "bad length"),
        ({cr.ENV_API_PASSPHRASE: PASSPHRASE + "\x00"}, "control characters"),
        ({cr.ENV_FUNDER: "<unset>"}, "needs a funder"),
    ],
)
def test_load_credentials_bad_value_error_has_no_secret(
    overrides: dict[str, str], message: str
) -> None:
    # Act
    with pytest.raises(cr.CredentialsError, match=message) as info:
        cr.load_credentials(_env(**overrides))

    # Assert
    _assert_clean(_rendered(info.value))
    _assert_no_chained_secret(info.value)


def _assert_no_chained_secret(exc: BaseException) -> None:
    """Even suppressed causes/contexts must be clean: some loggers print them anyway."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        _assert_clean(_rendered(seen) + repr(getattr(seen, "object", "")))
        seen = seen.__cause__ or seen.__context__


@pytest.mark.parametrize(("value", "expected"),
                         [("0", 0), ("1", 1), ("2", 2), ("eoa", 0), ("POLY_PROXY", 1),
                          (" poly_gnosis_safe ", 2)])
def test_load_credentials_signature_type_spellings_accepted(value: str, expected: int) -> None:
    # Arrange
    funder = "<unset>" if expected == 0 else FUNDER

    # Act
    creds = cr.load_credentials(_env(**{cr.ENV_SIGNATURE_TYPE: value, cr.ENV_FUNDER: funder}))

    # Assert
    assert creds.signature_type == expected


def test_load_credentials_eoa_funder_rules_enforced() -> None:
    # Arrange
    own = LocalSigner.from_hex(KEY).address

    # Act
    same = cr.load_credentials(_env(**{cr.ENV_SIGNATURE_TYPE: "0", cr.ENV_FUNDER: own.lower()}))

    # Assert
    assert same.funder == own and same.maker == own
    with pytest.raises(cr.CredentialsError, match="must be the key's own address"):
        cr.load_credentials(_env(**{cr.ENV_SIGNATURE_TYPE: "0"}))
    with pytest.raises(cr.CredentialsError, match="not the key's own address"):
        cr.load_credentials(_env(**{cr.ENV_SIGNATURE_TYPE: "1", cr.ENV_FUNDER: own}))


def test_load_credentials_without_api_is_l1_only() -> None:
    # Arrange
    env = _env(**{n: "<unset>" for n in (cr.ENV_API_KEY, cr.ENV_API_SECRET,
                                         cr.ENV_API_PASSPHRASE)})

    # Act
    creds = cr.load_credentials(env)

    # Assert
    assert creds.api is None
    with pytest.raises(cr.CredentialsError, match="API credentials are not set"):
        creds.require_api()


def test_secret_equality_hash_pickle_copy_behave_safely() -> None:
    # Arrange
    secret = cr.Secret(PASSPHRASE)

    # Act / Assert
    assert secret == cr.Secret(PASSPHRASE) and secret != cr.Secret("other")
    assert copy.deepcopy(secret) is secret and copy.copy(secret) is secret
    with pytest.raises(TypeError):
        hash(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        pickle.dumps(cr.load_credentials(_env()))


def _write(tmp_path: Path, text: str | bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "polymarket.env"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chmod(path, mode)
    return path


def test_load_credentials_file_dotenv_format_loads() -> None:
    # Arrange
    text = "\n".join([
        "# polymarket credentials", "",
        f"export {cr.ENV_PRIVATE_KEY}={KEY}",
        f"{cr.ENV_API_KEY}='{API_KEY}'",
        f'{cr.ENV_API_SECRET}="{SECRET}"',
        f"{cr.ENV_API_PASSPHRASE} = {PASSPHRASE}",
        f"{cr.ENV_FUNDER}={FUNDER}", f"{cr.ENV_SIGNATURE_TYPE}=POLY_GNOSIS_SAFE",
    ])

    # Act
    parsed = cr.parse_env_file(text)

    # Assert
    assert cr.load_credentials(parsed) == cr.load_credentials(_env())


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_load_credentials_file_permissions_and_content_checked(tmp_path: Path) -> None:
    # Arrange
    good = "\n".join(f"{k}={v}" for k, v in _env().items())

    # Act / Assert
    assert cr.load_credentials_file(_write(tmp_path, good)).funder == FUNDER
    with pytest.raises(cr.CredentialsError, match="chmod 600"):
        cr.load_credentials_file(_write(tmp_path, good, 0o644))
    assert cr.load_credentials_file(_write(tmp_path, good, 0o644), check_permissions=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (KEY, "line 1: expected NAME=value"),
        (f"{SECRET}", "line 1: "),
        (f"{SECRET[:-1]}={PASSPHRASE}", "not a POLYMARKET_\\* name"),
        (f"{cr.ENV_PRIVATE_KEY}={KEY}\n{cr.ENV_PRIVATE_KEY}={KEY}", "line 2: .* set twice"),
        (f"{cr.ENV_PRIVATE_KEY}='{KEY}", "unbalanced quotes"),
        (b"\xff\xfe" + KEY.encode(), "not UTF-8"),
        (f"{cr.ENV_PRIVATE_KEY}={KEY[:-2]}", "64 hex digits"),
    ],
)
def test_load_credentials_file_bad_content_error_has_no_secret(
    tmp_path: Path, text: str | bytes, message: str
) -> None:
    # Arrange
    path = _write(tmp_path, text)

    # Act
    with pytest.raises(cr.CredentialsError, match=message) as info:
        cr.load_credentials_file(path)

    # Assert
    _assert_clean(_rendered(info.value))
    _assert_no_chained_secret(info.value)


def test_load_credentials_file_missing_file_names_path(tmp_path: Path) -> None:
    # Act / Assert
    with pytest.raises(cr.CredentialsError, match="cannot read credentials file"):
        cr.load_credentials_file(tmp_path / "absent.env")
