"""What ties a bundle's manifest to the data it was trained on: `data.raw_sample`.

Every artifact can match PyTorch while the manifest says something the training data did not:
a `tick_s` of 60 for rows 30 s apart, the sensor list reordered (similar scales: no score gives
it away), normalisation means shifted, `holdout_rows` pointing at rows verify never sees. The
bundle's files hold normalised rows only, so none of that can be told from them. `train` therefore
stores the first held-out rows as they were read — their timestamps and raw readings, under the
training data's own column names — and `verify` checks the manifest against them:

- `sensors`: the sample's columns, in order;
- `tick_s`: the sample's rows are consecutive ticks, this far apart — inside each training piece: the
  held-out rows are runs of the pieces' test parts one after another (convert/data.py `holdout_runs`), so
  a first run shorter than SAMPLE_ROWS hands the sample on to the next run, and the sample says where
  (`piece_starts`) rather than let the time between recordings read as a tick;
- `normalisation`: the raw rows normalised with it are holdout.npy's first rows (float16-exact);
- `data.holdout_rows`: its first row is the sample's, its length (or its `data.holdout_runs`' rows, the
  held-out rows taken per recording without labelled rows) holdout.npy's.

A bundle made before this has no sample: it loads and verifies as before, with a note that these
checks were not possible.
"""
from __future__ import annotations

import math

import numpy as np

from agent.manifest import Manifest

SAMPLE_ROWS = 16
# holdout.npy holds float16: |z| to 2^-11 relative, plus a little for the float32 step before it.
Z_ABS_TOL, Z_REL_TOL = 0.01, 2e-3
NOT_CHECKED = ("the manifest has no data.raw_sample (a bundle made before the converter stored one): its "
               "tick_s, sensor order, normalisation and holdout_rows cannot be checked against the training data")


def raw_sample(sensors: list[str], ts: np.ndarray, raw: np.ndarray, missing: np.ndarray, rows: np.ndarray,
               run: np.ndarray | None = None) -> dict:
    """The manifest's `data.raw_sample`: the first held-out rows as read. `rows`: the held-out rows'
    numbers in the training series, in holdout.npy's order; `run`: each one's run (consecutive ticks
    of one piece), to say where in the sample a new run begins."""
    rows = np.asarray(rows[:SAMPLE_ROWS], np.int64)
    starts = [] if run is None else [int(i) for i in np.flatnonzero(np.diff(run[:len(rows)])) + 1]
    values = [[None if missing[i, j] or not math.isfinite(float(raw[i, j])) else float(raw[i, j])
               for j in range(len(sensors))] for i in rows]
    return {"why": "the first held-out rows as read (raw readings, null where missing): stad-convert verify checks "
                   "sensors, tick_s, normalisation and holdout_rows against them",
            "sensors": list(sensors), "first_row": int(rows[0]),
            "ts": [float(ts[i]) for i in rows], "raw": values,
            **({"piece_starts": starts} if starts else {})}


def _sample_form(sample: object) -> tuple[list[str], int, np.ndarray, np.ndarray, list[int]] | str:
    """(sensors, first_row, ts, raw with NaN, piece_starts) of a stored sample, or what is wrong with its
    form."""
    if not isinstance(sample, dict):
        return "data.raw_sample: expected a mapping"
    sensors, first, ts, rows = (sample.get(k) for k in ("sensors", "first_row", "ts", "raw"))
    if not (isinstance(sensors, list) and all(isinstance(s, str) for s in sensors)):
        return "data.raw_sample.sensors: expected a list of names"
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        return "data.raw_sample.first_row: expected a whole number ≥ 0"
    if not (isinstance(ts, list) and len(ts) >= 2 and all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                                          for t in ts)):
        return "data.raw_sample.ts: expected a list of at least 2 times"
    if not (isinstance(rows, list) and len(rows) == len(ts)
            and all(isinstance(r, list) and len(r) == len(sensors) for r in rows)):
        return f"data.raw_sample.raw: expected {len(ts)} rows of {len(sensors)} readings"
    try:
        raw = np.array([[np.nan if v is None else float(v) for v in r] for r in rows], np.float64)
    except (TypeError, ValueError):
        return "data.raw_sample.raw: expected numbers or null"
    starts = sample.get("piece_starts", [])
    if not (isinstance(starts, list) and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < len(ts)
                                             for i in starts)):
        return f"data.raw_sample.piece_starts: expected row numbers of the sample between 1 and {len(ts) - 1}"
    return sensors, first, np.asarray(ts, np.float64), raw, starts


