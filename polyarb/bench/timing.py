# Timing runs of one callable for the benchmarks: wall seconds (perf_counter) and CPU seconds of
# this process (process_time, all threads), run by run.
#
# Rules: an optional warm-up run is never measured; callers pick the statistic (best, median).
# CPU seconds are reported next to wall time because they are steadier on a shared machine.
from __future__ import annotations

import time
from collections.abc import Callable


def wall_and_cpu(fn: Callable[[], object], repeats: int,
                 warmup: bool = False) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of `repeats` (>= 1) runs of fn, after a warm-up if asked."""
    if warmup:
        fn()
    walls, cpus = [], []
    for _ in range(max(repeats, 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus
