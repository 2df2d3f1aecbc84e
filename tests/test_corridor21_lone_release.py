"""faults.lone_release (agent/faults/holdback.py, corridor21): an exceedance held back for a lone driver that no
fault rule suspected, fallen back during the wait, opens when the wait runs out if no rule suspects it by then,
dated from its first tick above the threshold; a wait with a suspect in it is never released. The HoldBack itself, the alert tracker's idle rule, and the agent's own
Pipeline on the corridor (the demo int8 tier, a queue the wait lost) and on the pump (a lone drift: still held)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.faults.holdback import HoldBack
from agent.typed import ConfigError
from conftest import bench_module

ROOT = Path(__file__).resolve().parents[1]
TICK = 30.0
CONTEXT = [np.array([1, 2]), np.array([0, 2]), np.array([0, 1])]
NONE = np.zeros(3, bool)
FIRST = np.array([True, False, False])
LONE = np.array([2.0, 0.2, 0.1])        # sensor 0 over the threshold 1.0, its mates calm


def held_then_released(release: bool, suspect_at: int | None = None, suspect_later: bool = False,
                       held: int = 2, scores=LONE) -> bool:
    """`held` ticks asked and held, then the score falls back: released when the wait runs out (3 ticks from its
    first: holdback_s 90)? `suspect_at`: the held tick on which sensor 0 is a pending candidate (None: never);
    `suspect_later`: a drift candidate on the tick the wait runs out."""
    hb = HoldBack(TICK, holdback_s=90, drift_holdback_s=600, lone_holdback_s=0, corroborate=0.5, release=release)
    for k in range(held):
        suspect = FIRST if k == suspect_at else NONE
        assert hb.hold(1000.0 + TICK * k, scores, 1.0, CONTEXT, suspect, NONE, NONE)
    k, verdict = held, None
    while verdict is None:
        verdict = hb.released(1000.0 + TICK * k, NONE, FIRST if suspect_later and k == 3 else NONE)
        assert verdict is not None or k < 3            # asked again until the wait runs out, not after
        k += 1
    assert not verdict or k - 1 == 3                   # released on the tick the wait runs out
    return verdict


def test_an_unsuspected_lone_wait_that_falls_back_is_released_when_the_wait_runs_out():
    assert held_then_released(True) and held_then_released(True, held=1) and held_then_released(True, held=3)
    assert not held_then_released(False)                     # the key off: as before, never
    hb = HoldBack(TICK, holdback_s=90, drift_holdback_s=600, lone_holdback_s=600, corroborate=0.5, release=True)
    assert hb.hold(1000.0, LONE, 1.0, CONTEXT, NONE, NONE, NONE)
    assert [hb.released(1000.0 + TICK * k, NONE, NONE) for k in (1, 19, 20, 21)] == [None, None, True, False]


def test_a_wait_with_a_suspect_in_it_is_never_released():
    assert not held_then_released(True, suspect_at=0)        # a pending candidate as it began…
    assert not held_then_released(True, suspect_at=1)        # …or later in the wait
    assert not held_then_released(True, suspect_later=True)  # a drift candidate by the time the wait runs out
    hb = HoldBack(TICK, holdback_s=90, drift_holdback_s=600, lone_holdback_s=0, corroborate=0.5, release=True)
    assert hb.hold(1000.0, LONE, 1.0, CONTEXT, NONE, NONE, NONE)
    assert hb.released(1030.0, FIRST, NONE) is False         # judged faulty (or a candidate) after it fell back
    assert hb.released(1090.0, NONE, NONE) is False          # …and that wait is never released after
    # a suspect's wait that is not lone (a mate at 0.8 × the threshold corroborates it) is not released either
    assert not held_then_released(True, suspect_at=0, held=1, scores=np.array([2.0, 0.8, 0.1]))


def explain():
    return {"top_sensors": [{"sensor": "a", "score": 2.0, "contribution": 1.0}], "top_steps": [], "origin": "a"}


def model():
    return {"model_id": "m"}


def test_the_alert_tracker_opens_a_released_exceedance_dated_from_its_first_tick_over():
    """min_duration 2, hold 3 ticks: over on ticks 0–2 (held on 1 and 2), under from tick 3; its release asked from
    tick 3 on, answering "ask again" on tick 3, then its verdict on tick 4: opened there, its start tick 0's, its peak
    the held ticks', its end (by the calm rules) its last tick over; never released: nothing."""
    events, asked = {}, []
    for verdict in (True, False):
        tracker = AlertTracker(AlertConfig(min_duration_ticks=2, clear_ticks=2, cooldown_ticks=0), "gw", "site", TICK,
                               hold_ticks=3)
        out = []
        for k, score in enumerate([1.5, 2.5, 1.8, 0.2, 0.1, 0.1, 0.1, 0.1]):
            def release(k=k, verdict=verdict):
                asked.append((verdict, k))
                return None if k == 3 else verdict
            out += tracker.observe(1000.0 + TICK * k, score, 1.0, "numpy", model, explain, hold=lambda: True,
                                   release=release)
        events[verdict] = out
    assert events[False] == [] and asked == [(True, 3), (True, 4), (False, 3), (False, 4)]
    new, end = events[True]
    assert (new.event, new.ts, new.start, new.peak_score, new.ticks) == ("new", 1120.0, 1000.0, 2.5, 3)
    assert (end.event, end.reason, end.end) == ("end", "cleared", 1060.0)
    # over again before its verdict: the fallen-back one is dropped, the new exceedance has its own wait
    tracker = AlertTracker(AlertConfig(min_duration_ticks=2, cooldown_ticks=0), "gw", "site", TICK, hold_ticks=3)
    out = []
    for k, score in enumerate([1.5, 2.5, 0.2, 1.5, 0.2, 0.1]):
        out += tracker.observe(1000.0 + TICK * k, score, 1.0, "numpy", model, explain, hold=lambda: True,
                               release=lambda k=k: None if k == 2 else True)
    assert out == []


