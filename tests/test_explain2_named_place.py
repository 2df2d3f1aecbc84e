"""An alert names the incident's station, not the stations its queue starves downstream (the explain2 round).

Before, `top_sensors` was the scorer's per-sensor scores, largest first: a queue at S03 starves S04–S06 (their flow
falls, a recurrent queue there dissolves), and the forecaster's errors there can be the larger, so the alert named
S05 and its `origin` was S05. Now the sensors scoring at least `NAMED_AMONG` of the top score are named by how far
their newest reading is from its learnt level (agent/alert_events.py `named_order`), while the alert rules still read
the score's order (`by_score`): which ticks raise and end an alert does not change.

Real parts: one of the bench's corridor seeds (bench/accuracy.py `corridor_config`: the demand-gated incidents
schedule, configs/demo.yaml's corridor, tuning seed 5401) through the real Pipeline with the shipped demo bundle's
TFLite tier, as `stad-agent evaluate` drives it; the payload checked against the alert schema.
"""
from __future__ import annotations

import json

import numpy as np
from corridor_seed import seed_pipeline
from payloads import check

from agent import alert_events
from agent.journaled import open_alert_problem

SEED = 5401
INCIDENT = "incident-16@S03"        # a 2.9 km queue at S03; the tier's scores peak at S05, starved


def replay(seed: int):
    """The seed through the Pipeline: every alert event, each `new` one's open alert as the tracker keeps it, and the
    labelled ticks (time, event id)."""
    _, f, pipe = seed_pipeline(seed)
    events, opened = [], {}
    for row in f.rows:
        for ev in pipe.step(row).alerts:
            events.append(ev)
            if ev.event == "new":
                opened[ev.alert_id] = json.loads(json.dumps(pipe.alerts.state_dict()))     # as a checkpoint holds it
    return events, opened, f.ts, np.array([e or "" for e in f.events])


def test_a_queue_at_s03_is_named_at_s03_and_the_alerts_are_raised_and_ended_as_before(monkeypatch):
    events, opened, ts, labels = replay(SEED)
    span = ts[labels == INCIDENT]
    raised = [e for e in events if e.event == "new" and span[0] <= e.ts <= span[-1] + 180.0]
    assert raised, f"seed {SEED}: no alert raised in {INCIDENT}"
    first = raised[0]
    assert first.tier == "tflite"
    assert first.top_sensors[0]["sensor"].startswith("S03_") and first.origin == "S03", first.top_sensors
    # after the place, by score: the starved S05, holding most of the score, is still named (review of explain2)
    assert first.top_sensors[1]["sensor"].startswith("S05_"), first.top_sensors
    shares = [t["contribution"] for t in first.top_sensors[1:]]
    assert shares == sorted(shares, reverse=True), first.top_sensors
    payload = check("alert", json.loads(json.dumps(first.to_dict())))
    assert payload["origin"] == "S03"
    # what the rules read is still the score's order: S05, starved, scores highest
    state = opened[first.alert_id]
    kept = state["open"]["explain"]
    assert kept["by_score"][0]["sensor"].startswith("S05_"), kept["by_score"]
    assert [t["score"] for t in kept["by_score"]] == sorted((t["score"] for t in kept["by_score"]), reverse=True)
    assert state["open"]["drivers"] == alert_events.drivers({"top_sensors": kept["by_score"]}, first.threshold)
    assert open_alert_problem(state) is None                    # a checkpoint holding it restores…
    kept["by_score"] = [{"sensor": "S05_speed", "score": "high"}]
    assert open_alert_problem(state) == "alerts.open.explain.by_score[0]: expected {sensor, score, contribution}"

    # named by score alone (as before this round): the same alerts, raised and ended on the same ticks (an `update`
    # is sent when the named sensors change, so those may differ; alert ids end in a per-life suffix)
    monkeypatch.setattr(alert_events, "NAMED_AMONG", None)
    before, _, _, _ = replay(SEED)

    def raised_and_ended(evs):
        return [(e.event, e.ts, e.start, e.end, e.reason, e.score, e.peak_score, e.ticks) for e in evs
                if e.event != "update"]
    assert raised_and_ended(before) == raised_and_ended(events)
    was = next(e for e in before if e.event == "new" and e.ts == first.ts)
    assert was.top_sensors[0]["sensor"].startswith("S05_") and was.origin == "S05", was.top_sensors


def test_named_order_puts_the_reading_furthest_off_its_level_first_among_the_flagged():
    scores = np.array([30.0, 20.0, 6.0, 1.0, 0.0])
    newest = np.array([0.3, -0.4, -2.5, 4.0, 9.0])       # the last two score under the share: never first
    missing = np.array([False, False, False, False, False])
    # the place first, then every other by score: a sensor holding much of the score stays named (review of explain2)
    assert alert_events.named_order(scores, newest, missing, 0.1).tolist() == [2, 0, 1, 3, 4]
    missing[2] = True                                    # a missing newest reading is at its level (0)
    assert alert_events.named_order(scores, newest, missing, 0.1).tolist() == [1, 0, 2, 3, 4]
    assert alert_events.named_order(np.zeros(3), newest[:3], missing[:3], 0.1).tolist() == [0, 1, 2]


def test_evaluate_counts_an_alert_by_the_sensors_that_raised_it():
    """`stad-agent evaluate`'s alert records (what "FA faulty" and the drivers-only count read) keep the score's top
    sensors and the tracker's drivers, not the order the event names: its figures do not move with the naming."""
    from agent.evaluate.score_file import run_pipeline
    from corridor_seed import BUNDLE
    cfg, f, _ = seed_pipeline(SEED)
    trace = run_pipeline(cfg, f, "tflite", BUNDLE)
    span = f.ts[np.array([e == INCIDENT for e in f.events])]
    (rec,) = [a for a in trace.alerts if span[0] <= a["onset"] <= span[-1] + 180.0][:1]
    assert rec["top_sensors"][0].startswith("S05_"), rec          # the event names S03_flow first
    assert rec["drivers"] and all(d.startswith(("S04_", "S05_", "S06_")) for d in rec["drivers"]), rec
