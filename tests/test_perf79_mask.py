"""The fault tracker's mask without dataclasses.replace (perf79): the row the model and the fallback see on a tick
with a fault open is remade by Row.with_readings, which must carry every other field of the row (a new field of
Row that it left out would be lost on exactly those ticks), and the masked row is what the mask always gave."""
from __future__ import annotations

import dataclasses

import numpy as np

from agent import config
from agent.faults.tracker import FaultTracker
from agent.window import Row

SENSORS = ["S1_flow", "S1_occ", "S2_flow", "S2_occ"]


def test_with_readings_carries_every_other_field_of_the_row():
    n = 3
    row = Row(ts=0.0, values=np.zeros(n), missing=np.zeros(n, bool), carried=np.zeros(n, bool))
    readings = {"values", "missing", "carried"}
    for k, f in enumerate(dataclasses.fields(Row)):     # a distinct value in every other field
        if f.name not in readings:
            setattr(row, f.name, {"ts": 12.5, "label": 1, "event": "incident"}.get(f.name, 100.0 + k))
    values, missing, carried = np.ones(n), np.ones(n, bool), np.ones(n, bool)
    made = row.with_readings(values, missing, carried)
    assert made is not row
    for f in dataclasses.fields(Row):
        if f.name in readings:
            assert getattr(made, f.name) is locals()[f.name], f.name
        else:
            assert getattr(made, f.name) == getattr(row, f.name), f.name


def test_the_mask_with_a_fault_open_is_the_row_with_the_faulty_sensors_missing():
    cfg = config.from_dict({"sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": 10, "topology": "corridor"})
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    row = Row(ts=50.0, values=np.array([1.0, 2.0, 3.0, 4.0]), missing=np.zeros(4, bool),
              carried=np.array([False, True, True, False]), label=1, event="incident", rebased_from=40.0)
    assert tracker.mask(row) is row                     # no fault open: the row itself
    tracker.kind[1] = "stuck"                           # a fault opened on S1_occ (as the tracker's start does)
    tracker._kinds_changed([1])
    masked = tracker.mask(row)
    assert np.array_equal(masked.values, [1.0, np.nan, 3.0, 4.0], equal_nan=True)
    assert masked.missing.tolist() == [False, True, False, False]
    assert masked.carried.tolist() == [False, False, True, False]
    assert (masked.ts, masked.label, masked.event, masked.rebased_from, masked.clock_moved_s) == \
        (50.0, 1, "incident", 40.0, None)
    assert row.values[1] == 2.0 and not row.missing[1] and row.carried[1]       # the row given is not changed
    tracker.kind[1] = ""                                # …and ended
    tracker._kinds_changed([1])
    assert tracker.mask(row) is row
