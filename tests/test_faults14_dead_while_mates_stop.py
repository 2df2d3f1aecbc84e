"""A sensor judged `dead` stays so while it reads its floor, whether its mates run or not (faults14). Before, the
rule's condition — at its floor *while the sensors it moves with carry on* — was also what kept its fault open: a
dead pressure transmitter's fault ended `cleared` (`dead condition gone`) once its pump stopped (its mates at their
floor too: no witness), though it still read 0; learned as normal at its floor from then on, it was never paged
again when the pump ran. Now the fault goes on until it leaves its floor, and ends `clear_s` after.

The agent's own Pipeline and fault tracker fed tick rows (a, b, c on one skid; a udp feed); every event checked
against the shipped schema."""
from __future__ import annotations

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from tracker_rows import observed

T0 = 1_790_000_000.0


class Skid:
    def __init__(self, tmp_path):
        self.tr = Pipeline(config.from_dict({
            "tick_s": 1, "topology": "group",
            "sensors": [{"name": s, "group": "skid1"} for s in ("a", "b", "c")],
            "sources": [{"type": "udp", "port": 0}],
            "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
            "faults": {"dead_s": 5, "clear_s": 10, "stuck_s": 3600, "flatline_s": 3600}, "sinks": []},
            base_dir=str(tmp_path))).health
        self.k = 0

    def run(self, ticks: int, a_dead: bool = False, stopped: bool = False) -> list:
        out = []
        for _ in range(ticks):
            k = self.k
            values = np.array([10 + k % 3, 20 + k % 5, 30 + k % 4], float)
            if stopped:
                values[1:] = 0.0                # the pump stopped: its other sensors at their floor
            if a_dead:
                values[0] = 0.0
            out += observed(self.tr, T0 + k, values)
            self.k += 1
        return out


def test_a_dead_sensor_stays_one_fault_through_its_pumps_stop_and_restart(tmp_path):
    skid = Skid(tmp_path)
    assert skid.run(600) == []
    [fault] = skid.run(30, a_dead=True)
    assert (fault.event, fault.kind, fault.sensor) == ("fault", "dead", "a")
    assert skid.run(60, a_dead=True, stopped=True) == []      # before: its fault_end, 10 s after the stop
    assert skid.tr.active() == {"a": "dead"}
    assert skid.run(30, a_dead=True) == []                    # the pump runs again: still the one fault, masked
    assert skid.tr.active() == {"a": "dead"}
    [end] = skid.run(30)
    assert (end.event, end.fault_id, end.reason, end.ts) == ("fault_end", fault.fault_id, "cleared", T0 + 729)
    assert skid.tr.snapshot()["faults_raised"]["dead"] == 1
