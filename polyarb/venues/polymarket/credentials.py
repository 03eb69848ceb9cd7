# Polymarket credentials: private key, API key/secret/passphrase, funder and signature type.
#
# Rules:
# 1. No secret ever reaches a repr, a str, a log line or an exception message. Secrets live in
#    `Secret` (redacted repr, constant-time equality, refuses pickling), and nothing derived
#    from one is kept as a plain dataclass field (the HMAC key is decoded on use); errors name
#    the variable or the line number, never the value. Our errors are raised outside the `except`
#    block of the parser's exception, so that exception (whose message or `.object` may hold
#    the value) is not even kept as a suppressed `__context__`.
#    Even non-secret values (funder, signature type) are not echoed: a key pasted into the
#    wrong variable must not leak through that variable's error.
# 2. Reading the environment happens only through a mapping the caller passes (the CLI passes
#    os.environ), so tests and the simulator never touch the real environment.
# 3. Validation is eager: a bad key, secret, funder or signature type fails at load time with
#    a message saying what to fix, not at the first order.
# 4. Signature types: 0 EOA (maker = signer = the key's address; a funder, if set, must be that
#    address), 1 POLY_PROXY and 2 POLY_GNOSIS_SAFE (maker = funder, the proxy or Safe holding
#    the funds, which must be set and differ from the key's address).
from __future__ import annotations

import base64
import binascii
import hmac
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket.signing import KeyFormatError, LocalSigner

ENV_PRIVATE_KEY: Final = "POLYMARKET_PRIVATE_KEY"
ENV_API_KEY: Final = "POLYMARKET_API_KEY"
ENV_API_SECRET: Final = "POLYMARKET_API_SECRET"
ENV_API_PASSPHRASE: Final = "POLYMARKET_API_PASSPHRASE"
ENV_FUNDER: Final = "POLYMARKET_FUNDER"
ENV_SIGNATURE_TYPE: Final = "POLYMARKET_SIGNATURE_TYPE"
ENV_NAMES: Final = (
    ENV_PRIVATE_KEY,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_API_PASSPHRASE,
    ENV_FUNDER,
    ENV_SIGNATURE_TYPE,
)
_REDACTED: Final = "<redacted>"


class CredentialsError(ValueError):
    """Credentials are missing or malformed. The message never contains a secret value."""


def _fail(message: str) -> NoReturn:
    raise CredentialsError(message)


class Secret:
    """A secret string: `reveal()` returns it; repr/str show `<redacted>`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: pass it straight to the code that needs it, never to a log."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # a hash would be an oracle on the value

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self


def decode_api_secret(secret: str) -> bytes:
    """HMAC key bytes of an API secret: base64 (URL-safe or standard alphabet), padding optional.

    Raises:
        CredentialsError: not base64, or empty once decoded.
    """
    text = secret.strip().replace("+", "-").replace("/", "_").rstrip("=")
    if not text or any(ch not in _B64URL for ch in text):
        _fail("API secret must be URL-safe base64")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        pass
    _fail("API secret is not valid base64 (bad length)")  # raised outside: no __context__


_B64URL: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True, repr=False)
class ApiCredentials:
    """L2 API credentials (from POST /auth/api-key or GET /auth/derive-api-key).

    Every field is a Secret. The decoded HMAC key is deliberately not a field: `hmac_key`
    decodes it from the secret on each use, so dataclasses.asdict/fields, copies and pickles
    never hold the key bytes in the clear (rule 1).
    """

    api_key: Secret
    secret: Secret
    passphrase: Secret

    def __post_init__(self) -> None:
        for name in ("api_key", "secret", "passphrase"):
            value = getattr(self, name)
            if not isinstance(value, Secret) or not value.reveal().strip():
                _fail(f"API {name} must be a non-empty Secret")
            if value.reveal() != value.reveal().strip() or not value.reveal().isprintable():
                _fail(f"API {name} has whitespace or control characters")
        decode_api_secret(self.secret.reveal())  # eager (rule 3): a bad secret fails here

    @property
    def hmac_key(self) -> bytes:
        """The HMAC key: the API secret base64-decoded (pass it to the signer, never a log)."""
        return decode_api_secret(self.secret.reveal())

    @classmethod
    def of(cls, api_key: str, secret: str, passphrase: str) -> ApiCredentials:
        """Credentials from three plain strings."""
        return cls(api_key=Secret(api_key), secret=Secret(secret), passphrase=Secret(passphrase))

    def __repr__(self) -> str:
        return f"ApiCredentials(api_key={_REDACTED}, secret={_REDACTED}, passphrase={_REDACTED})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, repr=False)
class PolymarketCredentials:
    """Everything needed to sign orders (L1) and authenticate trading requests (L2)."""

    private_key: Secret
    signature_type: int = c.EOA
    funder: str | None = None
    api: ApiCredentials | None = None
    address: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", self.signer().address)
        if self.signature_type not in c.SIGNATURE_TYPES:
            _fail("signature type must be 0 (EOA), 1 (POLY_PROXY) or 2 (POLY_GNOSIS_SAFE)")
        if self.funder is not None:
            object.__setattr__(self, "funder", _checked_funder(self.funder))
        _check_funder_rule(self.signature_type, self.funder, self.address)

    def signer(self) -> LocalSigner:
        """A signer for the private key.

        Raises:
            CredentialsError: the key is malformed (message names the problem, not the key).
        """
        if not isinstance(self.private_key, Secret):
            _fail("private key must be given as a Secret")
        try:
            return LocalSigner.from_hex(self.private_key.reveal())
        except KeyFormatError as exc:
            message = str(exc)  # KeyFormatError messages never hold the key
        _fail(message)

    @property
    def maker(self) -> str:
        """The address that holds funds and is the orders' maker."""
        return self.address if self.funder is None else self.funder

    def require_api(self) -> ApiCredentials:
        """The L2 API credentials, or a CredentialsError saying which variables to set."""
        if self.api is None:
            names = f"{ENV_API_KEY}, {ENV_API_SECRET} and {ENV_API_PASSPHRASE}"
            _fail(f"API credentials are not set ({names})")
        return self.api

    def __repr__(self) -> str:
        kind = c.SIGNATURE_TYPE_NAMES.get(self.signature_type, "?")
        api = "<set>" if self.api is not None else "None"
        return (f"PolymarketCredentials(address={self.address}, signature_type={kind}, "
                f"funder={self.funder}, private_key={_REDACTED}, api={api})")

    __str__ = __repr__


