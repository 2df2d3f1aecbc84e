"""A whole source's outage ends on its first reading back; a lone sensor's `missing` — and a source that drops out
again within `faults.clear_s` of its last outage's end, and for `faults.learn_s` after — keeps `clear_s`.

Why (faults11, docs/measured/faults.md): `clear_s` 60 held every short source stall's sensors faulty and masked a
minute after their readings came back — on a 1-s pump with 8-s stalls every 5 minutes half the injected drifts went
unreported (bench/stall_mask.py). faults10 ended every `missing` fault on its first reading back, and on streams
where single readings go missing at random (tests/recorded_outputs.py's) each miss became a `fault` / `fault_end`
pair. What tells them apart is what the agent already tells when the fault opens: every sensor of a source silent
together is the source's outage (its return is one event); one sensor silent while the others read is that sensor's
intermittence (one fault through its misses). The Pipeline as the agent builds it, a stdin source carrying every
sensor, rows as its aligner gives them.
"""
from __future__ import annotations

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row
from recorded_outputs import SENSORS as CORRIDOR, corridor_stream, pipeline_cfg as corridor_cfg

NAMES = ["a", "b", "c", "d"]
CLEAR_S = 60.0


def _pipeline() -> Pipeline:
    return Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group", "sources": [{"type": "stdin"}],
        "sensors": [{"name": n, "group": "skid"} for n in NAMES],
        "window": {"steps": 16}, "warmup": {"ticks": 100}, "scoring": {"chain": ["numpy"]},
        "faults": {"clear_s": CLEAR_S, "missing_s": 0, "station_join_s": 0}}))   # (each lone fault told)


def _row(k: int, rng: np.random.Generator, silent=()) -> Row:
    missing = np.array([n in silent for n in NAMES])
    values = np.where(missing, np.nan, 50.0 + rng.normal(0.0, 1.0, len(NAMES)))
    return Row(ts=1000.0 + k, values=values, missing=missing, carried=np.zeros(len(NAMES), bool))


def _steps(pipe: Pipeline, rows) -> list[tuple[float, object]]:
    return [(row.ts, ev) for row in rows for ev in pipe.step(row).faults or []]


def _told(events) -> list[tuple]:
    return [(ev.event, ev.kind, ev.sensor) for _, ev in events]


def test_a_whole_source_stall_ends_on_its_first_reading_back_and_a_drop_within_clear_s_waits_it():
    rng = np.random.default_rng(0)
    pipe = _pipeline()
    assert _steps(pipe, [_row(k, rng) for k in range(200)]) == []
    stall = _steps(pipe, [_row(k, rng, silent=NAMES) for k in range(200, 208)])
    assert _told(stall) == [("fault", "source", "stdin")], stall
    assert pipe.health.active() == dict.fromkeys(NAMES, "missing")

    back = _steps(pipe, [_row(208, rng)])
    # main: open (and every sensor masked) until its readings had been back clear_s, the 60th tick
    assert _told(back) == [("fault_end", "source", "stdin")], back
    assert back[0][0] == 1208.0 and "answers again" in back[0][1].evidence["summary"]
    assert pipe.health.active() == {} and not pipe.health.faulty.any()

    # the same source silent again 20 s later: an intermittent source, told once and ended clear_s after its return
    assert _steps(pipe, [_row(k, rng) for k in range(209, 229)]) == []
    again = _steps(pipe, [_row(k, rng, silent=NAMES) for k in range(229, 232)])
    assert _told(again) == [("fault", "source", "stdin")], again
    after = _steps(pipe, [_row(k, rng) for k in range(232, 400)])
    assert _told(after) == [("fault_end", "source", "stdin")], after
    assert after[0][0] == 1000.0 + 232 + CLEAR_S - 1          # its 60th tick back: clear_s
    assert pipe.health.snapshot()["faults_clearing"] == {}

    # silent again 109 s after that end: a source that flapped is taken to flap for faults.learn_s (3,600 s)
    later = _steps(pipe, [_row(k, rng, silent=NAMES) for k in range(400, 403)])
    later += _steps(pipe, [_row(k, rng) for k in range(403, 500)])
    assert _told(later) == [("fault", "source", "stdin"), ("fault_end", "source", "stdin")], later
    assert later[1][0] == 1000.0 + 403 + CLEAR_S - 1


def test_a_lone_sensors_missing_waits_clear_s_and_so_does_a_source_told_while_the_others_read():
    rng = np.random.default_rng(1)
    pipe = _pipeline()
    _steps(pipe, [_row(k, rng) for k in range(200)])
    # c and d each miss a reading: each a lone `missing`, open while their readings come back
    lone = _steps(pipe, [_row(200, rng, silent="c"), _row(201, rng, silent="d")] + [_row(k, rng) for k in range(202, 210)])
    assert _told(lone) == [("fault", "missing", "c"), ("fault", "missing", "d")], lone
    assert set(pipe.health.snapshot()["faults_clearing"]) == {"c", "d"}
    # a and b miss the same tick, c and d reading under their own faults: told as the source's fault (every
    # sensor not faulty for another reason is silent), but it is no outage of the whole source
    told = _steps(pipe, [_row(210, rng, silent="ab")])
    assert _told(told) == [("fault", "source", "stdin")], told
    rest = _steps(pipe, [_row(k, rng) for k in range(211, 400)])
    ends = {ev.sensor: ts for ts, ev in rest}
    assert _told(rest) == [("fault_end", "missing", "c"), ("fault_end", "missing", "d"),
                           ("fault_end", "source", "stdin")], rest
    assert ends == {"c": 1000.0 + 201 + CLEAR_S - 1, "d": 1000.0 + 202 + CLEAR_S - 1, "stdin": 1000.0 + 211 + CLEAR_S - 1}


def test_readings_missing_at_random_stay_one_fault_per_sensor_until_clear_s_of_readings():
    """The golden streams' kind (tests/test_perf41_recorded_scores.py): 3 % of single readings missing at 10-s ticks,
    every miss a lone sensor's. No `missing` fault ends before its sensor has read clear_s since its last miss
    (faults10's end on the next tick made a pair of every miss)."""
    cfg = corridor_cfg()
    rows = corridor_stream(900, 41, 1e9, 0.03, 97, [])
    pipe = Pipeline(cfg)
    last_miss = dict.fromkeys(CORRIDOR, -np.inf)
    told = []
    for row in rows:
        for ev in pipe.step(row).faults or []:
            told.append(ev)
            if ev.kind == "missing" and ev.event == "fault_end":
                assert ev.ts - last_miss[ev.sensor] >= cfg.faults.clear_s, (ev.sensor, ev.ts, last_miss[ev.sensor])
        for name, gone in zip(CORRIDOR, row.missing):
            if gone:
                last_miss[name] = row.ts
    assert sum(ev.kind == "missing" and ev.event == "fault_end" for ev in told) >= 50      # the stream's misses, judged
    assert not any(ev.kind == "source" for ev in told)
