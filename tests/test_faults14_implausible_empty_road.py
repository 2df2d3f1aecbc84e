"""A loop judged `implausible` stays so while it reads its floor, whatever its witness reads (faults14). Before, an
occupancy channel at its floor while flow counted vehicles had its fault end `cleared` as the road emptied (flow at
its floor too: no witness), though it still read 0, and a second `implausible` was paged when traffic came back.
Now one fault, until it reads again, ending `clear_s` after.

The agent's own Pipeline and fault tracker fed tick rows (one corridor loop station S01: flow, occ, speed; a udp
feed); every event checked against the shipped schema."""
from __future__ import annotations

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from tracker_rows import observed

T0 = 1_790_000_000.0


class Station:
    def __init__(self, tmp_path):
        self.tr = Pipeline(config.from_dict({
            "tick_s": 1, "topology": "corridor", "sensors": ["S01_flow", "S01_occ", "S01_speed"],
            "sources": [{"type": "udp", "port": 0}],
            "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
            "faults": {"implausible_s": 5, "dead_s": 3600, "clear_s": 10, "stuck_s": 3600, "flatline_s": 3600,
                       "spike_z": 1000}, "sinks": []},
            base_dir=str(tmp_path))).health
        self.k = 0

    def run(self, ticks: int, occ_broken: bool = False, empty: bool = False) -> list:
        out = []
        for _ in range(ticks):
            k = self.k
            values = np.array([600 + 10 * (k % 5), 8 + k % 3, 90 + k % 4], float)
            if empty:
                values[:] = 0.0                 # no vehicle: flow, occupancy and speed at their floor
            if occ_broken:
                values[1] = 0.0
            out += observed(self.tr, T0 + k, values)
            self.k += 1
        return out


def test_an_implausible_occupancy_stays_one_fault_through_an_empty_road(tmp_path):
    st = Station(tmp_path)
    assert st.run(600) == []
    [fault] = st.run(30, occ_broken=True)
    assert (fault.event, fault.kind, fault.sensor) == ("fault", "implausible", "S01_occ")
    assert st.run(60, occ_broken=True, empty=True) == []      # before: its fault_end, 10 s into the empty road
    assert st.tr.active() == {"S01_occ": "implausible"}
    assert st.run(30, occ_broken=True) == []                  # traffic back: before, a second `implausible` page
    [end] = st.run(30)
    assert (end.event, end.fault_id, end.reason, end.ts) == ("fault_end", fault.fault_id, "cleared", T0 + 729)
    assert st.tr.snapshot()["faults_raised"]["implausible"] == 1
