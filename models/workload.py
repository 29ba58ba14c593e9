"""How much work one plan may ask for: the caps that every request and command share, and a deadline.

The caps bound a plan's work whatever the catalog's size: the roster holds at most MAX_ROSTER creators (the
reference campaign seeded 211; a budget that would buy more is answered with the largest roster and says so), the
Monte Carlo takes at most MAX_DRAWS draws, and the budget curve has CURVE_POINTS budgets whose rosters are capped
alike. Scoring the candidates is vectorised and grows with the catalog; everything after it grows with the caps.

A deadline (the service's MICROLIFT_REQUEST_DEADLINE) is checked between the steps of the work, so a request that
runs past it stops within a step and frees its thread.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

MAX_ROSTER = 1_000   # creators in one roster (each budget of the curve included)
MAX_DRAWS = 5_000    # Monte Carlo draws of one forecast
MIN_DRAWS = 100      # fewer cannot place a p10 or a p90
CURVE_POINTS = 9     # budgets of the budget-response curve, 0.25x to 4x the asked budget

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("microlift_deadline", default=None)


class DeadlineExceeded(TimeoutError):
    """The work ran past its deadline; `seconds` is the deadline it was given."""

    def __init__(self, seconds: float, stage: str):
        self.seconds, self.stage = seconds, stage
        super().__init__(f"the work took longer than its deadline of {seconds:g} s (stopped while {stage})")


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Work inside this block must finish within `seconds` (None or 0: no deadline)."""
    token = _deadline.set((time.monotonic() + seconds, seconds) if seconds else None)
    try:
        yield
    finally:
        _deadline.reset(token)


def check(stage: str) -> None:
    """Raise DeadlineExceeded when the current deadline has passed; `stage` says what was being done."""
    current = _deadline.get()
    if current is not None and time.monotonic() > current[0]:
        raise DeadlineExceeded(current[1], stage)
