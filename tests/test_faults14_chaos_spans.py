"""bench/chaos_sources.py `fault_spans` reads `fault_update`s (faults14): a sensor joined to an open fault is covered
by it from the update's time. Before, an update was not read: a joined sensor was covered by no fault (the chaos
soak's "a peer gone is a fault" would have called a topic silent under a joined fault untold), and a sensor only
listed at the fault's start counted from there.

The events are a real tracker's (tests/station_feed.py: a, b, c on skid1): a and b silent together (one `station`
fault), then c (its `fault_update`), then all back (its `fault_end`), as the payloads the sinks send."""
from __future__ import annotations

import math

from conftest import bench_module
from station_feed import Feed, tracker


def test_a_joined_sensor_is_covered_from_its_update(tmp_path):
    spans_of = bench_module("chaos_sources").fault_spans
    feed = Feed(tracker(tmp_path))
    feed.run(30)
    [fault] = feed.run(8, silent={"a", "b"})
    [update] = feed.run(8, silent={"a", "b", "c"})
    feed.run(6, silent={"c"})
    [end] = feed.run(6)
    assert (fault.event, update.event, end.event) == ("fault", "fault_update", "fault_end")
    spans = spans_of([ev.to_dict() for ev in (fault, update, end)])

    def covering(sensor: str, t: float) -> list:
        return [s for s in spans if s[0] <= t <= s[1] and sensor in s[2]]

    assert covering("a", fault.start) and covering("b", end.ts)
    assert covering("c", update.ts) and covering("c", end.ts)         # before: c was covered by nothing
    assert not covering("c", update.ts - 1)                          # …and not before it joined
    assert all(math.isclose(s[1], end.ts) for s in spans) and {s[3] for s in spans} == {"station"}
