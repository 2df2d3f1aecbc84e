"""What the recorded-score tests share (tests/test_perf41_recorded_scores.py, tests/test_perf42_layout.py): a
corridor of 8 sensors scored by the numpy fallback alone with a 600-s seasonal profile, an AR(1) stream for it,
and a pipeline's per-tick outputs (sensor scores, tick score, threshold, alert events) as the arrays and JSON
text a fixture holds and a later run is compared with (fault_states.assert_close)."""
from __future__ import annotations

import json

import numpy as np

from agent import alert_events, config
from agent.window import Row

SENSORS = [f"S{i:02d}_{q}" for i in range(2) for q in ("flow", "occ", "speed", "x")]


def pipeline_cfg():
    """A corridor of SENSORS, the fallback alone, a 600-s seasonal profile (60 bins, known after 2 × 60 ticks)."""
    return config.from_dict({"sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": 10, "topology": "corridor",
                             "window": {"steps": 16}, "warmup": {"ticks": 120},
                             "scoring": {"chain": ["numpy"], "numpy": {"seasonal_periods_s": [600.0]}},
                             "alerts": {"min_duration_ticks": 2, "clear_ticks": 3, "update_interval_s": 20}})


def corridor_stream(rows: int, seed: int, t0: float, miss_p: float, gap_every: int, bumps: list[tuple]) -> list[Row]:
    """An AR(1) stream around 20 with a 600-s cycle at 10-s ticks from t0: a share `miss_p` of readings missing,
    S00_x missing two ticks in a row every `gap_every` ticks, and `bumps` (sensor, size, first row, end row)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(len(SENSORS))
    out = []
    for t in range(rows):
        x = 0.7 * x + rng.normal(size=len(SENSORS))
        values = x + 20 + 2.0 * np.sin(2 * np.pi * t / 60)
        for sensor, size, lo, hi in bumps:
            values[sensor] += size if lo <= t < hi else 0.0
        missing = rng.random(len(SENSORS)) < miss_p
        missing[3] |= t % gap_every in (0, 1)
        out.append(Row(ts=t0 + 10.0 * t, values=np.where(missing, np.nan, values), missing=missing,
                       carried=np.zeros(len(SENSORS), bool)))
    return out


class Outputs:
    """Collects step() results in order; `arrays()` is what a fixture stores."""

    def __init__(self, n: int):
        self.n = n
        self.scores, self.tick, self.threshold, self.events = [], [], [], []

    def add(self, res) -> None:
        self.scores.append(np.zeros(self.n) if res.sensor_scores is None else res.sensor_scores)
        self.tick.append(np.nan if res.score is None else res.score)
        self.threshold.append(np.nan if res.threshold is None else res.threshold)
        self.events.append([[e.seq, e.event, e.ts, e.start, e.end, e.score, e.peak_score, e.threshold,
                             e.tier, e.top_sensors] for e in res.alerts or []])

    def arrays(self) -> dict:
        return {"scores": np.array(self.scores, np.float64), "tick": np.array(self.tick, np.float64),
                "threshold": np.array(self.threshold, np.float64), "events": json.dumps(self.events)}


def named_apart(events: list, recorded: list) -> None:
    """explain2: an alert names its sensors by where (agent/alert_events.py `named_order`), a rule of what it says,
    not of the scores a fixture pins: each event's top sensors are taken out of both (in place) after checking the
    same events stand on the same ticks and each names first a sensor scoring at least NAMED_AMONG of the top score
    the recording named first (its order was the score's)."""
    assert [len(tick) for tick in events] == [len(tick) for tick in recorded]
    for tick, recorded_tick in zip(events, recorded):
        for e, r in zip(tick, recorded_tick):
            tops, recorded_tops = e.pop(9), r.pop(9)
            assert tops[0]["score"] >= alert_events.NAMED_AMONG * recorded_tops[0]["score"] - 1e-4, (tops, recorded_tops)
