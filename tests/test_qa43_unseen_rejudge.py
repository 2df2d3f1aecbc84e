"""A sensor never read, still silent when its source comes back, waits faults.missing_s once — not the
carry-forward bound again (qa43; review35 saw it).

A sensor with no reading yet is reported missing only after the carry-forward bound and missing_s (the aligner
has nothing to carry, so faults/missing.py waits the bound itself: its `unseen_grace_s`). When its source's fault
ends and the sensor is still silent, its silence is judged afresh (Missing.rejudge): a sensor read before waits
missing_s from then; one never read waited the carry-forward bound a second time, though it had already run
while the source was down. What a user expects: once the source is back, both wait the same missing_s.

The agent's own Pipeline and fault tracker fed tick rows as the aligner closes them (a udp feed's config:
silence together is a source fault), as tests/test_source1_faults.py does; the checkpoint's own encode/decode
for the restart case."""
from __future__ import annotations

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row
from fault_states import saved as through_checkpoint

SENSORS = ["a", "b", "d"]
TICK = 1.0
T0 = 1_790_000_000.0
CARRY_S, MISSING_S, CLEAR_S = 4, 3, 2


def tracker(tmp_path):
    return Pipeline(config.from_dict({
        "tick_s": TICK, "topology": "group", "sensors": SENSORS, "sources": [{"type": "udp", "port": 0}],
        "window": {"steps": 8, "carry_forward_s": CARRY_S}, "warmup": {"ticks": 20},
        "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": MISSING_S, "clear_s": CLEAR_S, "stuck_s": 3600, "flatline_s": 3600}, "sinks": [],
    }, base_dir=str(tmp_path))).health


class Feed:
    def __init__(self, tr):
        self.tr, self.k, self.events = tr, 0, []

    def tick(self, silent) -> list[tuple]:
        ts = T0 + self.k * TICK
        values = np.array([10.0 + self.k % 3, 20.0 + self.k % 5, 30.0 + self.k % 4])
        missing = np.array([s in silent for s in SENSORS])
        self.k += 1
        events = self.tr.observe(Row(ts=ts, values=np.where(missing, np.nan, values), missing=missing,
                                     carried=np.zeros(3, bool)))
        self.events += events
        return [(ev.event, ev.kind, ev.sensor) for ev in events]


def ticks_to_b_told_after_the_source_is_back(tmp_path, read_b_first: bool, restart: bool = False) -> int:
    """Ticks from the source's fault_end (b still silent) to b's own `missing` fault. `read_b_first`: every
    sensor read for 30 ticks before the source goes down; else down from the first tick, b never read."""
    tr = tracker(tmp_path)
    feed = Feed(tr)
    if read_b_first:                        # else the source is down from the first tick: nothing read yet
        for _ in range(30):
            assert feed.tick(set()) == []
    said = [e for _ in range(20) for e in feed.tick(set(SENSORS))]
    assert said == [("fault", "source", "udp 127.0.0.1:0")], said
    for k in range(40):
        said = feed.tick({"b"})
        if ("fault_end", "source", "udp 127.0.0.1:0") in said:
            break
    else:
        raise AssertionError("the source's fault did not end")
    if restart:                             # a restart from the checkpoint taken at the source's end
        again = tracker(tmp_path)
        again.restore(through_checkpoint(feed.tr.state()))
        feed.tr = again
    for k in range(1, 40):
        said = feed.tick({"b"})
        if said:
            assert said == [("fault", "missing", "b")], said
            return k
    raise AssertionError("b was not told missing")


def test_a_never_read_sensor_waits_missing_s_once_after_its_source_is_back(tmp_path):
    seen = ticks_to_b_told_after_the_source_is_back(tmp_path / "seen", read_b_first=True)
    assert seen == MISSING_S                 # the control: a sensor read before waits missing_s from then
    never = ticks_to_b_told_after_the_source_is_back(tmp_path / "never", read_b_first=False)
    assert never == seen, f"never read: {never} ticks, read before: {seen} (the carry-forward bound again?)"


def test_across_a_restart_from_the_checkpoint_it_still_waits_missing_s_once(tmp_path):
    never = ticks_to_b_told_after_the_source_is_back(tmp_path, read_b_first=False, restart=True)
    assert never == MISSING_S



def test_the_fault_says_the_sensor_was_never_read_and_how_long_since_its_source_came_back(tmp_path):
    feed = Feed(tracker(tmp_path))
    for _ in range(20):
        feed.tick(set(SENSORS))
    while ("fault_end", "source", "udp 127.0.0.1:0") not in feed.tick({"b"}):
        assert feed.k < 100, "the source's fault did not end"
    while not feed.events or feed.events[-1].kind != "missing":
        feed.tick({"b"})
        assert feed.k < 100, "b was not told missing"
    told = feed.events[-1]
    assert (told.event, told.sensor) == ("fault", "b")
    assert told.evidence == {"summary": f"no reading since the first tick; silent {MISSING_S} s since its source "
                                        "came back", "last_value": None}
