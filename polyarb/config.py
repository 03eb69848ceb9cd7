# polyarb.toml: the run's whole configuration in one frozen, hashable value.
#
# Rules:
# 1. Every knob lives here: the run (venue, journal directory, timers), venue URLs, market
#    selection, the simulator, paper trading, journal durability, shutdown, and the engine.
#    `[engine]` and its sub-tables map exactly onto polyarb.core.config.EngineConfig's nested
#    structs ([engine.detection], [engine.breaker], [engine.risk], [engine.execution],
#    [engine.execution.unwind], [engine.detection.fees_override]) with the same field names.
# 2. Unknown keys are errors naming the key's dotted path; a float under [engine] is an error
#    (exact numbers only); a secret-looking key is refused, naming the key and never the value.
#    Secrets come only from the environment (POLYMARKET_*) or the file `[venue]
#    credentials_file` points at; they never enter a RunConfig.
# 3. The effective config (file + command-line overrides) is journaled in RunStarted: `config`
#    holds canonical JSON (sorted keys, every field present) of the redacted RunConfig, and
#    `config_hash` its SHA-256. The engine's config sits under the stable top-level key
#    "engine", byte for byte EngineConfig.canonical_json(); `engine_config_of` reads it back.
# 4. Loading reads the file and nothing else: no environment, no network. The CLI passes the
#    environment separately to whatever needs credentials.
from __future__ import annotations

import hashlib
import tomllib
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from polyarb.config_check import (
    ConfigError,
    describe_validation,
    refuse_floats,
    refuse_secrets,
    refuse_unknown,
    toml_problem,
)
from polyarb.core.config import EngineConfig

__all__ = [
    "DEFAULT_PATH",
    "ConfigError",
    "JournalSection",
    "MarketsSection",
    "PaperSection",
    "RunConfig",
    "RunSection",
    "ShutdownSection",
    "SimSection",
    "VenueSection",
    "engine_config_of",
    "load_config",
    "parse_config",
]

DEFAULT_PATH = "polyarb.toml"
MIN_CHECKPOINT = 10_000  # journal.checkpoint_every_records, when on
VenueName = Literal["sim", "paper", "live"]


class RunSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[run]: what to trade on and the shell's timers."""

    venue: VenueName = "sim"
    journal_dir: str = "journal"
    tick_ms: int = 200  # ClockTick period
    status_hz: int = 4  # status panel refreshes per second
    log_interval_s: int = 10  # status log line period (--quiet or no TTY)

    def __post_init__(self) -> None:
        if not 10 <= self.tick_ms <= 10_000:
            raise ValueError("run.tick_ms must be within 10..10000")
        if not 1 <= self.status_hz <= 30 or self.log_interval_s < 1:
            raise ValueError("run.status_hz must be within 1..30 and run.log_interval_s >= 1")


class VenueSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[venue]: the live venue's endpoints and connection knobs (the simulator sets its own)."""

    clob_url: str = "https://clob.polymarket.com"
    ws_market_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    ws_user_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    gamma_url: str = "https://gamma-api.polymarket.com"
    chain_id: int = 137
    credentials_file: str = ""  # NAME=value file with POLYMARKET_* (chmod 600); "" = environment
    heartbeat_interval_s: int = 5
    tokens_per_connection: int = 200
    request_timeout_s: int = 10

    def __post_init__(self) -> None:
        for name, schemes in (("clob_url", ("http", "https")), ("gamma_url", ("http", "https")),
                              ("ws_market_url", ("ws", "wss")), ("ws_user_url", ("ws", "wss"))):
            url = urllib.parse.urlsplit(getattr(self, name))
            try:
                url.port  # noqa: B018 (raises on a port outside 0..65535; redacted() reads it)
            except ValueError:
                raise ValueError(f"venue.{name} has a bad port") from None
            if url.scheme not in schemes or not url.hostname:
                raise ValueError(f"venue.{name} must be a {' or '.join(schemes)} URL")
        if self.heartbeat_interval_s < 1 or self.request_timeout_s < 1:
            raise ValueError("venue.heartbeat_interval_s and venue.request_timeout_s must be >= 1")


class MarketsSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[markets]: which markets to load and subscribe (polyarb.venues.polymarket.discovery).

    Filters count units: a binary market, or a whole neg-risk event (a basket over part of an
    event is no arbitrage). `condition_ids` keeps the units holding those markets; the volume
    and liquidity filters need Gamma (the live venue), the simulator serves only the CLOB.
    """

    condition_ids: tuple[str, ...] = ()
    slugs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_volume: str = ""  # dollars, a decimal string ("10000"); "" = no filter
    min_liquidity: str = ""
    limit: int = 200  # units; 0 = no limit
    include_closed: bool = False

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError("markets.limit must be >= 0 (0: no limit)")
        for cid in self.condition_ids:
            if not (cid.startswith("0x") and len(cid) == 66):
                raise ValueError("markets.condition_ids holds ids of the form 0x + 64 hex digits")
        for name in ("min_volume", "min_liquidity"):
            if getattr(self, name) and not _is_amount(getattr(self, name)):
                raise ValueError(f"markets.{name} must be a non-negative decimal string")


def _is_amount(text: str) -> bool:
    try:
        value = Decimal(text)
    except ArithmeticError:
        return False
    return value.is_finite() and value >= 0


class SimSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[sim]: the embedded simulator of `--venue sim`."""

    seed: int = 1
    markets: int = 10
    neg_risk_events: int = 2
    faults: str = ""  # e.g. "disconnect=0.001,http503=0.05" (docs/simulator.md, Faults)

    def __post_init__(self) -> None:
        if self.markets < 0 or self.neg_risk_events < 0:
            raise ValueError("sim.markets and sim.neg_risk_events must be >= 0")
        from polyarb.sim.server.config import parse_faults

        parse_faults(self.faults)  # FaultSpecError (a ValueError) names the bad part


class PaperSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[paper]: `--venue paper`, live market data with fills simulated locally."""

    latency_ms: int = 0  # an order meets the book as it stands this long after the decision
    collateral_micros: int = 10_000_000_000  # starting paper pUSD ($10,000)

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.collateral_micros < 0:
            raise ValueError("paper.latency_ms and paper.collateral_micros must be >= 0")


class JournalSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[journal]: durability policy (docs/journal-format.md, Durability), segment size and the
    mid-day state checkpoint cadence (a restart folds at most about that many records)."""

    durability: Literal["none", "batch", "always"] = "batch"
    batch_ms: int = 5
    batch_records: int = 1000
    segment_max_mb: int = 64
    checkpoint_every_records: int = 1_000_000  # 0 = day-roll checkpoints only

    def __post_init__(self) -> None:
        if self.batch_ms < 1 or self.batch_records < 1 or self.segment_max_mb < 1:
            raise ValueError("journal.batch_ms, batch_records and segment_max_mb must be >= 1")
        if self.checkpoint_every_records != 0 and self.checkpoint_every_records < MIN_CHECKPOINT:
            raise ValueError(
                f"journal.checkpoint_every_records must be 0 (off) or at least {MIN_CHECKPOINT:,}"
                " (a checkpoint is the whole engine state: megabytes with many books)")


class ShutdownSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[shutdown]: what Ctrl-C / SIGTERM does before the journal closes."""

    cancel_resting: bool = True  # cancel our resting orders at the venue
    response_timeout_s: int = 5  # longest wait for outstanding venue responses

    def __post_init__(self) -> None:
        if not 0 <= self.response_timeout_s <= 600:
            raise ValueError("shutdown.response_timeout_s must be within 0..600")


class RunConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The effective configuration of one run (rules 1-3)."""

    run: RunSection = RunSection()
    venue: VenueSection = VenueSection()
    markets: MarketsSection = MarketsSection()
    sim: SimSection = SimSection()
    paper: PaperSection = PaperSection()
    journal: JournalSection = JournalSection()
    shutdown: ShutdownSection = ShutdownSection()
    engine: EngineConfig = EngineConfig()

    def redacted(self) -> RunConfig:
        """This config with any credentials embedded in URLs masked (user:pass@host)."""
        v = self.venue
        urls = {name: _redact_url(getattr(v, name))
                for name in ("clob_url", "ws_market_url", "ws_user_url", "gamma_url")}
        return msgspec.structs.replace(self, venue=msgspec.structs.replace(v, **urls))

    def canonical_json(self) -> bytes:
        """The redacted config as canonical JSON: what RunStarted.config holds (rule 3)."""
        return msgspec.json.encode(self.redacted(), order="sorted")

    def config_hash(self) -> str:
        """SHA-256 hex of canonical_json(): RunStarted.config_hash."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def to_builtins(self) -> dict[str, Any]:
        """The redacted config as plain, sorted JSON-able data (for `polyarb config show`)."""
        data: dict[str, Any] = msgspec.json.decode(self.canonical_json())
        return data


def _redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"<redacted>@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def parse_config(text: str, source: str = DEFAULT_PATH) -> RunConfig:
    """Parse polyarb.toml text into a RunConfig (rule 2).

    Args:
        text: the TOML document.
        source: the file name used in error messages.

    Raises:
        ConfigError: invalid TOML, a secret-looking key, an unknown key, a float under
            [engine], a wrong type or an invalid value; the message names the key.
    """
    try:
        table = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, a 5000-digit int, [[[[...
        raise ConfigError(f"{source}: not valid TOML: {toml_problem(exc)}") from None
    refuse_secrets(table, source)
    refuse_unknown(table, RunConfig, source)
    engine = table.get("engine")
    if isinstance(engine, dict):
        refuse_floats(engine, source, "engine.")
    return _convert(table, source)


def _convert(table: dict[str, Any], source: str) -> RunConfig:
    try:
        return msgspec.convert(table, RunConfig)
    except msgspec.ValidationError as exc:
        raise describe_validation(exc, source) from None
    except ValueError as exc:  # a __post_init__ check (its message names the key)
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path | None = None, *, explicit: bool = False) -> RunConfig:
    """Load a config file; defaults when the file is absent and was not asked for explicitly.

    Args:
        path: the file (DEFAULT_PATH when None).
        explicit: the user named the file (`--config`): a missing file is then an error.

    Raises:
        ConfigError: the file is missing (when explicit), unreadable or invalid.
    """
    file = Path(DEFAULT_PATH if path is None else path)
    if not file.exists() and not explicit:
        return RunConfig()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{file}: cannot read the config file: {why}") from None
    return parse_config(text, str(file))


def with_overrides(config: RunConfig, **changes: Any) -> RunConfig:
    """Apply command-line options (None = keep) to a config; checks run again.

    Keys: venue, journal_dir, seed, condition_ids, detect_only.

    Raises:
        ConfigError: an override makes the config invalid.
    """
    c = {k: v for k, v in changes.items() if v is not None}
    table = msgspec.to_builtins(config)
    for key, section in (("venue", "run"), ("journal_dir", "run"), ("seed", "sim"),
                         ("condition_ids", "markets"), ("detect_only", "engine")):
        if key in c:
            table[section][key] = c.pop(key)
    if c:
        raise TypeError(f"unknown override(s): {', '.join(sorted(c))}")
    return _convert(table, "command line")


class _EngineOnly(msgspec.Struct):
    engine: EngineConfig


def engine_config_of(config_json: bytes | msgspec.Raw) -> EngineConfig:
    """The EngineConfig journaled in a RunStarted's `config` (rule 3).

    Raises:
        ConfigError: the JSON has no valid "engine" object.
    """
    try:
        return msgspec.json.decode(bytes(config_json), type=_EngineOnly).engine
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ConfigError(f"run_started config: no valid engine config: {exc}") from None
