"""Pacing a recording by its timestamps: `speed`× the wall clock, 0 as fast as it reads.

Its own module because two sources pace what they give: the replay (each file from its own first timestamp) and
the simulator; the simulator took it from the replay's module, and loaded the replay's CSV reading with it.
"""
from __future__ import annotations

import threading
import time


#: The longest single wait of a Pacer: a record due later is waited for in steps of it. threading's waits refuse a
#: timeout past TIMEOUT_MAX (~292 years on Linux): a slow `speed` (1e-9: an hour of data took that long) made the
#: second record's wait raise OverflowError, and the source ended, `run` with exit 3 (review38).
PACER_STEP_S = 3600.0


class Pacer:
    """Sleeps so that timestamps pass at `speed`× the wall clock; speed 0 never sleeps.

    The first paced timestamp is the anchor. wait() returns False when `stop` was set.
    """

    def __init__(self, speed: float, stop: threading.Event):
        self.speed = speed
        self.stop = stop
        self.anchor: tuple[float, float] | None = None   # (timestamp, wall clock)

    def wait(self, ts: float) -> bool:
        if self.stop.is_set():
            return False
        if self.speed <= 0:
            return True
        if self.anchor is None:
            self.anchor = (ts, time.monotonic())
            return True
        due = self.anchor[1] + (ts - self.anchor[0]) / self.speed
        while (delay := due - time.monotonic()) > 0:
            if self.stop.wait(min(delay, PACER_STEP_S)):
                return False
        return True
