# The scenario's timeline: a priority queue of (due time, action) in virtual nanoseconds.
#
# Rules:
# 1. Ties break by insertion order (a counter), never by comparing actions, so the order of
#    simultaneous actions is fixed by the code path that scheduled them.
# 2. The queue knows nothing about what actions do; it stores (kind, index) pairs of ints.
# 3. An optional end: nothing due after `end_ns` is ever handed out (the scenario is done).
from __future__ import annotations

import heapq

Action = tuple[int, int, int]
"""(due_ns, kind, index)."""


class Schedule:
    """Actions in due-time order (rule 1), up to an optional end (rule 3)."""

    __slots__ = ("_heap", "_seq", "end_ns")

    def __init__(self, end_ns: int | None = None) -> None:
        self._heap: list[tuple[int, int, int, int]] = []
        self._seq = 0
        self.end_ns = end_ns

    def add(self, due_ns: int, kind: int, index: int) -> None:
        """Schedule action (kind, index) at due_ns."""
        self._seq += 1
        heapq.heappush(self._heap, (due_ns, self._seq, kind, index))

    def next_due(self) -> int | None:
        """Due time of the earliest action, or None when none is left before the end."""
        if not self._heap:
            return None
        due = self._heap[0][0]
        return None if self.end_ns is not None and due > self.end_ns else due

    def pop_due(self, now_ns: int) -> Action | None:
        """Remove and return the earliest action due at or before now_ns (and the end)."""
        heap = self._heap
        if not heap:
            return None
        due = heap[0][0]
        if due > now_ns or (self.end_ns is not None and due > self.end_ns):
            return None
        _, _, kind, index = heapq.heappop(heap)
        return due, kind, index

    def __len__(self) -> int:
        return len(self._heap)
