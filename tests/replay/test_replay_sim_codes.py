# The what-if simulator codes its rejections from the exchange's machine-readable code (never its
# message): kills are `killed`, a market not ready is `other`, the rest `invalid`.
from __future__ import annotations

import pytest

from polyarb.events.inputs import RejectCode
from polyarb.replay_sim import reject_code
from polyarb.sim import errors


@pytest.mark.parametrize(("sim_code", "code"), [
    (errors.FOK_NOT_FILLED, "killed"),
    (errors.FAK_NO_MATCH, "killed"),
    (errors.MARKET_NOT_READY, "other"),
    (errors.NOT_ENOUGH_BALANCE, "invalid"),
    (errors.MIN_TICK_SIZE, "invalid"),
    (errors.MARKET_CLOSED, "invalid"),
    ("", "invalid"),
])
def test_reject_code_maps_the_exchange_code(sim_code: str, code: RejectCode) -> None:
    assert reject_code(sim_code) == code
