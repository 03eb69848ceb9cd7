# `polyarb run --venue live` and `--venue paper` pointed at a simulator started by the test: the
# live code path (Gamma-less discovery, credentials from the environment, L1-derived API keys,
# the confirmation gate) and paper trading (live data, local fills) on loopback. The simulator
# accepts the public dev key, which is worthless elsewhere.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polyarb.config import RunConfig
from polyarb.events import (
    MarketsLoaded,
    OpportunityBlocked,
    PlaceOrders,
    RunStarted,
    TradeUpdated,
)
from polyarb.journal import iter_records, verify_journal
from polyarb.runtime.backends import sim_scenario
from polyarb.sim.server import DEV_PRIVATE_KEY, ServerConfig, ServerThread, SimServer
from tests.runtime.conftest import polyarb


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """A simulator (default scenario) on a free loopback port, in a thread."""
    with ServerThread(SimServer(ServerConfig(port=0), sim_scenario(RunConfig()))) as server:
        yield server.url


def _config(tmp_path: Path, url: str) -> Path:
    ws = url.replace("http://", "ws://") + "/ws"
    path = tmp_path / "polyarb.toml"
    path.write_text(f'[venue]\nclob_url = "{url}"\nws_market_url = "{ws}/market"\n'
                    f'ws_user_url = "{ws}/user"\ngamma_url = "{url}/no-gamma"\n')
    return path


def test_run_live_detect_only_needs_no_keys_and_places_nothing(tmp_path: Path,
                                                               sim_url: str) -> None:
    journal = tmp_path / "j"

    done = polyarb("run", "--venue", "live", "--detect-only", "--duration", "4", "--quiet",
                   "--config", str(_config(tmp_path, sim_url)), "--journal-dir", str(journal))

    assert done.returncode == 0, done.stderr
    records = [r.event for r in iter_records(journal)]
    started = next(e for e in records if isinstance(e, RunStarted))
    loaded = next(e for e in records if isinstance(e, MarketsLoaded))
    assert started.venue == "live" and started.detect_only
    assert loaded.source == "clob" and loaded.markets
    assert not any(isinstance(e, PlaceOrders) for e in records)
    gates = {e.gate for e in records if isinstance(e, OpportunityBlocked)}
    assert gates <= {"detect_only"}
    assert verify_journal(journal).ok


def test_run_live_without_yes_and_no_terminal_is_not_confirmed(tmp_path: Path,
                                                               sim_url: str) -> None:
    journal = tmp_path / "j"

    done = polyarb("run", "--venue", "live", "--duration", "2", "--quiet",
                   "--config", str(_config(tmp_path, sim_url)), "--journal-dir", str(journal),
                   env={"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY})

    assert done.returncode == 1
    assert "LIVE trading on" in done.stderr and "daily loss $100.00" in done.stderr
    assert "needs --yes" in done.stderr
    assert DEV_PRIVATE_KEY[2:] not in done.stderr + done.stdout
    assert not any(isinstance(r.event, RunStarted) for r in iter_records(journal))


def test_run_live_with_yes_derives_api_keys_and_trades(tmp_path: Path, sim_url: str) -> None:
    journal = tmp_path / "j"

    done = polyarb("run", "--venue", "live", "--yes", "--duration", "6", "--quiet",
                   "--config", str(_config(tmp_path, sim_url)), "--journal-dir", str(journal),
                   env={"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY})

    assert done.returncode == 0, done.stderr
    assert DEV_PRIVATE_KEY[2:] not in done.stderr + done.stdout
    records = [r.event for r in iter_records(journal)]
    assert any(isinstance(e, RunStarted) and e.venue == "live" for e in records)
    assert any(isinstance(e, PlaceOrders) for e in records)
    assert verify_journal(journal).ok


def test_run_paper_trades_live_data_with_local_fills_and_no_keys(tmp_path: Path,
                                                                 sim_url: str) -> None:
    journal = tmp_path / "j"

    done = polyarb("run", "--venue", "paper", "--duration", "6", "--quiet",
                   "--config", str(_config(tmp_path, sim_url)), "--journal-dir", str(journal))

    assert done.returncode == 0, done.stderr
    records = [r.event for r in iter_records(journal)]
    assert any(isinstance(e, RunStarted) and e.venue == "paper" for e in records)
    placed = [e for e in records if isinstance(e, PlaceOrders)]
    fills = [e for e in records if isinstance(e, TradeUpdated) and e.status == "MATCHED"]
    assert placed and fills
    assert verify_journal(journal).ok


def test_run_live_with_refused_api_credentials_exits_1_before_trading(tmp_path: Path,
                                                                      sim_url: str) -> None:
    journal = tmp_path / "j"
    env = {"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY,
           "POLYMARKET_API_KEY": "11111111-2222-3333-4444-555555555555",
           "POLYMARKET_API_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
           "POLYMARKET_API_PASSPHRASE": "not-the-passphrase"}

    done = polyarb("run", "--venue", "live", "--yes", "--duration", "4", "--quiet",
                   "--config", str(_config(tmp_path, sim_url)), "--journal-dir", str(journal),
                   env=env)

    assert done.returncode == 1, done.stderr  # as any venue that cannot be set up
    assert "refused the API credentials (http 401 Unauthorized)" in done.stderr
    assert "not-the-passphrase" not in done.stderr + done.stdout
    placed = [r for r in iter_records(journal) if isinstance(r.event, PlaceOrders)] \
        if journal.exists() else []
    assert placed == []
