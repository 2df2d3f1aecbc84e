"""A finite reading far past any physical quantity (a JSON sender's 1e100, a garbage register) is
rejected at intake as `value out of range`, naming the sensor, like a NaN: taken, three readings of
1e100 made the fault tracker's pair statistics (products of x² terms) NaN for good, and that sensor's
drift rule was blind from then on, restored from every later checkpoint too."""
from __future__ import annotations

import logging
import math

import numpy as np

from agent.pipeline import Pipeline
from agent.records import Record, Rejects
from agent.window import MAX_READING, Aligner
from conftest import demo_cfg, sim_rows


def test_a_reading_past_the_bound_is_rejected_with_its_sensor_and_the_bound_itself_is_taken(caplog):
    caplog.set_level(logging.WARNING)
    rj = Rejects()
    al = Aligner(["a", "b"], tick_s=10.0, carry_forward_s=0.0, lateness_ticks=1, rejects=rj)
    al.push(Record(ts=0.0, values={"a": 1e100, "b": -MAX_READING}, origin="x.jsonl:1"))
    al.push(Record(ts=10.0, values={"a": -1e31, "b": float("inf")}, origin="x.jsonl:2"))
    rows = al.push(Record(ts=20.0, values={"a": MAX_READING, "b": 2.0}, origin="x.jsonl:3"))
    # (a third usable record confirms the replay's first time base, and the tick between is a short step of the
    # data at lateness 1: the second record, none of its values usable, neither counts toward it nor fills that tick
    # since mqttsrc4)
    rows += al.push(Record(ts=30.0, values={"b": 3.0}, origin="x.jsonl:4"))
    rows += al.flush_all()
    assert rj.as_dict() == {"value out of range": 2, "non-finite value": 1}
    assert [r.missing.tolist() for r in rows[:3]] == [[True, False], [True, True], [False, False]]
    assert rows[0].values[1] == -MAX_READING and rows[2].values[0] == MAX_READING
    said = [r.getMessage() for r in caplog.records if "value out of range" in r.getMessage()]
    assert len(said) == 2 and all("x.jsonl:" in m and "sensor 'a'" in m for m in said), said


def non_finite(state, path="") -> set[str]:
    """The paths of a state's float arrays and floats that hold NaN or inf."""
    if isinstance(state, dict):
        return set().union(*(non_finite(v, f"{path}.{k}") for k, v in state.items())) if state else set()
    if isinstance(state, (list, tuple)):
        return set().union(*(non_finite(v, f"{path}[{i}]") for i, v in enumerate(state))) if state else set()
    if isinstance(state, np.ndarray) and state.dtype.kind == "f":
        return {path} if not np.isfinite(state).all() else set()
    if isinstance(state, float):
        return {path} if not math.isfinite(state) else set()
    return set()


def test_three_huge_readings_through_intake_leave_the_learned_state_finite(tmp_path):
    cfg = demo_cfg(tmp_path, warmup_ticks=300, chain=["numpy"])
    pipe = Pipeline(cfg)
    rj = Rejects()
    al = Aligner(pipe.sensors, tick_s=cfg.tick_s, carry_forward_s=0.0, lateness_ticks=0, rejects=rj)
    before = None
    for k, row in enumerate(sim_rows(cfg, days=0.4)[:1000]):
        values = {s: float(v) for s, v, m in zip(pipe.sensors, row.values, row.missing) if not m}
        if k == 700:
            before = non_finite(pipe.state_dict())
        if 700 <= k < 703:
            values[pipe.sensors[2]] = 1e100
        for aligned in al.push(Record(ts=row.ts, values=values, origin=f"tick {k}")):
            pipe.step(aligned)
    assert rj.as_dict() == {"value out of range": 3}
    assert pipe.warm and non_finite(pipe.state_dict()) <= before
