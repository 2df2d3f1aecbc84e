"""Sensors the warm-up learnt no normal for: not scored, said, and learnt live from calm ticks.

Why: a sensor the warm-up did not read (a station added to a config whose `warmup.replay` recordings have
no column for it) or read on only a handful of ticks (fewer than `window.steps`) has no learnt mean / spread:
unread, the normaliser gave it the std floor, and its first reading scored in units of that floor — 4.7e11
against a threshold of 7.33 (user27's thirteenth station), an alert that could not end while it read
anything, and a real incident elsewhere ran under its id. Such a sensor is now masked like a missing one
before the window (so every tier — model input, the fallback, fusion, the explanations — sees it
missing), named once in the log and in health (`sensors_learning`), and its readings on ticks the detector
judges calm are counted until it has been read on as many calm ticks as the warm-up fits on (`warmup.ticks`)
and has moved; then it joins scoring (one log line): its mean and spread, from the ticks kept meanwhile, go
into the normaliser and the warm-up's fits are made again on those ticks (the fallback never saw it).

A sensor read only as one constant (its spread the std floor) is learnt so with `warmup.flat_sensors: learn`;
by default (`score`) it is scored in units of the floor as before, said at the warm-up's end: on SKAB's
fallback `learn` lost F1 0.80 → 0.77, its flat Thermocouple carrying anomalies (qa47,
docs/measured/first-week.md). Only a normalisation fitted here is learnt so: a bundle's was learnt on its
training data, and a bundle trained without the sensor is refused (sensor count) as before.

A sensor with a learnt normal is untouched: the pipeline keeps no LearningSensors when there is none.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from .warmup import WarmupRows
from .window import Normaliser, Row, std_floor

log = logging.getLogger("stad.pipeline")


def unlearnt(raw: np.ndarray, missing: np.ndarray, normaliser: Normaliser, min_readings: int,
             flat: bool) -> np.ndarray:
    """Which sensors the warm-up's rows (`raw`, NaN or `missing` where unread) learnt no normal for: read on
    fewer than `min_readings` ticks (never read included), or, with `flat`, read only as one constant (the std
    floor; warmup.flat_sensors `learn`)."""
    read = (~missing & np.isfinite(raw)).sum(axis=0)
    return (read < min_readings) | (normaliser.floored() & flat)


def why_unlearnt(raw: np.ndarray, missing: np.ndarray, normaliser: Normaliser, j: int) -> str:
    """In words, what the warm-up held of sensor `j`."""
    seen = raw[~missing[:, j], j]
    seen = seen[np.isfinite(seen)]
    if not len(seen):
        return "no reading in this warm-up"
    if normaliser.floored()[j]:
        return (f"did not move in this warm-up (std {float(normaliser.std[j]):.3g}, the floor; this warm-up read "
                f"{float(seen.min()):.4g}" + ("" if seen.min() == seen.max() else f" to {float(seen.max()):.4g}") + ")")
    return f"read on only {len(seen)} ticks of this warm-up"


class LearningSensors:
    """The sensors being learnt live (`index`), each's reads so far on calm ticks (count, mean, M2: Welford's
    running sums, in float64: how many, and whether it has moved), how many it needs (`need`), and the newest
    `need` ticks (`rows`: calm ones as read, the others all missing) the fits are made again on when one joins."""

    def __init__(self, sensors: list[str], index: list[int], need: int, sums: np.ndarray | None = None,
                 why: dict[str, str] | None = None, rows: WarmupRows | None = None):
        self.sensors = sensors
        self.index = np.asarray(index, np.intp)
        self.need = int(need)
        self.sums = np.zeros((len(self.index), 3)) if sums is None else np.asarray(sums, np.float64)
        self.why = dict(why or {})
        self.mask_of = np.zeros(len(sensors), bool)
        self.mask_of[self.index] = True
        self.rows = WarmupRows(len(sensors), self.need, limit=self.need) if rows is None else rows

    @classmethod
    def at_warmup_end(cls, sensors: list[str], raw: np.ndarray, missing: np.ndarray, normaliser: Normaliser,
                      need: int, min_readings: int, flat: bool) -> "LearningSensors | None":
        """The sensors the warm-up learnt no normal for, or None when it learnt every one (`need`: the reads a
        sensor needs live; `min_readings`: fewer at warm-up is a handful; `flat`: a constant one too)."""
        idx = np.flatnonzero(unlearnt(raw, missing, normaliser, min_readings, flat))
        if not len(idx):
            return None
        why = {sensors[j]: why_unlearnt(raw, missing, normaliser, j) for j in idx}
        return cls(sensors, idx.tolist(), need, why=why)

    def said(self) -> list[str]:
        """One log line per sensor: its name, why it has no normal, what it waits for."""
        return [f"{name}: {why}: no normal learnt at warm-up, so it is not scored (missing to every tier) until "
                f"it is learnt live: it joins scoring once read on {self.need} calm ticks (warmup.ticks) in which "
                f"it moves" for name, why in self.why.items()]

    def mask(self, row: Row) -> Row:
        """The row with the learning sensors missing (what every tier sees)."""
        m = self.mask_of
        return dataclasses.replace(row, values=np.where(m, np.nan, row.values), missing=row.missing | m,
                                   carried=row.carried & ~m)

    def observe(self, row: Row, calm: bool) -> bool:
        """Keep a scored tick (`row`: its readings before this mask, after the fault mask) for the fits, its
        readings only when the detector judged it `calm`, and learn the learning sensors' calm reads. Returns
        whether a sensor may join now: read on `need` calm ticks and moved, and `need` ticks kept."""
        if not calm:
            n = len(self.sensors)
            self.rows.append(Row(row.ts, np.full(n, np.nan), np.ones(n, bool), np.zeros(n, bool)))
            return False
        self.rows.append(row)
        x = row.values[self.index]
        fresh = ~row.missing[self.index] & ~row.carried[self.index] & np.isfinite(x)
        for k in np.flatnonzero(fresh):
            n, mean, m2 = self.sums[k]
            n += 1
            d = x[k] - mean
            mean += d / n
            m2 += d * (x[k] - mean)
            self.sums[k] = (n, mean, m2)
        return len(self.rows) >= self.need and bool(self.ready().any())

    def _moved(self) -> tuple[np.ndarray, np.ndarray]:
        """Per learning sensor: its calm reads so far, and whether they moved (spread over its mean's std floor)."""
        n, mean, m2 = self.sums.T
        return n, np.sqrt(np.where(n > 0, m2 / np.maximum(n, 1), 0.0)) > std_floor(mean)

    def ready(self) -> np.ndarray:
        """Per learning sensor: read on `need` calm ticks, and moved."""
        n, moved = self._moved()
        return (n >= self.need) & moved

    def join_into(self, normaliser: Normaliser, raw: np.ndarray, missing: np.ndarray,
                  ts_text: str) -> "LearningSensors | None":
        """The ready sensors' mean and spread from the kept ticks (`raw`, `missing`: `rows`' own) into
        `normaliser` (in place), one log line each; the sensors still learning (None: none), with a new `rows`."""
        ready = self.ready()
        joined = self.index[ready]
        fitted = Normaliser.fit(raw[:, joined])
        for j, reads, mean, std in zip(joined, self.sums[ready, 0], fitted.mean, fitted.std):
            normaliser.mean[j], normaliser.std[j] = mean, std
            log.info("tick %s: %s joins scoring: learnt live on %d calm ticks (mean %.4g, std %.4g); the fallback "
                     "is fitted again on the last %d ticks", ts_text, self.sensors[j], int(reads), mean, std, len(raw))
        if ready.all():
            return None
        rest = ~ready
        return LearningSensors(self.sensors, self.index[rest].tolist(), self.need, self.sums[rest],
                               {self.sensors[j]: self.why.get(self.sensors[j], "") for j in self.index[rest]})

    def snapshot(self) -> dict[str, dict]:
        """Health's `sensors_learning`: each sensor's calm reads so far, what it needs, whether it has moved."""
        n, moved = self._moved()
        return {self.sensors[j]: {"reads": int(n[k]), "needs": self.need, "moved": bool(moved[k]),
                                  "why": self.why.get(self.sensors[j], "")}
                for k, j in enumerate(self.index)}

    def state_dict(self) -> dict:
        r = self.rows
        return {"sensors": [self.sensors[j] for j in self.index], "sums": self.sums.tolist(), "need": self.need,
                "why": self.why, "rows": {"ts": r.ts, "values": r.values, "missing": r.missing, "carried": r.carried}}

    @classmethod
    def restored(cls, state: dict | None, sensors: list[str]) -> "LearningSensors | None":
        """From state_dict() (None: a checkpoint without learning sensors). A sensor not in `sensors`, or rows
        not of this many sensors, raise (the checkpoint does not fit)."""
        if not state or not state.get("sensors"):
            return None
        where = {name: i for i, name in enumerate(sensors)}
        idx = []
        for name in state["sensors"]:
            if name not in where:
                raise KeyError(f"learning.sensors: {name!r} is not a configured sensor")
            idx.append(where[name])
        sums = np.asarray(state["sums"], np.float64)
        if sums.shape != (len(idx), 3):
            raise ValueError(f"learning.sums: expected {len(idx)} rows of 3, got shape {sums.shape}")
        need, n, kept = int(state["need"]), len(sensors), state["rows"]
        rows = WarmupRows(n, need, limit=need)
        ts = np.asarray(kept["ts"], np.float64).reshape(-1)
        values, missing, carried = (np.asarray(kept[k]).reshape(len(ts), n) for k in ("values", "missing", "carried"))
        for t, v, m, c in zip(ts, values.astype(np.float64), missing.astype(bool), carried.astype(bool)):
            rows.append(Row(float(t), v, m, c))
        return cls(sensors, idx, need, sums, dict(state.get("why") or {}), rows)
