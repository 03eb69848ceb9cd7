# No secret leaks: `polyarb run --venue live --yes` against a loopback simulator with marker
# credentials, then every journal file (also after `polyarb journal seal`, Parquet rows
# included), the run's stdout/stderr (its logging goes there), every report in every format,
# `polyarb config show` and `polyarb doctor` are scanned for every form of every marker.
#
# Two cases. Derived: only the private key is given (the simulator's DEV_PRIVATE_KEY, the only
# key it accepts); the engine derives its API credentials over L1, and what the simulator handed
# out is read back from it and scanned for too. Marker: POLYMARKET_API_KEY/SECRET/PASSPHRASE are
# our own marker strings, which the simulator rejects: the failure path must not leak them.
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.config import RunConfig
from polyarb.events import PlaceOrders, RunStarted
from polyarb.journal import iter_records, layout
from polyarb.reports.run_report import FORMATS, REPORTS, render, run_report
from polyarb.runtime.backends import sim_scenario
from polyarb.sim.server import DEV_PRIVATE_KEY, ServerConfig, ServerThread, SimServer
from polyarb.venues.polymarket.credentials import ApiCredentials
from tests.runtime.conftest import polyarb
from tests.security.markers import (
    MARKER_API_KEY,
    MARKER_PASSPHRASE,
    MARKER_SECRET,
    Markers,
    scan_texts,
    scan_tree,
)

MARKER_ENV = {"POLYMARKET_API_KEY": MARKER_API_KEY, "POLYMARKET_API_SECRET": MARKER_SECRET,
              "POLYMARKET_API_PASSPHRASE": MARKER_PASSPHRASE}


@dataclass
class Sim:
    url: str
    thread: ServerThread

    def issued(self) -> list[ApiCredentials]:
        """Every API credential the simulator has registered (derived for a wallet)."""
        return self.thread.call(
            lambda s: [r.credentials for r in s.venue.keys.by_key.values()])


@dataclass
class LiveRun:
    journal: Path
    config: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    thread = ServerThread(SimServer(ServerConfig(port=0), sim_scenario(RunConfig())))
    with thread as server:
        yield Sim(server.url, thread)


def _config(directory: Path, url: str) -> Path:
    ws = url.replace("http://", "ws://") + "/ws"
    path = directory / "polyarb.toml"
    path.write_text(f'[venue]\nclob_url = "{url}"\nws_market_url = "{ws}/market"\n'
                    f'ws_user_url = "{ws}/user"\ngamma_url = "{url}/no-gamma"\n')
    return path


