"""The corridor at fast ticks, for the tests that restore a checkpoint written there (clock20).

bench/faults.py's corridor (18 loop sensors, the shipped fault settings, the numpy tier) with its
simulator's 30-s rows rescaled to `tick_s`, as `bench/restart.py --tick-s` runs it: at 1-ms ticks
stuck's ring is 600,000 rows and drift's departures 1.2 million, of which a short run holds a few
hundred. `outputs` is what a tick decides, as comparable plain values: its score, threshold, tier,
per-sensor scores, label and event, its alert and fault events (their per-life ids left out: a
restarted agent is another life). tests/fixtures/make_clock20_fixture.py writes a checkpoint with
this module and what main's code decided after restoring it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

from agent import config
from fault_states import text as state_text

REPO = Path(__file__).resolve().parents[1]


def _faults_bench():
    spec = importlib.util.spec_from_file_location("bench_faults_fast_ticks", REPO / "bench" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corridor(tick_s: float, ticks: int, warmup: int = 120, settings: tuple = ("faults.drift_moved_alone=true",)):
    """(config, rows): the corridor at `tick_s`, its first `ticks` rows; `drift_moved_alone` on by default,
    so the log readings' rings are checkpointed beside the departures'."""
    faults = _faults_bench()
    base = faults.with_settings(faults.config_dict("corridor", 0, ticks / 120.0 + 1.0), list(settings))
    rows = faults.simulated_rows(config.from_dict(base))[:ticks]
    cfg = config.from_dict({**base, "tick_s": tick_s, "warmup": {"ticks": warmup},
                            "window": {**base["window"], "carry_forward_s": 3 * tick_s},
                            "alerts": {**base["alerts"], "update_interval_s": 10 * tick_s}})
    return cfg, [dataclasses.replace(r, ts=round(r.ts / 30.0) * tick_s) for r in rows]


def fixed_lives(pipe) -> None:
    """The per-life parts of alert and fault ids fixed, so two lives' events compare."""
    pipe.health.life = "0f0f0f"
    pipe.detector.tracker.life = "0f0f0f"


def outputs(result) -> dict:
    """What a tick decided, as plain values (NaN as None)."""
    def num(x):
        return None if x is None or x != x else float(x)
    alerts = [{k: v for k, v in a.to_dict().items() if k != "alert_id"} for a in result.alerts]
    faults = [{k: v for k, v in f.to_dict().items() if k != "fault_id"} for f in result.faults]
    scores = None if result.sensor_scores is None else [num(v) for v in np.asarray(result.sensor_scores).tolist()]
    return {"ts": result.ts, "warming": result.warming, "score": num(result.score), "threshold": num(result.threshold),
            "tier": result.tier, "sensor_scores": scores, "label": result.label, "event": result.event,
            "alerts": alerts, "faults": faults}


def digests(outs: list[dict]) -> dict:
    """A run's outputs in a form two runs on one machine compare by: each tick's sha256 (of its outputs as
    sorted JSON text) and, in full, the ticks with alert or fault events."""
    text = [json.dumps(o, sort_keys=True) for o in outs]
    return {"tick_sha256": [hashlib.sha256(t.encode()).hexdigest()[:16] for t in text],
            "events": [[k, json.loads(t)] for k, (o, t) in enumerate(zip(outs, text)) if o["alerts"] or o["faults"]]}


def state_digest(pipe) -> str:
    """sha256 of the pipeline's whole state as comparable text (every value and array)."""
    return hashlib.sha256(state_text(pipe.state_dict()).encode()).hexdigest()


def state_summary(state):
    """`state` with each array replaced by its dtype, shape, NaN count and three sums that cannot cancel
    (of |x|, of x², and of |x| weighted by position): what a fixture written on one machine keeps of a
    state for another machine to compare to 1e-9 relative (fault_states.assert_close) — whole, a 1-ms
    tracker's rings are tens of MB, and their floats' last bits differ between CPUs."""
    if isinstance(state, dict):
        return {k: state_summary(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [state_summary(v) for v in state]
    if isinstance(state, np.ndarray):
        flat = state.reshape(-1)
        if flat.dtype.kind not in "fiub":
            return {"dtype": str(state.dtype), "shape": list(state.shape), "values": flat.tolist()}
        x = np.abs(flat.astype(np.float64))
        nan = np.isnan(x)
        x[nan] = 0.0
        return {"dtype": str(state.dtype), "shape": list(state.shape), "nan": int(nan.sum()),
                "sum_abs": float(x.sum()), "sum_sq": float((x * x).sum()),
                "sum_pos": float((x * np.arange(1, x.size + 1)).sum())}
    if isinstance(state, np.generic):
        return state.item()
    return state


def with_faults(rows: list, at: int) -> list:
    """`rows` with sensor faults around tick `at` (a checkpoint's): S02_occ silent from 40 ticks before it
    for 100 ticks (open across the checkpoint), S03_flow spiking to 8× at `at` + 50 and S05_speed
    reading −5 (out of range) for 20 ticks from `at` + 90."""
    out = list(rows)
    names = [f"S{i:02d}_{m}" for i in range(1, 7) for m in ("flow", "occ", "speed")]

    def changed(k: int, j: int, value: float) -> None:
        r = out[k]
        values, missing = r.values.copy(), r.missing.copy()
        values[j], missing[j] = value, value != value
        out[k] = dataclasses.replace(r, values=values, missing=missing)

    for k in range(at - 40, at + 60):
        changed(k, names.index("S02_occ"), float("nan"))
    changed(at + 50, names.index("S03_flow"), 8.0 * float(out[at + 50].values[names.index("S03_flow")]))
    for k in range(at + 90, at + 110):
        changed(k, names.index("S05_speed"), -5.0)
    return out
