"""A sensor with no reading in the agent's first tick is not `missing` until the carry-forward bound has passed
(agent/faults/missing.py). chaos2's MQTT soak: the agent's first record was a bad one (a value out of range, every
value refused), its first tick closed with no reading, and every sensor was told silent together at once (a `source`
fault); the fault, ending only after faults.clear_s (60 s) of readings, masked the sensors through a 40-s warm-up,
which fitted them on no reading — std at the floor, threshold 0.000: the agent blind for the rest of its life.
Likewise a sensor whose first reading comes a tick after the others' (its own topic, its own rate).

The agent's own Pipeline and fault tracker, fed the rows its aligner closes from records (agent/window.py)."""
from __future__ import annotations


import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.records import Record, Rejects
from agent.window import Aligner

T0 = 1_790_000_000.0


def pipeline(tmp_path, warmup: int = 40, missing_s: float = 0.0) -> Pipeline:
    """A numpy agent's pipeline at the defaults that matter here (faults.missing_s 0, clear_s 60), 1-s ticks, a 2-s
    carry-forward."""
    return Pipeline(config.from_dict({
        "tick_s": 1.0, "topology": "group", "sensors": ["a", "b", "c"], "sources": [{"type": "udp", "port": 0}],
        "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": warmup}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": missing_s}, "sinks": []}, base_dir=str(tmp_path)))


def aligned(records: list[dict]) -> list:
    """The rows the agent's aligner closes from these records (ts, values), the last ones flushed."""
    aligner = Aligner(["a", "b", "c"], 1.0, 2.0, 1, Rejects())
    rows = []
    for r in records:
        rows += aligner.push(Record(ts=r["ts"], values={k: v for k, v in r.items() if k != "ts"}))
    return rows + aligner.flush_all()


def readings(start: int, n: int, rng=np.random.default_rng(1)) -> list[dict]:
    return [{"ts": T0 + k, "a": 1 + rng.normal(0, .1), "b": 2 + rng.normal(0, .1), "c": rng.normal(0, .1)}
            for k in range(start, start + n)]


def faults_of(p: Pipeline, rows) -> list[tuple]:
    return [(ev.event, ev.kind, ev.sensor) for row in rows for ev in p.health.observe(row)]


def test_a_first_record_whose_only_value_was_refused_is_no_outage(tmp_path):
    # Since mqttsrc4 a record with no usable value opens no tick where it would start the time base (it says nothing
    # of the data's clock): the first tick is the first good reading's
    rows = aligned([{"ts": T0, "a": 1e31}] + readings(1, 60))
    assert rows[0].ts == T0 + 1 and not rows[0].missing.any()
    # a first tick with no reading (a record with nothing to take: a label-only one) is still no outage
    rows = aligned([{"ts": T0}] + readings(1, 60))
    assert rows[0].ts == T0 and rows[0].missing.all()   # the first tick: no reading, nothing to carry
    p = pipeline(tmp_path)
    assert faults_of(p, rows) == []                 # before: ('fault', 'source', 'udp 127.0.0.1:0') at the first tick


def test_a_sensor_whose_first_reading_comes_a_tick_late_is_no_missing_fault(tmp_path):
    first = readings(0, 2)
    for r in first:
        r.pop("b")                                  # b's first reading at the third tick (its own topic, its own rate)
    rows = aligned(first + readings(2, 60))
    assert rows[0].missing.tolist() == [False, True, False]
    p = pipeline(tmp_path)
    assert faults_of(p, rows) == []                 # before: ('fault', 'missing', 'b'), open for clear_s (60 s)


def test_a_sensor_that_never_reports_is_missing_once_the_carry_forward_bound_has_passed(tmp_path):
    # as a sensor seen once and then silent: carried 2 ticks, missing the third — here from the first tick on
    rows = aligned([{k: v for k, v in r.items() if k != "c"} for r in readings(0, 10)])
    p = pipeline(tmp_path)
    said = [(i, ev.event, ev.kind, ev.sensor, ev.evidence["summary"]) for i, row in enumerate(rows)
            for ev in p.health.observe(row)]
    assert said == [(2, "fault", "missing", "c", "no reading since the first tick, 1 s past the carry-forward bound")]
    rows = aligned([{k: v for k, v in r.items() if k != "c"} for r in readings(0, 10)])
    p = pipeline(tmp_path, missing_s=3)             # and missing_s more
    assert [(i, ev.sensor) for i, row in enumerate(rows) for ev in p.health.observe(row)] == [(4, "c")]
