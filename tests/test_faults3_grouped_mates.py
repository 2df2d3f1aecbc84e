"""A frozen sensor in a group is a `stuck` fault, not its mates' incident (faults3).

faults2 left it open: three sensors of one skid in one `group`, temp_motor frozen. The fallback's fusion predicts
each sensor from the mean of its observed neighbours with weights learned on the mean of all of them: once the
`stuck` masked temp_motor the mean was accel1's alone — another quantity — and the alert the freeze raised stayed
open on pressure. Now a sensor faulty of a kind whose readings are wrong as values does not vouch for its
neighbours: their fusion part is off while it is (NumpyScorer.distrust, from FaultTracker.suspects), and the alert
ends with the fault. And a candidate whose reading is carried forward on a tick stays one (no rule had new
evidence), its hold-back not counting that tick: a frozen value re-sent late now and then no longer opens its alert
on the tick it was no suspect.

Real parts: the OPC UA test server's three sines (tests/opcua_server.py) as a 1-s agent samples them, written to a
real CSV and replayed through a Pipeline at the defaults, and through a real `stad-agent run` with a jsonl sink."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import yaml

from agent import config
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import WindowBuffer
from conftest import agent_env
from skid_replay import SENSORS, START, replayed, skid_csv

FROZEN_AT = 60          # ticks: temp_motor held from here on


def skid_config(tmp_path, faults: dict | None = None, grouped: bool = True) -> dict:
    return {"tick_s": 1.0, "topology": "group",
            "sensors": [{"name": n, "group": "skid1"} for n in SENSORS] if grouped else SENSORS,
            "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}], "warmup": {"ticks": 40},
            "scoring": {"chain": ["numpy"]}, "faults": faults or {}}


def test_the_alert_a_frozen_mate_raised_ends_with_its_stuck(tmp_path):
    # At the defaults: the freeze opens an alert at once (temp_motor 67, pressure 30: pressure's fusion reads the
    # frozen mate, and it is no suspect). main: still open on pressure (75) after the stuck, to the end; now it ends
    # clear_ticks after it, its mates' fusion off while temp_motor is stuck.
    skid_csv(tmp_path / "skid.csv", 300, 1.7, FROZEN_AT)
    faults, alerts, pipe = replayed(skid_config(tmp_path), tmp_path)
    [stuck] = faults
    assert (stuck.event, stuck.kind, stuck.sensor) == ("fault", "stuck", "temp_motor")
    assert stuck.ts - (START + FROZEN_AT) <= 92.0
    said = [(a.event, a.reason) for a in alerts if a.event != "update"]
    assert said == [("new", None), ("end", "cleared")], said
    assert stuck.ts <= alerts[-1].ts <= stuck.ts + pipe.cfg.alerts.clear_ticks
    assert pipe.health.suspects().tolist() == [False, False, True]


def test_a_frozen_value_re_sent_late_waits_for_its_stuck(tmp_path):
    # Ungrouped, temp_motor's held value missing from every 10th tick of the hold (carried forward: its `stuck`
    # comes that much later, a carried tick is not counted). main opened the alert during the hold (on a carried
    # tick no rule's condition held: no suspect, no wait); now the candidate stays one on a carried tick, and its
    # wait does not count the tick.
    skid_csv(tmp_path / "skid.csv", 300, 1.7, FROZEN_AT, late_every=10)
    faults, alerts, _ = replayed(skid_config(tmp_path, grouped=False), tmp_path)
    assert [(f.event, f.kind, f.sensor) for f in faults] == [("fault", "stuck", "temp_motor")]
    assert [a for a in alerts if a.ts < faults[0].ts + 30] == []


def test_an_alert_opened_before_the_stuck_ends_with_it_in_a_real_run(tmp_path):
    # A short hold-back (configs/skab.yaml's 3 s) lets the alert open on temp_motor before `stuck` can be decided.
    # main: it stays open on pressure and accel1 until the input ends; now it ends within clear_ticks of the stuck.
    skid_csv(tmp_path / "skid.csv", 300, 1.7, FROZEN_AT)
    cfg = {**skid_config(tmp_path, {"holdback_s": 3}), "node": {"id": "skid"}, "state_dir": "state",
           "sinks": [{"type": "jsonl", "path": "events.jsonl"}]}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=tmp_path,
                         env=agent_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]

    def at(e) -> float:
        return dt.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp() - START
    said = [(e["event"], e.get("kind"), e.get("reason")) for e in events if e["event"] != "update"]
    assert said == [("new", "alert", None), ("fault", "stuck", None), ("end", "alert", "cleared"),
                    ("fault_end", "stuck", "shutdown")], said
    new, stuck, end, _ = (e for e in events if e["event"] != "update")
    assert new["top_sensors"][0]["sensor"] == "temp_motor" and stuck["sensor"] == "temp_motor"
    clear_ticks = config.from_dict(cfg, base_dir=str(tmp_path)).alerts.clear_ticks
    assert at(stuck) <= at(end) <= at(stuck) + clear_ticks + 1


def test_a_suspect_turns_off_its_neighbours_fusion_score_only():
    # Sensors 0-1-2 in a line (corridor-like adjacency): 1 is a suspect, so 0's and 2's fusion part is off (their
    # score is their AR and Markov parts); 1's own score, what every part learns, and every tick with no suspect
    # as before: the distrusting scorer's state stays bit for bit the trusting one's.
    rng = np.random.default_rng(3)
    n, steps = 3, 16
    adjacency = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float)
    cfg = config.from_dict({"sensors": ["a", "b", "c"], "sources": [{"type": "stdin"}]}).scoring.numpy
    base = rng.standard_normal(400).cumsum() * 0.1
    z = (base[:, None] + 0.3 * rng.standard_normal((400, n))).astype(np.float32)
    missing = np.zeros_like(z, bool)
    trusting, distrusting = NumpyScorer(n, adjacency, cfg, steps=steps), NumpyScorer(n, adjacency, cfg, steps=steps)
    for s in (trusting, distrusting):
        s.fit(z[:300], missing[:300])
    suspect = np.array([False, True, False])
    win_a, win_b = WindowBuffer(steps, n), WindowBuffer(steps, n)
    for t in range(300, 400):
        for win in (win_a, win_b):
            win.push(z[t], missing[t], float(t))
        if t < 300 + steps:
            continue
        a = trusting.score(win_a).sensor_scores.copy()
        distrusting.distrust(suspect if t % 2 else None)
        b = distrusting.score(win_b).sensor_scores.copy()
        parts = distrusting._parts
        if t % 2:
            assert np.array_equal(b[[0, 2]], (parts[0] + parts[2])[[0, 2]]) and b[1] == a[1]
            assert (b[[0, 2]] <= a[[0, 2]]).all() and not np.array_equal(b, a)
        else:
            assert np.array_equal(b, a)
        trusting.learn(win_a)
        distrusting.learn(win_b)
    assert np.array_equal(trusting.fusion.rls.w, distrusting.fusion.rls.w)
