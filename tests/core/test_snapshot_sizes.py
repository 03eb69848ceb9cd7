# A snapshot's size texts are converted by wire_fast._snapshot_size (not numbers.size_miss, to
# keep them out of the shared cache): it must give exactly size_micros's value, or defer to it
# (so a text the reference refuses still raises).
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polyarb.core import numbers
from polyarb.core.wire_fast import _snapshot_size

_texts = st.one_of(
    st.text(alphabet="0123456789.", max_size=22),
    st.text(alphabet="0123456789.eE+-_ \u0660\u00b2x", max_size=12),
    st.from_regex(r"\A[0-9]{1,12}(\.[0-9]{0,8})?\Z"),
)


def _outcome(fn: object, text: str) -> tuple[str, int | str]:
    try:
        return ("ok", fn(text))  # type: ignore[operator]
    except numbers.NumberError as exc:
        return ("error", exc.reason)


@given(text=_texts)
def test_snapshot_size_any_text_equals_size_micros(text: str) -> None:
    assert _outcome(_snapshot_size, text) == _outcome(numbers.size_micros, text)


def test_snapshot_size_usual_forms_exact_values() -> None:
    assert _snapshot_size("200") == 200_000_000
    assert _snapshot_size("219.217767") == 219_217_767
    assert _snapshot_size("4684.55") == 4_684_550_000
    assert _snapshot_size("5.") == 5_000_000
    assert _snapshot_size("007") == 7_000_000


def test_snapshot_size_leaves_the_shared_cache_alone() -> None:
    numbers.SIZES.pop("123.45", None)
    assert _snapshot_size("123.45") == 123_450_000
    assert "123.45" not in numbers.SIZES
