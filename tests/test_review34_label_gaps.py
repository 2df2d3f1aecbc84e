"""A tick no record was read for inside a labelled anomaly is labelled anomalous too, not trained as normal (review34).

The aligner carries a sensor's last reading over a tick without one (`window.carry_forward_s`), so such a tick
holds the values of the tick before it; its label, though, came only from a record, and a tick without records had
none: a one-second gap of the logger inside a labelled anomaly became a *normal* training target holding the
anomaly's readings, and went into the normaliser's fit and the threshold's calibration as normal. Every one of
SKAB's 30 labelled files has such gaps (793 empty seconds inside anomalies; valve1/0.csv 19, other/12.csv 61 of
them carried, so trained as normal, under configs/skab.yaml's 5-s carry-forward).

Real parts: a `;`-separated CSV in SKAB's layout read by the replay source, convert.data.read_series and the
windows train.py fits on.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from agent.config import from_dict
from convert.data import fit_normaliser, read_series, windows_between

T0 = datetime(2020, 3, 9, 10, 0, 0, tzinfo=timezone.utc)
ROWS, ANOMALY, GAPS, STEPS = 400, range(200, 260), (210, 230, 259, 261), 8


def _recording(tmp_path):
    """Rows once a second; labelled 1 in ANOMALY (values +50), no row at the seconds in GAPS (inside the anomaly,
    on its last second, and the second after its end — that one carries a normal row's values)."""
    rng = np.random.default_rng(3)
    lines = ["datetime;a;b;anomaly"]
    for i in range(ROWS):
        if i in GAPS:
            continue
        bump = 50.0 if i in ANOMALY else 0.0
        a, b = rng.normal(10, 1) + bump, rng.normal(5, 1) + bump
        lines.append(f"{(T0 + timedelta(seconds=i)).strftime('%Y-%m-%d %H:%M:%S')};{a:.4f};{b:.4f};"
                     f"{1.0 if i in ANOMALY else 0.0}")
    path = tmp_path / "run.csv"
    path.write_text("\n".join(lines) + "\n")
    cfg = from_dict({"node": {"id": "n", "site": "s"}, "tick_s": 1, "sensors": [{"name": "a"}, {"name": "b"}],
                     "sources": [{"type": "replay", "path": str(path), "separator": ";", "time_column": "datetime",
                                  "label_columns": ["anomaly"]}],
                     "window": {"steps": STEPS, "carry_forward_s": 5}, "warmup": {"ticks": 50}},
                    base_dir=str(tmp_path))
    return read_series(cfg, cfg.sources, split="time")


def test_a_second_without_a_row_inside_a_labelled_anomaly_is_no_normal_target(tmp_path):
    s = _recording(tmp_path)
    tick = {round(float(t) - T0.timestamp()): k for k, t in enumerate(s.ts)}     # second of the recording -> row
    assert len(s) == ROWS and set(tick) == set(range(ROWS))       # one segment, every second a tick
    for gap in (210, 230, 259):
        k = tick[gap]
        assert not s.missing[k].any(), "the case: the anomaly's values carried over the gap"
        assert s.raw[k, 0] > 40, "the case: the carried values are the anomaly's"
        assert s.anomalous[k], f"second {gap} (no row, inside the labelled anomaly) trained as normal"
    assert not s.anomalous[tick[261]], "the second after the anomaly carries a normal row: normal"
    assert not s.anomalous[tick[260]] and not s.anomalous[tick[199]]
    # the windows train.py fits on (one segment: window k ends on row k + STEPS - 1): none ending on the anomaly's
    # values is a target
    z = fit_normaliser(s, s.split).apply(s.raw)
    w = windows_between(z, s.missing, s.anomalous, STEPS, 0, len(s), s.segment)
    raw_newest = s.raw[np.arange(len(w)) + STEPS - 1, 0]
    assert not (w.usable & (raw_newest > 40)).any(), "a window ending on the anomaly's values is a training target"
