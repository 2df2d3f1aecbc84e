"""Long stretches of the training data far from the recordings' usual levels — a stopped plant, another operating
point — found and said (user38).

A pump station's weekly historian export holds the weekend the plant stood still: flow, current and vibration at 0,
the temperatures falling to the room's. `stad-convert train` learnt it as normal running without a word, and where it
fell mattered more: split 70/15/15 by time, a week that starts on Monday puts its Saturday in validation and its
Sunday in test, so the threshold was calibrated on the stop's onset (user38: 26.5 where the same weeks without the
stop gave 11.6) and verify's calm held-out windows were the stopped plant. Nothing in the data says "stopped"; what
shows it is that most sensors sit many robust deviations (MAD) from their median over all the recordings at once, for
hours. Said, not refused — a plant may have two operating points on purpose — with what to do: label the stretch
(`label_columns`: its rows are then no training target, no threshold peak) or cut it out of the file.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

#: A sensor this many robust deviations (1.4826 × MAD) from its median is far from its usual level.
FAR_MADS = 8.0
#: A tick is off its usual levels when at least this share of its observed sensors (and two) are far.
FAR_SHARE = 0.5
#: A sensor reading within this share of 0 while its median is not is off its level too: stopped (a pump's flow,
#: current, vibration), however wide its MAD (recordings of a plant at two levels).
NEAR_ZERO = 0.05
#: The shortest stretch said: an operating point held this long, not a transient (a queue's rush hour, a start-up).
MIN_STRETCH_S = 4 * 3600


def off_ticks(raw: np.ndarray, missing: np.ndarray,
              labelled: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n,) whether each tick is off its usual levels, (n, N) which sensors are far there (FAR_MADS, or NEAR_ZERO),
    and (N,) each sensor's median. Medians and MADs over the observed, unlabelled ticks; a sensor without spread (a
    setpoint) is never far by its MAD."""
    usual = np.where(missing | labelled[:, None], np.nan, raw)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # a sensor never observed: its median NaN, never far
        median = np.nanmedian(usual, axis=0)
        scale = 1.4826 * np.nanmedian(np.abs(usual - median), axis=0)
        far = ~missing & (((np.abs(raw - median) > FAR_MADS * scale) & (scale > 0))
                          | ((np.abs(raw) <= NEAR_ZERO * np.abs(median)) & (median != 0)))
    observed = (~missing).sum(axis=1)
    off = (far.sum(axis=1) >= np.maximum(2, np.ceil(FAR_SHARE * observed))) & ~labelled
    return off, far, median


def stretches(off: np.ndarray, min_ticks: int, bridge: int) -> list[tuple[int, int]]:
    """[lo, hi) runs of off ticks at least `min_ticks` long, runs apart by fewer than `bridge` ticks joined."""
    idx = np.flatnonzero(off)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) > bridge)
    runs = zip(np.r_[idx[0], idx[cuts + 1]], np.r_[idx[cuts], idx[-1]] + 1)
    return [(int(lo), int(hi)) for lo, hi in runs if hi - lo >= min_ticks]


def stopped_stretches(series, tick_s: float, steps: int) -> list[dict]:
    """The series' long stretches off its usual levels: {recording, first_ts, last_ts, ticks, sensors (the far
    ones, most often far first), stopped (most far readings nearer 0 than the median), parts ({part: ticks})}."""
    n = len(series)
    if n == 0:
        return []
    labelled = np.asarray(series.anomalous, dtype=bool)
    off, far, usual = off_ticks(series.raw, series.missing, labelled)
    min_ticks = max(steps, int(math.ceil(MIN_STRETCH_S / tick_s)))
    if off.sum() < min_ticks:       # the usual case: nothing to group
        return []
    segment = series.segment if series.segment is not None else np.zeros(n, dtype=int)
    part = np.full(n, "test", dtype=object)
    if series.split is not None:
        part[:series.split.val_end] = "validation"
        part[:series.split.train_end] = "train"
    out = []
    # A stretch is the recording's (its pieces in order of time), not the series' (every training part first).
    recordings: dict[str, list[np.ndarray]] = {}
    order = np.argsort(segment, kind="stable")
    ids, starts = np.unique(segment[order], return_index=True)
    for seg, rows in zip(ids, np.split(order, starts[1:])):
        name = str(series.segments[int(seg)]["recording"]) if series.segments else "the recording"
        recordings.setdefault(name, []).append(rows)
    for name, pieces in recordings.items():
        rows = np.concatenate(pieces)
        rows = rows[np.argsort(series.ts[rows], kind="stable")]
        bridge = max(1, steps)
        for lo, hi in stretches(off[rows], min_ticks, bridge):
            at = rows[lo:hi]
            counts = far[at].sum(axis=0)
            sensors = [series.sensors[i] for i in np.argsort(-counts, kind="stable") if counts[i] > 0.5 * len(at)]
            nearer = [abs(np.nanmedian(series.raw[at, series.sensors.index(s)])) < abs(usual[series.sensors.index(s)])
                      for s in sensors]
            parts = {p: int((part[at] == p).sum()) for p in ("train", "validation", "test") if (part[at] == p).any()}
            out.append({"recording": name, "first_ts": float(series.ts[at[0]]), "last_ts": float(series.ts[at[-1]]),
                        "ticks": int(len(at)), "sensors": sensors,
                        "stopped": bool(sum(nearer) > len(nearer) / 2),          # (JSON: no numpy bool)
                        "parts": parts})
    return out


def stretch_text(st: dict) -> str:
    """One stretch said, with what to do."""
    from agent.alerts import iso
    what = "the plant stopped" if st["stopped"] else "another operating point"
    parts = ", ".join(f"{n} {p}" for p, n in st["parts"].items())
    return (f"{st['recording']}: {st['ticks']} ticks from {iso(st['first_ts'])} to {iso(st['last_ts'])} ({parts}) with "
            f"{', '.join(st['sensors']) or 'most sensors'} off their usual levels (over {FAR_MADS:g} robust deviations, "
            f"or near 0) — {what}? trained on as normal running (a stretch in validation sets the threshold): label it "
            "(a label column in label_columns: its rows are then no target and no threshold peak) or cut it out "
            "of the file, and train again")
