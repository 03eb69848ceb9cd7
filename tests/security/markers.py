# Marker secrets and the scanner the secrets tests use: every form a secret could leak in (as
# given, without 0x, base64 alphabets and padding, its decoded bytes raw and as hex), searched
# in bytes, in text, and in the decoded rows of Parquet files (whose pages may be compressed).
#
# Rules: a hit reports where and which marker, never the value itself (a failing test must not
# print the secret it caught either); forms shorter than 12 bytes are not searched (too likely
# to match by chance; no real secret is that short).
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from polyarb.venues.polymarket.credentials import ApiCredentials

MIN_FORM = 12
# Our own marker API credentials: distinctive, and the secret is valid URL-safe base64 as the
# loader demands (its decoded bytes are a marker too).
MARKER_API_KEY = "mk-apikey-7f3c9e21-polyarb-secrets-test"
MARKER_SECRET = base64.urlsafe_b64encode(b"MARKER-SECRET-BYTES-polyarb-0042!").decode()
MARKER_PASSPHRASE = "mk-passphrase-4b8d2a6f-polyarb-secrets-test"


def _b64_forms(text: str) -> list[bytes]:
    body = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return []
    std = base64.b64encode(raw)
    return [raw, raw.hex().encode(), std, std.rstrip(b"="), body.encode(),
            base64.urlsafe_b64encode(raw)]


def secret_forms(value: str) -> list[bytes]:
    """Every byte string under which `value` counts as leaked."""
    forms = [value.encode(), value.removeprefix("0x").encode()]
    hexed = value.removeprefix("0x")
    if len(hexed) % 2 == 0 and all(ch in "0123456789abcdefABCDEF" for ch in hexed):
        forms += [hexed.lower().encode(), hexed.upper().encode(), bytes.fromhex(hexed)]
    forms += _b64_forms(value)
    return [f for f in dict.fromkeys(forms) if len(f) >= MIN_FORM]


@dataclass
class Markers:
    """Named secrets to look for, with all their forms."""

    forms: dict[str, list[bytes]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        self.forms[name] = secret_forms(value)

    def add_api(self, prefix: str, api: ApiCredentials) -> None:
        self.add(f"{prefix} api key", api.api_key.reveal())
        self.add(f"{prefix} secret", api.secret.reveal())
        self.add(f"{prefix} passphrase", api.passphrase.reveal())
        self.forms[f"{prefix} hmac key"] = [api.hmac_key, api.hmac_key.hex().encode()]

    def hits(self, blob: bytes | str, where: str) -> list[str]:
        """`where: marker name` for each marker found in blob (values never shown)."""
        data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
        lowered = data.lower()
        return [f"{where}: {name}" for name, forms in self.forms.items()
                if any(f in data or f.lower() in lowered for f in forms)]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def parquet_text(path: Path) -> str:
    """Every row of a Parquet file as text (decompressed, decoded)."""
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    finally:
        con.close()
    return "\n".join(repr(row) for row in rows)


def scan_tree(markers: Markers, root: Path) -> tuple[list[str], int]:
    """Hits in every file under root (Parquet also row by row); returns (hits, files scanned)."""
    found: list[str] = []
    files = files_under(root)
    for path in files:
        where = str(path.relative_to(root))
        found += markers.hits(path.read_bytes(), where)
        if path.suffix == ".parquet":
            found += markers.hits(parquet_text(path), where + " (rows)")
    return found, len(files)


def scan_texts(markers: Markers, texts: Iterable[tuple[str, str]]) -> list[str]:
    """Hits in (where, text) pairs."""
    return [hit for where, text in texts for hit in markers.hits(text, where)]