def _live(directory: Path, url: str, env: dict[str, str], seconds: str = "6") -> LiveRun:
    directory.mkdir(parents=True, exist_ok=True)
    config, journal = _config(directory, url), directory / "journal"
    done = polyarb("run", "--venue", "live", "--yes", "--duration", seconds, "--quiet",
                   "--config", str(config), "--journal-dir", str(journal), env=env)
    return LiveRun(journal, config, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def derived_run(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    run = _live(tmp_path_factory.mktemp("derived"), sim.url,
                {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY})
    assert run.returncode == 0, run.stderr[-2000:]
    for day in layout.list_days(run.journal):
        sealed = polyarb("journal", "seal", str(run.journal / day))
        assert sealed.returncode == 0, sealed.stderr
    return run


@pytest.fixture(scope="module")
def markers(sim: Sim, derived_run: LiveRun) -> Markers:
    """The private key, our marker API credentials, and every credential the simulator
    derived (read after the run, so the engine's own derived keys are among them)."""
    found = Markers()
    found.add("private key", DEV_PRIVATE_KEY)
    key_hex = DEV_PRIVATE_KEY.removeprefix("0x")  # any 16 hex digits of it count as a leak
    found.forms["private key fragment"] = [key_hex[i:i + 16].encode()
                                           for i in range(len(key_hex) - 15)]
    found.add("marker api key", MARKER_API_KEY)
    found.add("marker secret", MARKER_SECRET)
    found.add("marker passphrase", MARKER_PASSPHRASE)
    issued = sim.issued()
    assert issued, "the simulator derived no API key: the run did not authenticate"
    for i, api in enumerate(issued):
        found.add_api(f"derived[{i}]", api)
    return found


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return done.exit_code, done.output


def test_secrets_live_run_trades_and_its_journal_holds_no_marker(derived_run: LiveRun,
                                                                 markers: Markers) -> None:
    events = [r.event for r in iter_records(derived_run.journal)]
    assert any(isinstance(e, RunStarted) and e.venue == "live" for e in events)
    assert any(isinstance(e, PlaceOrders) for e in events)  # L2-authenticated orders went out

    hits, files = scan_tree(markers, derived_run.journal)
    outputs = scan_texts(markers, [("run stdout", derived_run.stdout),
                                   ("run stderr (logging)", derived_run.stderr)])

    assert files >= 4 and any(p.suffix == ".parquet" for p in derived_run.journal.rglob("*"))
    assert hits == [] and outputs == []


def test_secrets_every_report_in_every_format_holds_no_marker(derived_run: LiveRun,
                                                              markers: Markers) -> None:
    root = str(derived_run.journal)
    placed = next(r.event for r in iter_records(derived_run.journal)
                  if isinstance(r.event, PlaceOrders))
    texts = []
    for name in REPORTS:
        extra = [placed.orders[0].client_order_id] if name == "audit" else []
        code, out = _cli("report", name, *extra, "--journal-dir", root)  # what a user types
        assert code == 0, out
        texts.append((f"report {name}", out))
        result = run_report(name, [root], order_id=extra[0] if extra else None)
        texts += [(f"report {name} as {fmt}", render(result, fmt)) for fmt in FORMATS]

    assert scan_texts(markers, texts) == []


def test_secrets_config_show_and_doctor_hold_no_marker(sim: Sim, derived_run: LiveRun,
                                                       markers: Markers) -> None:
    ws = sim.url.replace("http://", "ws://") + "/ws"
    texts = []
    for env in ({"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY},
                {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, **MARKER_ENV}):
        for fmt in ([], ["--json"]):
            code, out = _cli("config", "show", "--config", str(derived_run.config), *fmt,
                             env=env)
            assert code == 0, out
            texts.append((f"config show {fmt}", out))
        done = polyarb("doctor", "--clob-url", sim.url, "--ws-url", ws, "--timeout", "5",
                       env=env)
        assert "PASS private key" in done.stdout or "private key" in done.stdout, done.stdout
        texts += [("doctor stdout", done.stdout), ("doctor stderr", done.stderr)]

    assert "<redacted>" in texts[0][1]
    assert scan_texts(markers, texts) == []


def test_secrets_marker_api_credentials_fail_auth_without_leaking(
        sim: Sim, markers: Markers, tmp_path: Path) -> None:
    run = _live(tmp_path, sim.url, {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY, **MARKER_ENV},
                seconds="4")

    texts = [("run stdout", run.stdout), ("run stderr", run.stderr)]
    hits, _ = scan_tree(markers, run.journal) if run.journal.exists() else ([], 0)

    assert "Unauthorized" in run.stderr  # the 401 path ran (and was logged)
    assert scan_texts(markers, texts) == [] and hits == []


def test_secrets_scanner_finds_planted_markers_in_every_form(tmp_path: Path,
                                                             markers: Markers) -> None:
    import base64

    import duckdb

    raw_secret = base64.urlsafe_b64decode(MARKER_SECRET)
    (tmp_path / "a.ndjson").write_text('{"k":"' + DEV_PRIVATE_KEY[2:].upper() + '"}\n')
    (tmp_path / "b.bin").write_bytes(b"xx" + raw_secret + b"yy")
    (tmp_path / "c.txt").write_text(base64.b64encode(raw_secret).decode().rstrip("="))
    con = duckdb.connect()
    con.execute("COPY (SELECT ? AS p FROM range(500)) TO '" + str(tmp_path / "d.parquet")
                + "' (FORMAT parquet, COMPRESSION zstd)", [MARKER_PASSPHRASE])
    con.close()

    hits, files = scan_tree(markers, tmp_path)

    assert files == 4
    assert {"a.ndjson: private key", "b.bin: marker secret", "c.txt: marker secret",
            "d.parquet (rows): marker passphrase"} <= set(hits)
