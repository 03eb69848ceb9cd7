# Pausing CPython's cyclic garbage collector around one big, short allocation burst.
#
# Rules:
# 1. Only the shell uses it, only around work that allocates hundreds of thousands of container
#    objects at once and keeps them (a state checkpoint's snapshot and journal line, an engine
#    restored from one): each generation-0 collection on the way walks the young objects again,
#    which made a 10,000-token checkpoint ~5x slower (measured: snapshot 0.72 -> 0.14 s, the
#    line's JSON check 0.65 -> 0.11 s, bench/bench_restart.py).
# 2. Nothing is freed later than it would be: reference counting still frees everything that is
#    not in a cycle, and the collector resumes (if it was on) when the block ends, even on error.
# 3. Never nested around the event loop or anything that waits: a pause lasts one synchronous call.
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; restore its previous state afterwards."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
