"""A sensor an open station fault stands for, healthy again (untold: a mate is still faulty) and judged faulty again
past `faults.station_join_s`, joins that fault again — told by its `fault_update` — instead of opening a second
fault of the station beside it (faults13; user27's replica: K030 `dead` as a station, then K030_flow and K030_occ
`stuck` 13 min on, a second `station K030` while the first was open). A mate *new* to the fault past the join is
still told on its own (faults6's rule as its docs say). The events' seq: fault 0, each update the next, the end
after them — unique per fault and increasing as sent.

Real parts: a Pipeline (numpy) stepped on rows — a and b of skid1 silent (missing) from tick 90, a back at 130 and
over its range (`max`: out_of_range) over 200–239 while b is still silent; d of skid1 silent from 260; join 30 s.
Every payload checked against the shipped schema."""
from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import numpy as np

from agent import config
from agent.evaluate.faults import reported_faults
from agent.pipeline import Pipeline
from agent.sources.lines import parse_time as parse
from agent.window import Row

T = 1_767_600_000
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "agent/schemas/fault.schema.json").read_text())


def _faults() -> list[dict]:
    cfg = config.from_dict({"sensors": [{"name": "a", "group": "skid1", "max": 5}, {"name": "b", "group": "skid1"},
                                        {"name": "d", "group": "skid1"}, {"name": "c", "group": "skid2"}],
                            "sources": [{"type": "stdin"}], "tick_s": 1, "warmup": {"ticks": 60},
                            "scoring": {"chain": ["numpy"]}, "window": {"carry_forward_s": 2},
                            "faults": {"missing_s": 3, "clear_s": 2, "holdback_s": 0, "drift_holdback_s": 0,
                                       "station_join_s": 30}})
    pipe, out = Pipeline(cfg), []
    for i in range(420):
        r = random.Random(i)
        values = np.array([1.0 + r.gauss(0, 0.1), 2.0 + r.gauss(0, 0.1), 3.0 + r.gauss(0, 0.1), r.gauss(0, 0.1)])
        values[0] += 50.0 * (200 <= i < 240)
        missing = np.array([90 <= i < 130, 90 <= i < 400, 260 <= i < 330, False])
        values[missing] = np.nan
        for f in pipe.step(Row(ts=float(T + i), values=values, missing=missing, carried=np.zeros(4, bool))).faults:
            jsonschema.validate(f.to_dict(), SCHEMA)
            out.append(f.to_dict())
    return out


def test_a_station_s_own_sensor_judged_again_past_the_join_joins_it_and_a_new_mate_is_told_alone():
    faults = _faults()
    said = [(f["event"], f["kind"], f["sensor"], f["seq"]) for f in faults]
    station = [f for f in faults if f["kind"] == "station"]
    # before: ("fault", "out_of_range", "a", 0) at 200 — a second fault of skid1 while its station fault was open
    assert [(f["event"], f["seq"]) for f in station] == [("fault", 0), ("fault_update", 1), ("fault_end", 2)], said
    fault, update, end = station
    assert fault["sensors"] == ["a", "b"] and update["fault_id"] == end["fault_id"] == fault["fault_id"]
    assert update["sensors"] == ["a", "b"] and update["evidence"]["kinds"] == {"a": "out_of_range", "b": "missing"}
    assert update["evidence"]["summary"].startswith("a (out_of_range, again) joined: 2 sensors of skid1"), update
    assert update["evidence"]["kinds_judged"] == {"a": ["missing", "out_of_range"]}
    assert parse(update["ts"]) - parse(fault["start"]) > 30          # past station_join_s
    # d, new to the fault, silent 170 s after its start: told on its own, as before
    lone = [(f["event"], f["kind"], f["seq"]) for f in faults if f["sensor"] == "d"]
    assert lone == [("fault", "missing", 0), ("fault_end", "missing", 1)], said
    keys = [(f["fault_id"], f["seq"]) for f in faults]
    assert len(keys) == len(set(keys))
    # a scorer of the events (agent/evaluate/faults.py) reads a's two decisions, the first ended by its second (before:
    # the first left open for good), and b's one
    decided = [(d["sensor"], d["kind"], d["ts"], d["end"]) for d in reported_faults(faults) if d["sensor"] != "d"]
    rejoin, end_ts = parse(update["ts"]), parse(end["ts"])
    assert decided == [("a", "missing", parse(fault["ts"]), rejoin), ("b", "missing", parse(fault["ts"]), end_ts),
                       ("a", "out_of_range", rejoin, end_ts)], decided