def _checked_funder(funder: str) -> str:
    try:
        return c.to_checksum_address(funder)
    except ValueError:
        pass  # its message echoes the value, which may be a mis-filed key
    _fail("funder must be a 0x address (40 hex digits, valid checksum)")


def _check_funder_rule(signature_type: int, funder: str | None, address: str) -> None:
    if signature_type == c.EOA:
        if funder is not None and funder != address:
            _fail("with signature type 0 (EOA) the funder must be the key's own address or unset")
        return
    name = c.SIGNATURE_TYPE_NAMES[signature_type]
    if funder is None:
        _fail(f"signature type {signature_type} ({name}) needs a funder: the proxy/Safe address")
    if funder == address:
        _fail(f"signature type {signature_type} ({name}) needs the proxy/Safe address as "
              "funder, not the key's own address")


def _parse_signature_type(text: str | None) -> int:
    if text is None:
        return c.EOA
    names = {name: code for code, name in c.SIGNATURE_TYPE_NAMES.items()}
    value = text.strip().upper()
    if value in names:
        return names[value]
    if value in ("0", "1", "2"):
        return int(value)
    _fail(f"{ENV_SIGNATURE_TYPE} must be 0, 1 or 2 (or EOA, POLY_PROXY, POLY_GNOSIS_SAFE)")


def load_credentials(env: Mapping[str, str]) -> PolymarketCredentials:
    """Build credentials from POLYMARKET_* variables in `env` (empty values count as unset).

    Args:
        env: a mapping such as os.environ (passed in by the CLI) or a parsed file.

    Raises:
        CredentialsError: missing private key, partial API credentials, or a malformed value.
    """
    values = {name: env.get(name, "").strip() or None for name in ENV_NAMES}
    key = values[ENV_PRIVATE_KEY]
    if key is None:
        _fail(f"{ENV_PRIVATE_KEY} is not set")
    api_names = (ENV_API_KEY, ENV_API_SECRET, ENV_API_PASSPHRASE)
    missing = [n for n in api_names if values[n] is None]
    if 0 < len(missing) < len(api_names):
        _fail(f"API credentials are partial: set {', '.join(missing)} too (or none of the three)")
    api = None
    if not missing:
        api = ApiCredentials.of(*(str(values[n]) for n in api_names))
    return PolymarketCredentials(
        private_key=Secret(key),
        signature_type=_parse_signature_type(values[ENV_SIGNATURE_TYPE]),
        funder=values[ENV_FUNDER],
        api=api,
    )


def parse_env_file(text: str) -> dict[str, str]:
    """Parse `NAME=value` lines (`export`, quotes, `#` comments and blank lines allowed).

    Raises:
        CredentialsError: a line that is not an assignment, an unknown or repeated name. The
            message gives the line number and, for names, the name; never a value.
    """
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            _fail(f"credentials file line {number}: expected NAME=value")
        if name not in ENV_NAMES:
            # Only a POLYMARKET_* name is echoed: anything else may be a pasted secret.
            shown = name if name.startswith("POLYMARKET_") else "(not a POLYMARKET_* name)"
            _fail(f"credentials file line {number}: unknown name {shown} (known: "
                  f"{', '.join(ENV_NAMES)})")
        if name in out:
            _fail(f"credentials file line {number}: {name} is set twice")
        out[name] = _unquote(value.strip(), number)
    return out


def _unquote(value: str, number: int) -> str:
    if value[:1] in ("'", '"'):
        if len(value) < 2 or value[-1] != value[0]:
            _fail(f"credentials file line {number}: unbalanced quotes")
        return value[1:-1]
    return value


def load_credentials_file(
    path: str | Path, *, check_permissions: bool = True
) -> PolymarketCredentials:
    """Load credentials from a `NAME=value` file with the POLYMARKET_* names.

    Args:
        path: the file; on POSIX it must not be readable by group or others (chmod 600).
        check_permissions: set False only where permissions are meaningless.

    Raises:
        CredentialsError: unreadable file, loose permissions, or bad content.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {exc.strerror}") from None
    if check_permissions and os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        _fail(f"credentials file {path} is accessible by group/others: run chmod 600 {path}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None  # the exception holds the whole file: never let it become a __context__
    if text is None:
        _fail(f"credentials file {path} is not UTF-8 text")
    return load_credentials(parse_env_file(text))
