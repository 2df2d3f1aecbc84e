"""A sensor flat through the warm-up that then moves scores in units of the std floor (`warmup.flat_sensors:
score`, the default) — its own alert, by design; its healthy neighbours must not be named with it (faults18, of
review43's finding 2: the pump at ~2e10, S04_speed / S02_speed at ~9e7 / 2e7 through the fallback's fusion, whose
neighbour mean took the pump's floor-unit value as an input).

A real `python -m agent run` on real CSVs (the corridor simulator at 30-s ticks): warmed up on a 4-hour recording
in which S03_speed reads 0 throughout (a pump at rest), then live with it at 0 for 20 minutes and running after; and
the same warm-up in process, through a real checkpoint (the bound is kept by a restart; a checkpoint from before
faults18 restores, unbounded as then)."""
from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys

import numpy as np
import yaml

from agent.checkpoint import decode, encode
from agent.config import NumpyScorerConfig, from_dict
from agent.pipeline import Pipeline
from agent.records import Rejects
from agent.scorers.numpy_fallback import NumpyScorer
from agent.warmup import read_replay
from agent.window import Row, WindowBuffer

from agent.sources.lines import parse_time
from conftest import agent_env
from recorded_warmup import SENSORS, write

FIRST = "2026-01-05T08:00:00Z"
REST_TICKS = 40             # 20 minutes at rest live, then as simulated


def recorded(tmp_path) -> dict:
    """The 4-hour recording with the pump at rest, the live CSV (at rest REST_TICKS, then running), the config."""
    seen = [0]

    def at_rest(values):
        values["S03_speed"] = 0.0

    def rests_then_runs(values):
        if seen[0] < REST_TICKS:
            values["S03_speed"] = 0.0
        seen[0] += 1
    write(tmp_path / "clean" / "day.csv", "2026-01-05T04:00:00Z", 4, seed=3, edit=at_rest)
    write(tmp_path / "live.csv", FIRST, 2, seed=5, edit=rests_then_runs)
    cfg = {"tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
           "sources": [{"type": "replay", "path": "live.csv"}],
           "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": 480, "replay": "clean"},
           "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "events.jsonl"}],
           "state_dir": "state"}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    return cfg


def test_a_flat_sensor_that_starts_alerts_alone_its_neighbours_stay_under_the_threshold(tmp_path):
    recorded(tmp_path)
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    assert "S03_speed: did not move in this warm-up" in run.stderr, run.stderr[-3000:]
    alerts = [a for a in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines())
              if a.get("kind") == "alert" and a.get("event") in ("new", "update", "end")]
    runs_at = parse_time(FIRST) + REST_TICKS * 30.0
    naming = [a for a in alerts if any(t["sensor"] == "S03_speed" for t in a["top_sensors"])]
    # the pump's own start: an alert naming it first, in units of the floor, once it runs
    assert naming and min(parse_time(a["ts"]) for a in naming) >= runs_at, naming
    assert max(t["score"] for a in naming for t in a["top_sensors"] if t["sensor"] == "S03_speed") > 1e6, naming
    # its neighbours are not told anomalous because of it: every other sensor it is named with is under the threshold
    beside = [(a["ts"], t["sensor"], t["score"], a["threshold"]) for a in naming for t in a["top_sensors"]
              if t["sensor"] != "S03_speed" and t["score"] >= a["threshold"]]
    assert not beside, beside