def provenance_problems(manifest: Manifest, holdout: np.ndarray) -> list[str] | None:
    """Where the manifest contradicts its training data's sample (each named by key path); None when
    the manifest has no sample. `holdout`: holdout.npy's stored rows (rows, N), NaN where missing."""
    data = manifest.data if isinstance(manifest.data, dict) else {}
    if "raw_sample" not in data:
        return None
    form = _sample_form(data["raw_sample"])
    if isinstance(form, str):
        return [form]
    sensors, first, ts, raw, starts = form
    problems = []
    if sensors != list(manifest.sensors):
        problems.append(f"sensors: {manifest.sensors} in the manifest, but the training data's columns were "
                        f"{sensors}")
    steps = np.delete(np.diff(ts), [i - 1 for i in starts])      # the steps inside a piece
    if len(steps) and (not np.all(steps > 0) or not np.allclose(steps, manifest.tick_s, rtol=1e-9, atol=1e-6)):
        problems.append(f"tick_s: {manifest.tick_s:g} in the manifest, but the training rows are "
                        f"{float(np.median(steps)):g} s apart")
    span = data.get("holdout_rows")
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) for v in span)):
        problems.append(f"data.holdout_rows: {span!r}, expected [first, end] row numbers")
    elif span[0] != first or held_rows(data, span) != len(holdout):
        problems.append(f"data.holdout_rows: {span} in the manifest, but holdout.npy holds {len(holdout)} rows "
                        f"from row {first}")
    if set(sensors) == set(manifest.sensors) and holdout.ndim == 2 and holdout.shape[1] == len(sensors):
        problems += _normalisation_problems(manifest, sensors, raw, holdout[:len(raw)])
    return problems


def held_rows(data: dict, span: list[int]) -> int | None:
    """How many rows holdout.npy should hold: the runs' rows (`data.holdout_runs`, each [lo, hi) inside
    `span`), or the whole span for a bundle written before held-out rows were taken in runs."""
    runs = data.get("holdout_runs")
    if runs is None:
        return span[1] - span[0]
    try:
        bounds = [(int(r["rows"][0]), int(r["rows"][1])) for r in runs]
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    if not bounds or any(not span[0] <= lo < hi <= span[1] for lo, hi in bounds):
        return None
    return sum(hi - lo for lo, hi in bounds)


def _normalisation_problems(manifest: Manifest, sensors: list[str], raw: np.ndarray, stored: np.ndarray) -> list[str]:
    """Each sensor whose raw sample, normalised with the manifest's mean and std, is not the stored rows.
    `sensors` is the sample's (training) column order, which is holdout.npy's."""
    out = []
    norm = manifest.normalisation
    for j, s in enumerate(sensors):
        z = (raw[:len(stored), j] - norm.mean[s]) / norm.std[s]
        held = stored[:, j].astype(np.float64)
        seen = np.isfinite(z) & np.isfinite(held)
        if not np.array_equal(np.isfinite(raw[:len(stored), j]), np.isfinite(held)):
            out.append(f"normalisation of {s}: holdout.npy's missing readings are not the raw sample's")
            continue
        if not seen.any():
            continue
        worst = float(np.max(np.abs(z[seen] - held[seen]) - Z_REL_TOL * np.abs(held[seen])))
        if worst > Z_ABS_TOL:
            k = int(np.argmax(np.abs(z[seen] - held[seen])))
            out.append(f"normalisation.mean.{s} / normalisation.std.{s}: {norm.mean[s]:.6g} / {norm.std[s]:.6g} "
                       f"normalise a raw reading {raw[:len(stored), j][seen][k]:.6g} to {z[seen][k]:.4g}, but the "
                       f"model was trained on {held[seen][k]:.4g}")
    return out
