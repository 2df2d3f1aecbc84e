"""A station fault's sensor that is healthy again, then judged faulty again within `faults.station_join_s` of
the fault's start, is listed once in the fault's `sensors` (review25).

It joins the fault again, untold (faults/station.py: its sensors' ends are untold while a mate is still faulty);
`_hold` appended it to the fault's sensors a second time, so the fault_end said ['a', 'b', 'a'] — a subscriber
counting the sensors a fault stands for counted three of two. Its second decision is still in evidence.joined
(the scorer of the events, agent/evaluate/faults.py, loses no decision).
Real parts: a Pipeline (numpy) stepped on rows where the skid's a and b fall silent together, a comes back for
80 s and falls silent again, then both come back."""
from __future__ import annotations

import random

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row

T = 1_767_600_000


def _faults() -> list[dict]:
    cfg = config.from_dict({"sensors": [{"name": "a", "group": "skid1"}, {"name": "b", "group": "skid1"},
                                        {"name": "c", "group": "skid2"}], "sources": [{"type": "stdin"}],
                            "tick_s": 1, "warmup": {"ticks": 60}, "scoring": {"chain": ["numpy"]},
                            "faults": {"holdback_s": 0, "drift_holdback_s": 0}})
    pipe, out = Pipeline(cfg), []
    for i in range(420):
        r = random.Random(i)
        values = np.array([1.0 + r.gauss(0, 0.1), 2.0 + r.gauss(0, 0.1), r.gauss(0, 0.1)])
        missing = np.array([90 <= i < 130 or 210 <= i < 250, 90 <= i < 300, False])
        values[missing] = np.nan
        res = pipe.step(Row(ts=float(T + i), values=values, missing=missing, carried=np.zeros(3, bool)))
        out += [f.to_dict() for f in res.faults]
    return out


def test_a_sensor_decided_again_within_the_join_is_listed_once():
    faults = _faults()
    assert [(f["event"], f["kind"], f["sensor"]) for f in faults if f["event"] != "fault_update"] == \
        [("fault", "station", "skid1"), ("fault_end", "station", "skid1")], faults     # (its join told: faults12)
    assert [u["sensors"] for u in faults if u["event"] == "fault_update"] == [["a", "b"]], faults    # listed once
    end = faults[-1]
    assert end["sensors"] == ["a", "b"], end
    assert list(end["evidence"]["joined"]) == ["a"], end["evidence"]      # its second decision, with its tick