def test_the_bound_is_kept_by_a_restart_and_an_older_checkpoint_restores_unbounded(tmp_path):
    cfg_dict = recorded(tmp_path)
    cfg_dict |= {"warmup": {"ticks": 480, "replay": str(tmp_path / "clean")}, "state_dir": str(tmp_path / "state")}
    cfg = from_dict(cfg_dict)
    warmed = Pipeline(cfg)
    warmed.warm_up_from(read_replay(cfg, Rejects())[0])
    names = cfg.sensor_names()
    with (tmp_path / "live.csv").open() as fh:
        live = [Row(parse_time(r["timestamp"]), np.array([float(r[s]) for s in names]), np.zeros(len(names), bool),
                    np.zeros(len(names), bool)) for r in csv.DictReader(fh)]
    pump = names.index("S03_speed")
    state = decode(encode({}, warmed.state_dict()))[1]
    older = decode(encode({}, warmed.state_dict()))[1]
    del older["numpy"]["fusion"]["inputs"]          # as a checkpoint from before faults18 holds it

    def peaks(restored_state) -> tuple[float, float]:
        """A pipeline restored from it over the live rows, once the pump runs: the pump's peak score, and the
        others' peak over the threshold."""
        again = Pipeline(cfg)
        again.restore(restored_state)
        stepped = [again.step(row).sensor_scores for row in live[:REST_TICKS + 30]]
        scores = np.array([s for s in stepped[REST_TICKS:] if s is not None])
        assert len(scores) >= 20, stepped
        over = scores / again.detector.threshold("numpy")
        return float(scores[:, pump].max()), float(np.delete(over, pump, axis=1).max())
    pump_peak, others = peaks(state)                 # measured: ~8.4e9, 0.90 of the threshold
    assert pump_peak > 1e6 and others < 1.0, (pump_peak, others)
    pump_peak, others = peaks(older)                 # restores; its neighbours unbounded as before (~1.4e7)
    assert pump_peak > 1e6 and others > 1e3, (pump_peak, others)


def test_with_a_sensor_bounded_the_next_ticks_flat_path_is_the_parts_path_bit_for_bit():
    """NumpyScorer._next_score against the parts' own methods (_score_any) on a twin, as
    tests/test_fallback_joint.py does (its stream), with sensor 1 flat through the fit and bounded, then far out of that range
    (~1e9, as a started pump in floor units): the same scores bit for bit, and its neighbours' the same as with it
    left at its warm-up value."""
    n, steps, tick = 5, 16, 60.0
    rng = np.random.default_rng(11)                     # a normalised AR(1) stream, 0 where missing
    x = np.zeros((900, n))
    for t in range(1, len(x)):
        x[t] = 0.7 * x[t - 1] + rng.normal(0, 1, n)
    missing = rng.random(x.shape) < 0.05
    z, ts = np.where(missing, 0.0, x).astype(np.float32), np.arange(len(x)) * tick
    z[:400, 1] = 0.0
    started = z.copy()
    started[400:, 1] = 1e9
    adj = np.ones((n, n)) - np.eye(n)
    runs = {}
    for name, zs in (("at rest", z), ("started", started)):
        flat = NumpyScorer(n, adj, NumpyScorerConfig(seasonal_periods_s=[3600.0]), tick_s=tick, steps=steps)
        flat.fusion.bound_inputs(zs[:400], missing[:400], np.arange(n) == 1)
        flat.fit(zs[:400], missing[:400], ts[:400])
        parts = copy.deepcopy(flat)
        assert parts.fusion.bounded
        bufs = WindowBuffer(steps, n), WindowBuffer(steps, n)
        scores, paths = [], set()
        for t in range(400 - steps, len(zs)):
            for buf in bufs:
                buf.push(zs[t], missing[t], ts[t])
            if t < 400 or t % 37 == 0:
                continue
            a = flat._next_score(bufs[0], float(ts[t]))
            paths.add(a is not None)
            a = a or flat._score_any(bufs[0])
            b = parts._score_any(bufs[1])
            assert np.array_equal(a.sensor_scores, b.sensor_scores) and a.score == b.score, (name, t)
            scores.append(a.sensor_scores)
            for scorer, buf in zip((flat, parts), bufs):
                scorer.observe(buf)
                scorer.learn(buf)
        assert paths == {True, False}, paths
        assert encode({}, flat.state_dict()) == encode({}, parts.state_dict())
        runs[name] = np.array(scores)
    assert runs["started"][:, 1].max() > 1e6
    # its neighbours scored as with it at rest, bit for bit, every tick (what they learn is the same too)
    others, at_rest = (np.delete(runs[k], 1, axis=1) for k in ("started", "at rest"))
    assert np.array_equal(others, at_rest), abs(others - at_rest).max()
