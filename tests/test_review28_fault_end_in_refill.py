"""A sensor fault that ends while the window refills is heard by the alerts (review28).

faults4: an alert that ends with a sensor fault keeps that fault (`after_fault`) while it lasts — a new alert on
its residue waits the sensor-fault hold-back — and lets go of it when the alerts hear of its end. After the time
base moved back (a rebase) the next `window.steps` ticks only refill the window, unscored; on main those ticks
returned before the alerts were told of the tick's faults, so a fault that ended on one of them was never heard
of: `after_fault` stayed for the rest of the run (and in every checkpoint), and every later exceedance waited the
hold-back for a fault long ended.

Real parts: the OPC UA test server's skid as a real CSV replayed through a Pipeline (tests/skid_replay.py:
temp_motor frozen, its alert ends `sensor_fault`, then thawed: the `stuck` ends); the rebase is the pipeline's
own, as the aligner's row after a step back calls it (pipeline_time.step_rebased)."""
from __future__ import annotations

from agent import config
from agent.pipeline import Pipeline
from agent.records import Rejects
from agent.sources import open_source
from agent.window import Aligner
from skid_replay import SENSORS, skid_csv


def _rows(tmp_path):
    skid_csv(tmp_path / "skid.csv", 400, 1.7, 60, thawed_at=300)
    cfg = config.from_dict({"tick_s": 1.0, "topology": "group", "warmup": {"ticks": 40},
                            "sensors": [{"name": s, "group": "skid1"} for s in SENSORS],
                            "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}],
                            "scoring": {"chain": ["numpy"]}, "sinks": []}, base_dir=str(tmp_path))
    source = open_source(cfg.sources[0], cfg.sensor_names(), Rejects(), cfg.base_dir, tick_s=cfg.tick_s)
    return cfg, Aligner.for_agent(cfg, Rejects()).align_all(source.records())


def test_a_fault_ending_while_the_window_refills_lets_the_alerts_go_of_it(tmp_path):
    cfg, rows = _rows(tmp_path)
    plain = Pipeline(cfg)
    ends = [f for row in rows for f in plain.step(row).faults if f.event == "fault_end"]
    assert len(ends) == 1 and plain.alerts.after_fault is None      # (heard on a scored tick)
    rebase_at = ends[0].ts - 3 * cfg.tick_s        # the window refilling from 3 ticks before the fault's end

    pipe = Pipeline(cfg)
    ended_in_refill, before = [], None
    for row in rows:
        if row.ts == rebase_at:
            assert pipe.alerts.after_fault is not None and not pipe.alerts.active      # (the alert ended with it)
            pipe.rebase(before, row.ts)             # (a step back of the time base, moving nothing here)
        res = pipe.step(row)
        ended_in_refill += [f for f in res.faults if f.event == "fault_end" and pipe.refill > 0]
        before = row.ts
    assert [(f.sensor, f.kind, f.ts) for f in ended_in_refill] == [(ends[0].sensor, ends[0].kind, ends[0].ts)]
    assert pipe.alerts.after_fault is None          # main: the ended fault's, for good
