"""A replay or simulation paced slower than any wait can be (review38): `speed: 1e-9` passed check-config (`speed`
is any number ≥ 0), and the second record's wait, past threading's TIMEOUT_MAX (~292 years), raised OverflowError
— the source ended, `run` with exit 3 (a source failed). The pacer now waits in steps (PACER_STEP_S): the record
waits as long as its speed says, and a stop still ends the wait at once."""
from __future__ import annotations

import threading
import time

import pytest

from agent.sources.pacer import Pacer


@pytest.mark.parametrize("speed", [1e-9, 1e-300])
def test_a_wait_past_any_timeout_waits_until_stopped(speed):
    stop = threading.Event()
    pacer = Pacer(speed, stop)
    assert pacer.wait(0.0)                  # the anchor
    stopper = threading.Timer(0.2, stop.set)    # the agent's stop, while the record waits (old code: it raised)
    stopper.start()
    started = time.monotonic()
    try:
        assert pacer.wait(30.0) is False    # due in ~951 years (1e-9), or never: waited for until the stop
    finally:
        stopper.cancel()
    assert stop.is_set() and time.monotonic() - started < 60