def test_the_key_is_typed():
    assert config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}]}).faults.lone_release is False
    with pytest.raises(ConfigError, match=r"faults\.lone_release"):
        config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}], "faults": {"lone_release": "often"}})


def corridor_run(seed: int, sets: list[str]) -> tuple[list[dict], list, np.ndarray, np.ndarray]:
    """The corridor bench's seed (demand queue, graded incidents), the demo int8 tier through the agent's Pipeline as
    bench/accuracy.py replays it: (alert events, fault events, timestamps, labelled event names)."""
    from agent.evaluate.labelled import labelled_source, load_files, protocol_of
    from agent.evaluate.score_file import model_tier
    from agent.pipeline import Pipeline
    accuracy = bench_module("accuracy")
    bundle = str(ROOT / "agent/models/demo-corridor")
    cfg = accuracy.corridor_config(["scoring.latency_budget_ms=100000", *sets], bundle, "incidents", (0.02, 1.0), seed,
                                   False, "demand")
    src = labelled_source(cfg, None)
    (f,), _ = load_files(cfg, src, protocol_of(src))
    cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                              scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, _ = model_tier(cfg, "tflite", bundle)
    pipe = Pipeline(cfg, tiers=tiers, warmup_ticks=f.train_ticks)
    alerts, faults = [], []
    for row in f.rows:
        res = pipe.step(row)
        alerts += [{"event": a.event, "ts": a.ts, "start": a.start, "end": a.end, "tops": a.top_sensors}
                   for a in res.alerts]
        faults += res.faults
    return alerts, faults, np.asarray(f.ts), np.array([e or "" for e in f.events])


def test_the_corridors_lone_queue_the_wait_lost_opens_as_it_falls_back():
    """Corridor seed 14 (a tuning seed), incident 8 at S04: a queue seen by S04_flow alone for two ticks (1.04 × the
    tier's threshold), held back as a lone driver and fallen back before the wait ran out — lost as shipped. With
    the key it opens when the wait runs out, dated from its first tick over, S04_flow on top, and no fault is raised."""
    runs = {on: corridor_run(14, [f"faults.lone_release={'true' if on else 'false'}"]) for on in (False, True)}
    _, _, ts, events = runs[True]
    span = ts[events == "incident-8@S04"]
    lo, hi = span[0], span[-1] + 180.0                     # the bench's match: the labelled span + its tolerance

    def raised(alerts):
        return [a for a in alerts if a["event"] == "new" and lo <= a["ts"] and a["start"] <= hi]
    assert raised(runs[False][0]) == []
    [new] = raised(runs[True][0])
    assert new["ts"] - new["start"] == 4 * TICK and new["tops"][0]["sensor"] == "S04_flow"   # over 2, the wait 3
    [end] = [a for a in runs[True][0] if a["event"] == "end" and a["start"] == new["start"]]
    assert end["end"] == new["start"] + TICK               # its last tick over
    assert not [f for f in runs[True][1] if f.sensor == "S04_flow" and lo - 600 <= f.ts <= hi + 600]


def test_a_lone_drift_on_the_pump_is_still_held_with_the_key(tmp_path):
    """bench/faults.py's pump (seed 0, roadside waits): temp_fluid drifts from 13:00, its skid calm. Its alert
    waits as a drift candidate's — a suspect's, so never released — and no alert opens, key on as off."""
    from test_faults import pump_drift_csv, replay
    bench = bench_module("faults")
    base = bench.config_dict("pump", 0, 14.0)
    path, at = pump_drift_csv(tmp_path, "temp_fluid", 0, "pump-lone-drift.csv")
    cfg = config.from_dict({**base, "sources": [{"type": "replay", "path": str(path)}], "sinks": [],
                            "faults": {**base["faults"], "lone_release": True}}, base_dir=str(tmp_path))
    _, alerts, pipe = replay(cfg)
    assert not [a for a in alerts if a.ts >= at]
    assert pipe.health.held_alerts > 0
