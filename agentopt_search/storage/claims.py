"""The claim loop: which of the cells a round needs this worker may pay for, with a shared store.

The runner asks ``ClaimSource.next()`` for cells whenever its queue runs low. Each call claims up
to a chunk of cells — at least ``max(32, 4 * max_concurrency)``, more when evaluations are fast
(about ``CLAIM_S`` seconds of work at the rate cells got done here, at most 4,096) — from a window
at the front of the round's cells
that are neither observed nor already handed to the runner; cells other workers hold go to the back
of the line. When every remaining cell is held by another live worker it waits (0.25 s, doubling to
2 s) and claims again, merging what the others stored meanwhile. Each claim costs one transaction
proportional to the window and to what changed, whatever the size of the space.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

from ..state import Cell
from .base import Store

if TYPE_CHECKING:
    from ..recording import Recorder

__all__ = ["ClaimSource"]

POLL_S = (0.25, 2.0)
CLAIM_S = 0.25  # seconds of work one claim aims to cover
MAX_CHUNK = 4096


class ClaimSource:
    """Cells of one round this worker claimed (a ``runner.CellSource``)."""

    def __init__(self, cells: list[Cell], recorder: Recorder, store: Store, chunk: int) -> None:
        self.todo: deque[Cell] = deque(cells)
        self.rec, self.store, self.chunk = recorder, store, chunk
        self.handed: set[Cell] = set()
        self._rotated = 0  # cells moved to the back since the last claim that got something
        # (time, cells done here) at the previous claim
        self._last: tuple[float, int] | None = None

    def _chunk(self) -> int:
        """The base chunk, or about ``CLAIM_S`` seconds of work at the rate cells got done here."""
        now, done = time.monotonic(), self.rec.counts["paid"] + self.rec.counts["shared"]
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (done - self._last[1]) / (now - self._last[0])
        self._last = (now, done)
        return int(min(MAX_CHUNK, max(self.chunk, rate * CLAIM_S)))

    async def next(self) -> list[Cell] | None:
        wait = POLL_S[0]
        while True:
            chunk = self._chunk()
            window = self._window(4 * chunk)
            if not window or self.rec.state.budget_left() <= 0:
                return None  # every cell is observed or being evaluated here
            keys = {self.rec.key(c): c for c in window}
            stored, mine = await asyncio.to_thread(self.store.claim, list(keys), chunk)
            merged = self.rec.merge(stored, "other")
            cells = [keys[k] for k in mine if k in keys and not self.rec.observed(keys[k])]
            taken = set(cells)
            held = [c for c in window if c not in taken and not self.rec.observed(c)]
            self.todo.extend(held)  # others hold them (or beyond this chunk): look again later
            if cells:
                self.handed.update(cells)
                self._rotated = 0
                return cells
            self._rotated += len(held)
            if self._rotated >= len(self.todo):
                # a full pass found nothing free: wait for the others
                self._rotated = 0
                await asyncio.sleep(wait)
                wait = POLL_S[0] if merged else min(2 * wait, POLL_S[1])

    def _window(self, size: int) -> list[Cell]:
        out: list[Cell] = []
        while self.todo and len(out) < size:
            cell = self.todo.popleft()
            if cell not in self.handed and not self.rec.observed(cell):
                out.append(cell)
        return out
