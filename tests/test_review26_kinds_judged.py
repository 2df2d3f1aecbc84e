"""Every kind a station or lone fault's sensor was judged is kept (review26): a sensor healthy again, then decided
again within `faults.station_join_s` under another kind, had its first kind overwritten — the fault_end's
evidence.kinds showed only the last. evidence.kinds stays sensor → its last kind (a subscriber reading it as a
string still does); evidence.kinds_judged, added beside it (the schema's evidence takes any object: additive),
lists each kind of a sensor judged under more than one, in order, once each. A lone fault's own sensor decided
again so keeps the fault's told kind in its fault_end (before, the end named the new one). The journal entry
and the checkpoint carry it through a restart.

Real parts: a Pipeline (numpy) stepped on rows — a and b of skid1 silent (missing), a back and then reading
above its range (`max`: out_of_range) while b is still silent; payloads checked against the shipped schema."""
from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import numpy as np

from agent import config
from agent.faults.station import StationFaults
from agent.journaled import checked_open
from agent.pipeline import Pipeline
from agent.window import Row

T = 1_767_600_000
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "agent/schemas/fault.schema.json").read_text())


def _run(a_silent: range, b_silent: range) -> tuple:
    """420 1-s ticks: a silent over `a_silent`, above its range (max 5) over 200–239, b silent over `b_silent`."""
    cfg = config.from_dict({"sensors": [{"name": "a", "group": "skid1", "max": 5}, {"name": "b", "group": "skid1"},
                                        {"name": "c", "group": "skid2"}], "sources": [{"type": "stdin"}],
                            "tick_s": 1, "warmup": {"ticks": 60}, "scoring": {"chain": ["numpy"]},
                            "window": {"carry_forward_s": 2},
                            "faults": {"missing_s": 3, "clear_s": 2, "holdback_s": 0, "drift_holdback_s": 0}})
    pipe, out = Pipeline(cfg), []
    for i in range(420):
        r = random.Random(i)
        values = np.array([1.0 + r.gauss(0, 0.1), 2.0 + r.gauss(0, 0.1), r.gauss(0, 0.1)])
        values[0] += 50.0 * (200 <= i < 240)
        missing = np.array([i in a_silent, i in b_silent, False])
        values[missing] = np.nan
        res = pipe.step(Row(ts=float(T + i), values=values, missing=missing, carried=np.zeros(3, bool)))
        for f in res.faults:
            jsonschema.validate(f.to_dict(), SCHEMA)
            out.append(f.to_dict())
        if i == 220:        # a judged out_of_range again, under the open fault: the journal and checkpoint hold it
            entries, state = pipe.health.open_faults(), pipe.health.stations.state()
    return out, pipe, entries, state


def test_a_station_s_sensor_judged_again_under_another_kind_keeps_both():
    faults, _, entries, state = _run(range(90, 130), range(90, 300))
    assert [(f["event"], f["kind"]) for f in faults if f["event"] != "fault_update"] == \
        [("fault", "station"), ("fault_end", "station")], faults     # (a's joins told as updates: faults12)
    ev = faults[-1]["evidence"]
    assert ev["kinds"] == {"a": "out_of_range", "b": "missing"}
    assert ev["kinds_judged"] == {"a": ["missing", "out_of_range"]}       # main: no trace of a's missing
    # the journal entry and the checkpoint hold it; each read back as a restart reads it
    kept, problems = checked_open(json.loads(json.dumps(entries)))
    assert problems == {} and kept["skid1"]["kinds_judged"] == {"a": ["missing", "out_of_range"]}
    again = StationFaults()
    again.restore(json.loads(json.dumps(state)))
    [g] = again.open.values()
    assert g.kinds_judged == {"a": ["missing", "out_of_range"]} and g.kinds["a"] == "out_of_range"


def test_a_lone_fault_s_own_sensor_judged_again_keeps_the_fault_s_kind():
    faults, _, _, _ = _run(range(90, 130), range(100, 300))
    assert [(f["event"], f["kind"], f["sensor"]) for f in faults if f["event"] != "fault_update"] == \
        [("fault", "missing", "a"), ("fault_end", "missing", "a")], faults      # (joins told as updates: faults12)
    assert {f["kind"] for f in faults if f["event"] == "fault_update"} == {"missing"}     # the fault's told kind
    ev = faults[-1]["evidence"]
    assert ev["kinds"] == {"a": "out_of_range", "b": "missing"}
    assert ev["kinds_judged"] == {"a": ["missing", "out_of_range"]}


def test_a_damaged_kinds_judged_is_refused_with_its_key_path():
    entry = {"fault_id": "f", "kind": "station", "start": float(T), "group": "skid1", "sensors": ["a", "b"],
             "kinds": {"a": "stuck", "b": "missing"}, "joined": {}}
    for bad, said in (("stuck", "open.skid1.kinds_judged: expected a mapping"),
                      ({"a": "stuck"}, "open.skid1.kinds_judged.a: 'stuck' is no list"),
                      ({"a": ["stuck", "station"]}, "open.skid1.kinds_judged.a:")):
        kept, problems = checked_open({"skid1": {**entry, "kinds_judged": bad}})
        assert kept == {} and problems["skid1"].startswith(said), problems
    assert checked_open({"skid1": entry}) == ({"skid1": entry}, {})
