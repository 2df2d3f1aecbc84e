"""A `source` fault's summary names at most eight of its source's sensors already under a fault of their own
(review47).

user37 said them apart ("its 5 sensors (1 already faulty: e dead): 4 — a, b, c, d") — every one of them: a PLC of 40
with 30 out of range had a 960-character summary, growing with the PLC (the names without a reading were bounded at
eight). The summary is what a console shows; the event's `sensors_with_own_faults` keeps them all."""
from __future__ import annotations

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row

N, OWN = 40, 30     # PLC1's sensors, the first OWN read 80 over their max 50 (out_of_range) before it falls silent


def test_the_sensors_already_faulty_are_said_bounded(tmp_path):
    tracker = Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group", "sensors": [{"name": f"PLC1_s{i:02d}", "max": 50} for i in range(N)],
        "sources": [{"type": "udp", "port": 0}], "window": {"steps": 8, "carry_forward_s": 2},
        "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]}, "sinks": [],
        "faults": {"missing_s": 3, "clear_s": 2, "stuck_s": 3600, "flatline_s": 3600}}, base_dir=str(tmp_path))).health
    events = []
    for k in range(40):
        silent = np.full(N, k >= 30)
        values = np.array([80.0 if i < OWN else 10 + (k + i) % 3 for i in range(N)])
        events += tracker.observe(Row(ts=1_790_000_000.0 + k, values=np.where(silent, np.nan, values), missing=silent,
                                      carried=np.zeros(N, bool)))
    [down] = [ev.to_dict() for ev in events if ev.kind == "source"]
    summary = down["evidence"]["summary"]
    # on 740108ec: all 30 listed, "… PLC1_s29 out_of_range): 10 — …" (960 characters)
    assert "its 40 sensors (30 already faulty: PLC1_s00 out_of_range, " in summary, summary
    assert "PLC1_s07 out_of_range, …): 10 — PLC1_s30, " in summary and "PLC1_s08" not in summary, summary
    assert len(down["evidence"]["sensors_with_own_faults"]) == OWN
