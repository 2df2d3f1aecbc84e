"""faults15: agent/evaluate/faults.py scores a handed-over fault by every kind it was judged as. A `missing` fault
whose sensor came back frozen goes on as `stuck` (faults14's hand-over: one fault, its fault_end listing both in
evidence.kinds_judged); before, the scorer read it as one `missing` decision and the injected `stuck` inside it
counted as a kind mismatch — the agent judged it right and the figure said wrong.

The agent's own Pipeline and fault tracker fed tick rows (a and b on skid1, d on skid2; a udp feed, which is not
down while the others read); its fault events, as published (to_dict, checked against the shipped schema),
scored against the simulator's labels of what was injected (`dropout-1@a`, then `stuck-2@a`)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from agent import config
from agent.evaluate.faults import labelled_events, reported_faults, score_run
from agent.pipeline import Pipeline
from agent.window import Row

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
T0 = 1_790_000_000.0
SILENT, FROZEN, END = range(300, 320), range(320, 420), 700


def _run(tmp_path, sensors: list[int]) -> tuple[list[dict], list[dict]]:
    """Sensors `sensors` (of a, b, d) silent for 20 s, then back frozen at 7.5 for 100 s, then healthy; (fault
    events, labelled events)."""
    tr = Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group",
        "sensors": [{"name": "a", "group": "skid1"}, {"name": "b", "group": "skid1"}, {"name": "d", "group": "skid2"}],
        "sources": [{"type": "udp", "port": 0}],
        "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3, "clear_s": 60, "stuck_s": 10}, "sinks": []}, base_dir=str(tmp_path))).health
    rng = np.random.default_rng(0)
    events, labels = [], []
    for k in range(END):
        values = rng.normal([10, 20, 30], 1.0)
        missing = np.zeros(3, bool)
        if k in SILENT:
            missing[sensors] = True
        if k in FROZEN:
            values[sensors] = 7.5
        for ev in tr.observe(Row(ts=T0 + k, values=np.where(missing, np.nan, values), missing=missing,
                                 carried=np.zeros(3, bool))):
            d = ev.to_dict()
            jsonschema.validate(d, SCHEMA)
            events.append(d)
        labels.append("dropout-1@a" if k in SILENT else "stuck-2@a" if k in FROZEN else None)
    return events, labelled_events(T0 + np.arange(END), labels)


def _scored(events: list[dict], labels: list[dict]) -> dict:
    return score_run(labels, [], events, tick_s=1.0, tolerance_s=6.0, scored_from=T0)["faults"]


def test_a_lone_fault_handed_over_to_stuck_matches_the_injected_stuck(tmp_path):
    events, labels = _run(tmp_path, [0])
    assert [(f["event"], f["sensor"], f["kind"]) for f in events] == [("fault", "a", "missing"),
                                                                      ("fault_end", "a", "missing")]
    assert events[1]["evidence"]["kinds_judged"] == {"a": ["missing", "stuck"]}     # the agent's hand-over
    [decided] = reported_faults(events)
    assert (decided["kind"], decided["kinds"]) == ("missing", ["missing", "stuck"])
    scored = _scored(events, labels)
    assert scored["by_kind"]["dropout"] == {**scored["by_kind"]["dropout"], "injected": 1, "reported": 1,
                                            "kind_matches": 1}
    # before: kind_matches 0 (one `missing` decision)
    assert scored["by_kind"]["stuck"] == {**scored["by_kind"]["stuck"], "injected": 1, "reported": 1,
                                          "kind_matches": 1}
    assert scored["reported_by_kind"] == {"missing": 1} and scored["false_reports"] == 0     # one decision, one page


def test_a_station_fault_whose_sensor_is_handed_over_matches_it_too(tmp_path):
    events, labels = _run(tmp_path, [0, 1])         # a and b silent together: one `station` fault of skid1
    assert [(f["event"], f["kind"]) for f in events] == [("fault", "station"), ("fault_end", "station")]
    assert events[1]["evidence"]["kinds_judged"] == {"a": ["missing", "stuck"], "b": ["missing", "stuck"]}
    scored = _scored(events, labels)
    assert scored["by_kind"]["stuck"]["kind_matches"] == 1        # before: 0
    assert scored["by_kind"]["dropout"]["kind_matches"] == 1
    assert scored["false_reports"] == 1             # b: no fault injected on it (as before)


def test_a_fault_judged_one_kind_alone_still_mismatches_another_injected_kind(tmp_path):
    """The rule for a kind no rule judged: an injected `stuck` inside a fault judged `missing` alone (the sensor back
    reading normally) is still a kind mismatch — kinds_judged is read, not any kind accepted."""
    events, _ = _run(tmp_path, [0])
    end = {**events[1], "evidence": {"summary": "missing condition gone"}}     # as if never judged stuck
    jsonschema.validate(end, SCHEMA)
    labels = labelled_events(T0 + np.arange(END), ["dropout-1@a" if k in SILENT else "stuck-2@a" if k in FROZEN
                                                   else None for k in range(END)])
    assert _scored([events[0], end], labels)["by_kind"]["stuck"]["kind_matches"] == 0
