"""Sensors whose readings lie further apart than `window.carry_forward_s` holds one: refused before training (user38).

A plant historian's "recorded" export writes a tag's value only when it changed past its deadband (report by
exception, compression): a blank cell means *unchanged*. The aligner holds a reading for `carry_forward_s`, then the
sensor is missing — right for a live feed that went silent, wrong for such an export. user38's pump station (weekly
exports of SKAB's pump at 1-min ticks, a 0.1 °C deadband on the temperatures) trained with the fluid temperature
missing on 99.5 % of the ticks and the vibrations on 76–84 %: said only as a share on the `missing on:` line, exit 0,
a model that learnt those sensors as masks while the gateway reads them at every poll. The signature is told apart
from a column that is absent or blank (file_checks' notes say those) by the readings' spacing: the sensor is read, but
most of the time between its readings is past the carry.
"""
from __future__ import annotations

import math

import numpy as np

from agent.records import Record

#: A sensor missing on more than this share of the ticks, its readings spaced past the carry, refuses training.
MAX_MISSING_SHARE = 0.5


def reading_gaps(recordings: list[tuple[str, list[Record]]], sensor: str) -> np.ndarray:
    """Seconds between one sensor's consecutive finite readings, each recording (file) on its own."""
    out = []
    for _, records in recordings:
        ts = np.array([r.ts for r in records if math.isfinite(r.values.get(sensor, math.nan))])
        if ts.size > 1:
            out.append(np.diff(np.sort(ts)))
    return np.concatenate(out) if out else np.zeros(0)


def row_spacing(recordings: list[tuple[str, list[Record]]]) -> float:
    """The median seconds between consecutive records (of any sensor) of each recording: the rows' period."""
    gaps = [np.diff(np.sort(np.array([r.ts for r in records]))) for _, records in recordings if len(records) > 1]
    gaps = np.concatenate(gaps) if gaps else np.zeros(0)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if gaps.size else 0.0


def duration(seconds: float) -> str:
    """'45 s', '14 min', '2.1 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sparse_sensors(recordings: list[tuple[str, list[Record]]], sensors: list[str], missing: np.ndarray,
                   carry_forward_s: float, tick_s: float) -> str | None:
    """Why training must not go on — the sensors missing on most ticks because their readings are spaced past
    `carry_forward_s`, each with its spacing, and the carry that would hold them — or None. `missing`: (n, N) the
    aligned ticks' missing-mask of every recording."""
    found = []
    rows = row_spacing(recordings)
    for i, s in enumerate(sensors):
        share = float(missing[:, i].mean()) if missing.size else 0.0
        if share <= MAX_MISSING_SHARE:
            continue
        gaps = reading_gaps(recordings, s)
        # spaced as the rows are, it is the recording's period, not an exception export (check_something_to_forecast
        # says that one: set tick_s to it)
        if gaps.size < 2 or float(np.median(gaps)) <= max(carry_forward_s, 2 * rows):
            continue
        p95 = float(np.quantile(gaps, 0.95))
        found.append((s, share, float(np.median(gaps)), p95))
    if not found:
        return None
    carry = max(p for *_, p in found)
    carry = int(math.ceil(carry / tick_s) * tick_s)
    listed = "; ".join(f"{s} on {100 * share:.1f} % of the ticks, its readings {duration(med)} apart (median; 95 % "
                       f"within {duration(p95)})" for s, share, med, p95 in found)
    return (f"sensors missing on most ticks because their readings are further apart than window.carry_forward_s "
            f"({carry_forward_s:g} s) holds one: {listed}. A historian's export that writes a value only when it "
            "changes (report by exception, a deadband: a blank cell means unchanged)? Trained so, the model learns "
            "these sensors as missing, where the gateway reads them at every poll. Set window.carry_forward_s: "
            f"{carry} in this training config (each reading then held until the next, as the historian means), or "
            f"export interpolated values, one every tick_s ({tick_s:g} s) — a gateway warming up on these recordings "
            "(warmup.replay) reads them with its own window.carry_forward_s")
