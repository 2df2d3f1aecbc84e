"""An alert whose cause is judged a sensor fault ends as one (faults4: the grouped frozen mate).

Three sensors of one skid in one group, temp_motor frozen: the alert opens at the freeze (before `stuck` can be
decided), and once `stuck` masks temp_motor the fallback's fusion predicts each mate from the other alone — a
relation it never learned — so on main the alert stays open on the mates to the end. Now the fault re-judges the
alert (AlertTracker.fault_raised): with temp_motor and its mates' fusion part left out nothing is above the
threshold for the hold-back's ticks, so it ends with reason `sensor_fault` naming the fault, and that residue opens
no new alert while the fault lasts.

Real parts: the OPC UA test server's three sines as a 1-s agent samples them, written to a real CSV and replayed
through a Pipeline at the defaults (tests/skid_replay.py); the end event validated against the shipped schema."""
from __future__ import annotations

import json

from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.faults.events import FaultEvent
from payloads import check
from skid_replay import SENSORS, replayed, skid_csv

FROZEN_AT = 60          # ticks: temp_motor held from here on


def _skid(tmp_path, **alerts) -> dict:
    skid_csv(tmp_path / "skid.csv", 400, 1.7, FROZEN_AT)
    return {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid1"} for s in SENSORS],
            "warmup": {"ticks": 40}, "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}],
            "scoring": {"chain": ["numpy"]}, "alerts": alerts}


def test_a_frozen_grouped_sensor_s_alert_ends_with_its_stuck(tmp_path):
    faults, alerts, pipe = replayed(_skid(tmp_path), tmp_path)
    assert [(f.event, f.kind, f.sensor) for f in faults] == [("fault", "stuck", "temp_motor")]
    ends = [a for a in alerts if a.event == "end"]
    assert len(ends) == 1 and ends[0].reason == "sensor_fault"
    assert ends[0].fault == {"fault_id": faults[0].fault_id, "sensor": "temp_motor", "kind": "stuck"}
    assert ends[0].ts > faults[0].ts
    assert not pipe.alerts.active                               # and no new alert on the mates' residue
    check("alert", json.loads(json.dumps(ends[0].to_dict())))
    assert "fault" not in alerts[0].to_dict()                   # every other event's payload as before


def test_the_fault_s_end_lets_new_alerts_be_judged_on_their_own_scores_again(tmp_path):
    config = _skid(tmp_path)
    skid_csv(tmp_path / "skid.csv", 400, 1.7, FROZEN_AT, thawed_at=300)
    faults, alerts, pipe = replayed(config, tmp_path)
    assert [(f.event, f.kind) for f in faults] == [("fault", "stuck"), ("fault_end", "stuck")]
    assert [a.reason for a in alerts if a.event == "end"][:1] == ["sensor_fault"]
    assert pipe.alerts.after_fault is None


def test_with_fault_end_off_the_alert_stays_open_on_the_mates(tmp_path):
    faults, alerts, pipe = replayed(_skid(tmp_path, fault_end=False), tmp_path)
    assert [(f.event, f.kind) for f in faults] == [("fault", "stuck")]
    assert [a.event for a in alerts if a.event == "end"] == [] and pipe.alerts.active


TOPS = {"top_sensors": [{"sensor": "a", "score": 9.0, "contribution": 0.9},
                        {"sensor": "b", "score": 1.0, "contribution": 0.1}], "top_steps": [], "origin": None}


def _fault(fault_id: str, sensor: str, kind: str, start: float, ts: float = -1.0) -> FaultEvent:
    """A raised fault as the tracker tells it (`ts`: its tick; -1: not the alert's last observed tick)."""
    return FaultEvent(fault_id=fault_id, seq=0, event="fault", node="gw", site="site", sensor=sensor, group="",
                      kind=kind, ts=ts, start=start, end=None, evidence={"summary": f"{kind} {sensor}"})


def _opened(cfg: AlertConfig) -> AlertTracker:
    """A tracker with an alert open on sensor a (b under the threshold), opened at t 2 (10-s ticks)."""
    tr = AlertTracker(cfg, "gw", "site", 10.0, hold_ticks=3, fault_ticks=2)
    for t in range(3):
        tr.observe(10.0 * t, 9.0, 5.0, "numpy", dict, lambda: TOPS)
    assert tr.active and tr.open.opened_on == ["a"]
    return tr


def test_only_a_fault_begun_in_the_hold_back_window_or_on_an_opening_driver_as_it_opened_re_judges():
    tr = _opened(AlertConfig())
    start = tr.open.start
    tr.fault_raised(_fault("f1", "b", "spike", start - 31.0))      # not a driver, begun before the window (3 ticks)
    assert tr.open.fault is None
    tr.fault_raised(_fault("f2", "b", "stuck", start - 30.0))      # begun within it
    assert tr.open.fault["fault_id"] == "f2"
    tr.fault_raised(_fault("f3", "a", "dead", start + 20.0))       # a driver when it opened, begun within 2 ticks after
    assert tr.open.fault["fault_id"] == "f3"
    tr.open.fault = None
    tr.fault_raised(_fault("f4", "a", "stuck", start + 30.0))      # begun later: not what opened it
    assert tr.open.fault is None


def test_the_alert_stands_while_something_else_is_above_and_ends_after_the_hold_back_s_ticks():
    tr = _opened(AlertConfig())
    tr.fault_raised(_fault("f1", "a", "stuck", tr.open.start))
    # re-judged above, under, above (the count restarts), under, [a tick under the threshold: not counted], under
    rejudged = iter([6.0, 4.0, 6.0, 4.0, 4.0])
    scores = [9.0, 9.0, 9.0, 9.0, 4.5, 9.0]
    events = [tr.observe(10.0 * t, score, 5.0, "numpy", dict, lambda: tr.open.explain,
                         rejudge=lambda sensor: next(rejudged)) for t, score in zip(range(3, 9), scores)]
    assert [len(e) for e in events] == [0, 0, 0, 0, 0, 1]
    assert (events[-1][0].reason, events[-1][0].fault["fault_id"]) == ("sensor_fault", "f1")
    # while the fault lasts, its re-judged residue opens nothing; a score above without it does
    for t in range(9, 26):
        assert tr.observe(10.0 * t, 9.0, 5.0, "numpy", dict, lambda: TOPS, rejudge=lambda sensor: 4.0) == []
    tr.fault_ended("f1")
    assert tr.after_fault is None
    opened = [e for t in (26, 27) for e in tr.observe(10.0 * t, 9.0, 5.0, "numpy", dict, lambda: TOPS,
                                                      rejudge=lambda sensor: 4.0)]
    assert [e.event for e in opened] == ["new"]


def test_a_fault_that_ends_first_leaves_the_alert_standing_and_the_state_survives_a_checkpoint():
    tr = _opened(AlertConfig())
    tr.fault_raised(_fault("f1", "a", "stuck", tr.open.start))
    state = json.loads(json.dumps(tr.state_dict()))
    again = AlertTracker(AlertConfig(), "gw", "site", 10.0, hold_ticks=3, fault_ticks=2)
    again.restore(state)
    assert again.open.fault == {"fault_id": "f1", "sensor": "a", "kind": "stuck"}
    again.fault_ended("f1")
    assert again.open.fault is None
    assert again.observe(40.0, 9.0, 5.0, "numpy", dict, lambda: again.open.explain, rejudge=lambda s: 0.0) == []
    assert again.active


def test_fault_end_off_never_re_judges():
    tr = _opened(AlertConfig(fault_end=False))
    tr.fault_raised(_fault("f1", "a", "stuck", tr.open.start))
    assert tr.open.fault is None
