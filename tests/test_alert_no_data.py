"""An open alert is not ended by the silence of the sensors it is about (AlertTracker's "no data").

Before: a tick under the threshold counted towards ending an alert whatever it was judged on, and a window that
has lost the alert's own sensors scores low because it cannot see them. A poll that failed mid-incident (a
stalled sender under load did it to tests/test_clock22_host_clock.py) ended the alert `cleared` while the
incident went on. Now such a tick does not count; a silence as long as the window ends the alert `no_data` (the
agent cannot judge it any more; the silence is told as its own fault); a shorter one leaves it to be judged on the
readings that follow.

Real parts: a CSV with the silence as empty cells, replayed through a Pipeline at the defaults
(tests/skid_replay.py's way); the AlertTracker rule on its own below."""
from __future__ import annotations

import csv
import json
import math

from agent.alerts import AlertTracker, iso
from agent.config import AlertConfig
from payloads import check
from skid_replay import START, replayed

SENSORS = ["a", "b", "c"]


def _csv(path, shift_from: int, silent: range, shift_to: int, ticks: int) -> None:
    """1-s rows: three noisy sines; a and b 40 up on [shift_from, shift_to); a and b's cells empty on `silent`."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *SENSORS])
        for k in range(ticks):
            up = 40.0 if shift_from <= k < shift_to else 0.0
            cells = [f"{10.0 * (i + 1) + math.sin(k / 7.0 + i) + 0.3 * math.sin(k * 1.37 * (i + 1)) + (up if i < 2 else 0.0):.6g}"
                     for i in range(3)]
            if k in silent:
                cells[0] = cells[1] = ""
            w.writerow([iso(START + k), *cells])


def _run(tmp_path, silent: range, shift_to: int = 10_000, ticks: int = 400):
    _csv(tmp_path / "plant.csv", 150, silent, shift_to, ticks)
    cfg = {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid"} for s in SENSORS],
           "warmup": {"ticks": 60}, "sources": [{"type": "replay", "path": str(tmp_path / "plant.csv")}],
           "scoring": {"chain": ["numpy"]}}
    return replayed(cfg, tmp_path)


def test_an_alert_whose_sensors_fall_silent_ends_no_data_not_cleared(tmp_path):
    faults, alerts, pipe = _run(tmp_path, silent=range(170, 290))
    assert [a.event for a in alerts][:1] == ["new"] and alerts[0].ts < START + 170
    ends = [a for a in alerts if a.event == "end"]
    # Carried forward to 230 (window.carry_forward_s 60), then missing: a window's length (32 ticks) later it ends
    # (alerts.no_data_ticks: null, the window's steps).
    assert [(e.reason, e.ts - START) for e in ends] == [("no_data", 230.0 + 32 - 1)], \
        [(a.event, a.ts - START, a.reason) for a in alerts]
    assert ends[0].end <= START + 230                      # its end: the last tick it was seen above
    check("alert", json.loads(json.dumps(ends[0].to_dict())))
    # The silence is told on its own: a and b missing, one station fault.
    assert [(f.event, f.kind) for f in faults][:1] == [("fault", "station")]
    assert {k for f in faults for k in (f.evidence or {}).get("kinds", {}).values()} == {"missing"}


def test_a_sensor_silent_within_the_carry_forward_bound_is_still_heard(tmp_path):
    faults, alerts, pipe = _run(tmp_path, silent=range(170, 220))
    assert not faults and not [a for a in alerts if a.event == "end"] and pipe.alerts.active


TOPS = {"top_sensors": [{"sensor": "a", "score": 9.0, "contribution": 0.9}], "top_steps": [], "origin": None}


def _opened() -> AlertTracker:
    tr = AlertTracker(AlertConfig(clear_ticks=3), "gw", "site", 1.0, window_ticks=5)
    for t in range(3):
        tr.observe(float(t), 9.0, 5.0, "numpy", dict, lambda: TOPS, unheard=lambda names: None)
    assert tr.active and tr.open.drivers == ["a"]
    return tr


def test_ticks_that_do_not_hear_a_driver_do_not_count_towards_clearing_it():
    tr = _opened()
    asked = []

    def silent(names):
        asked.append(list(names))
        return "silent"
    for t in range(3, 7):                                       # under the threshold, a not heard: 4 < 5 ticks
        assert tr.observe(float(t), 0.0, 5.0, "numpy", dict, lambda: TOPS, unheard=silent) == []
    assert tr.active and asked[0] == ["a"] and tr.open.unheard == 4
    assert tr.observe(7.0, 9.0, 5.0, "numpy", dict, lambda: TOPS, unheard=silent) == []    # above is above
    assert tr.open.last_above == 7.0 and tr.open.unheard == 0
    tr.observe(8.0, 0.0, 5.0, "numpy", dict, lambda: TOPS, unheard=silent)
    for t in range(9, 20):          # settling after that silence (its score held at 0): not counted either way
        assert tr.observe(float(t), 0.0, 5.0, "numpy", dict, lambda: TOPS, unheard=lambda names: "settling") == []
    assert tr.active and tr.open.unheard == 1
    ends = [e for t in range(20, 23) for e in tr.observe(float(t), 0.0, 5.0, "numpy", dict, lambda: TOPS,
                                                         unheard=lambda names: None)]
    assert [(e.event, e.reason, e.ts) for e in ends] == [("end", "cleared", 22.0)]


def test_settling_after_another_fault_is_judged_as_before():
    tr = _opened()                  # a back from a stuck or spike fault: its readings arrived, no silence before
    ends = [e for t in range(3, 6) for e in tr.observe(float(t), 0.0, 5.0, "numpy", dict, lambda: TOPS,
                                                       unheard=lambda names: "settling")]
    assert [(e.event, e.reason, e.ts) for e in ends] == [("end", "cleared", 5.0)]


def test_no_data_for_the_window_s_length_ends_it_no_data_and_the_state_keeps_the_count():
    tr = _opened()
    for t, why in zip(range(3, 7), ["silent", "silent", "settling", "silent"]):
        tr.observe(float(t), 0.0, 5.0, "numpy", dict, lambda: TOPS, unheard=lambda names: why)
    again = AlertTracker(AlertConfig(clear_ticks=3), "gw", "site", 1.0, window_ticks=5)
    again.restore(json.loads(json.dumps(tr.state_dict())))      # a restart in the silence
    assert again.open.unheard == 3
    ends = [e for t in range(7, 9) for e in again.observe(float(t), 0.0, 5.0, "numpy", dict, lambda: TOPS,
                                                          unheard=lambda names: "silent")]
    assert [(e.reason, e.ts, e.end) for e in ends] == [("no_data", 8.0, 2.0)]
    check("alert", json.loads(json.dumps(ends[0].to_dict())))


def test_a_silence_shorter_than_no_data_ticks_holds_the_alert_until_readings_judge_it(tmp_path):
    _csv(tmp_path / "plant.csv", 150, range(170, 290), 10_000, 400)
    cfg = {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid"} for s in SENSORS],
           "warmup": {"ticks": 60}, "sources": [{"type": "replay", "path": str(tmp_path / "plant.csv")}],
           "scoring": {"chain": ["numpy"]}, "alerts": {"no_data_ticks": 600}}
    faults, alerts, pipe = replayed(cfg, tmp_path)
    # Held through the silence, the `missing` fault's clear_s (60 s) and the window's settling after it; then
    # judged on the readings, still 40 up: the same alert goes on (before: `cleared` at 237, none after).
    assert not [a for a in alerts if a.event == "end"], [(a.event, a.ts - START, a.reason) for a in alerts]
    assert [a.event for a in alerts if a.ts > START + 290] == ["update"] and pipe.alerts.active
    assert {a.alert_id for a in alerts} == {alerts[0].alert_id}

