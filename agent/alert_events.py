"""What an alert says: its events (`new` → `update`… → `end`, agent/alerts.py) and their explanation.

An event is the one payload every sink, the outbox and a subscriber's console read (`to_dict`, schema
`SCHEMA_VERSION`); its explanation — the top sensors (the place first: the reading furthest off its level
among those the score flags, explain2; then by score), the top time steps and the origin (the station or machine of the
first named) — is what an operator acts on, and the sensors above the threshold among its top sensors by
score (`drivers`) are the ones the alert is about: what holds it open on their level
(agent/alert_levels.py), what a sensor fault must have touched to re-judge it (agent/alert_faults.py),
and what a silence of them does not count as calm (agent/alerts.py, no data). Times are ISO 8601 UTC with
milliseconds (`iso`), the form every payload and log line of the agent uses.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .window import WindowBuffer

SCHEMA_VERSION = 1
#: explain2: an alert names first, of the sensors scoring at least this share of the top score, the one furthest
#: from its learnt level, then the others by score (`named_order`); None names them by score alone.
NAMED_AMONG: float | None = 0.05


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AlertEvent:
    alert_id: str
    seq: int
    event: str                 # new | update | end
    node: str
    site: str
    ts: float                  # time of this event (tick time)
    start: float
    end: float | None
    score: float
    peak_score: float
    threshold: float
    tier: str
    model_id: str
    model_sha256: str | None
    top_sensors: list[dict]
    top_steps: list[dict]
    origin: str | None         # the station / machine where it started
    ticks: int                 # ticks above threshold so far
    reason: str | None = None  # why it ended: 'cleared', 'subsided', 'sensor_fault', 'no_data', 'shutdown' (input over) or 'restart'
    replayed: bool = False
    gap_s: float | None = None  # first event after a restart: seconds of data the restored state did not see
    fault: dict | None = None   # reason sensor_fault: the fault it ended with {fault_id, sensor, kind}

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.fault is None:            # (only a sensor_fault end names one: every other payload as before)
            del d["fault"]
        d["schema_version"] = SCHEMA_VERSION
        d["ts"], d["start"], d["end"] = iso(self.ts), iso(self.start), iso(self.end)
        for step in d["top_steps"]:
            step["ts"] = iso(step["ts"])
        return d

    def line(self) -> str:
        """One readable terminal line."""
        tops = ", ".join(f"{t['sensor']} {t['contribution']:.0%}" for t in self.top_sensors)
        origin = f" | origin {self.origin}" if self.origin else ""
        # (an alert of one tick starts and ends on it: "lasted 0s" read as nothing happened; user12)
        span = ""
        if self.event == "end" and self.end:
            lasted = f"one tick, {iso(self.start)}" if self.end == self.start else f"{self.end - self.start:.0f}s"
            span = f" lasted {lasted} ({self.reason})"
        gap = f" | after a restart, {self.gap_s:.0f}s of data unseen" if self.gap_s is not None else ""
        return (f"{iso(self.ts)} {self.event.upper():6} {self.alert_id} #{self.seq} "
                f"score {self.score:.2f} (peak {self.peak_score:.2f}) thr {self.threshold:.2f} "
                f"[{self.tier}] top: {tops}{origin}{span}{gap}")


def explain(sensors: list[str], groups: list[str], sensor_scores: np.ndarray, window: WindowBuffer,
            top_k: int) -> dict:
    """Top sensors (share of the total score), top time steps and the origin, for every tier alike.

    The time steps are where the top sensors' window changed (`step_weights`, as shares): the first step
    is when the evidence began. Not the model's temporal attention, which said nothing of when on the
    SKAB bundles (near flat, ~1/31 a step) and put the demo's incidents 2 ticks before their onset; nor, for
    the fallback, the worst sensor's largest deviation, which is any step of a shift once it has happened
    (docs/measured/accuracy-skab.md, the explain1 round: median 4 ticks from the onset against 10 and 6).

    The sensors are named by where (`named_order` at NAMED_AMONG, the explain2 round) and the origin is the first
    one's group; when that order is not the score's, `by_score` keeps the score's top sensors, which the alert
    rules read (`drivers`, agent/alert_levels.py's peak sensor): naming the place changes no alert's raise or end.
    """
    s, order, tops = ranked(sensors, sensor_scores, top_k)
    weights = _change_weights(window.values, window.missing, s, order)
    total = float(weights.sum())
    tw = weights / total if total > 0 else np.full(len(weights), 1.0 / max(len(weights), 1))
    ts = np.asarray(window.ts, float)
    steps = [{"ts": float(ts[j]), "weight": round(float(tw[j]), 4)}
             for j in np.argsort(-tw, kind="stable")[:top_k] if np.isfinite(ts[j])]
    out = {"top_sensors": tops, "top_steps": steps, "origin": None}
    if NAMED_AMONG is not None and len(order):
        named = named_order(s, window.newest_values, window.newest_missing, NAMED_AMONG)[:len(order)]
        if not np.array_equal(named, order):
            out["top_sensors"], out["by_score"], order = _entries(sensors, s, named), tops, named
    out["origin"] = groups[int(order[0])] if len(order) and s[order[0]] > 0 else None
    return out


def ranked(sensors: list[str], sensor_scores, top_k: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """The scores (NaN as 0), the `top_k` sensors' positions by score, and their `top_sensors` entries (share of
    the total score): what an alert's rules read from an explanation (`drivers`)."""
    s = np.nan_to_num(np.asarray(sensor_scores, float), nan=0.0)
    order = np.argsort(-s)[:top_k]
    return s, order, _entries(sensors, s, order)


def _entries(sensors: list[str], s: np.ndarray, positions) -> list[dict]:
    """The `top_sensors` entries of `positions` (those scoring above 0): name, score, share of the total score."""
    total = float(s.sum()) or 1.0
    return [{"sensor": sensors[i], "score": round(float(s[i]), 4), "contribution": round(float(s[i]) / total, 4)}
            for i in positions if s[i] > 0]


def named_order(sensor_scores, newest: np.ndarray, newest_missing: np.ndarray, among: float) -> np.ndarray:
    """Every sensor's position in the order an alert names them (explain2): first the place — of the sensors
    scoring at least `among` × the top score, the one whose newest reading is furthest from the level the
    normaliser learnt (|normalised value|; a missing one 0) — then every other by score. On the corridor a queue
    holds its own station's readings far off their level while the stations it starves downstream move back
    towards theirs, though their forecast errors may be the larger (docs/measured/accuracy-corridor.md, the
    explain2 round). Only the first is moved: the others stay in the score's order, so a sensor holding a large
    share of the score is still named after the place (the review of explain2: ordering every flagged sensor by
    its level named `S03_flow 2%, S02_flow 1%, S01_occ 1%` and left out the starved S05 with 19%)."""
    s = np.nan_to_num(np.asarray(sensor_scores, float), nan=0.0)
    by_score = np.argsort(-s, kind="stable")
    if not len(s) or s.max() <= 0:
        return by_score
    off = np.where(newest_missing, 0.0, np.abs(np.nan_to_num(np.asarray(newest, float))))
    flagged = by_score[s[by_score] >= among * s.max()]
    place = flagged[int(np.argmax(off[flagged]))]       # (argmax: the first of equals, the higher score)
    return np.concatenate([[place], by_score[by_score != place]])


def by_score(exp: dict) -> list[dict]:
    """An explanation's top sensors in the score's order — `by_score` when it names them by where (explain2), else its
    `top_sensors` — what every alert rule reads: the drivers, the update's trigger, the peak's sensor, evaluate's
    records."""
    return exp.get("by_score") or exp.get("top_sensors") or []


def drivers(exp: dict, threshold: float) -> list[str]:
    """The sensors an alert is about: those of its explanation's top sensors by score (`by_score`) above the
    threshold, else the top one."""
    tops = by_score(exp)
    above = [t["sensor"] for t in tops if t["score"] > threshold]
    return above or [t["sensor"] for t in tops[:1]]


def scored_tops(exp: dict) -> tuple[str, ...]:
    """The explanation's top sensors by score (`by_score`): an open alert sends an `update` when these change, as
    before the explain2 round, so naming the place sends no event of its own."""
    return tuple(t["sensor"] for t in by_score(exp))


def step_weights(values: np.ndarray, missing: np.ndarray, sensor_scores, top_k: int) -> np.ndarray:
    """(T,) ≥ 0: how strongly each step of the window is where the top sensors changed — the change point of
    each top sensor's window (split where the two sides' means differ most: |mean after − mean before| ·
    √(j(T−j)/T), the CUSUM statistic; step j is the first of the side after), summed over the top `top_k`
    sensors by their share of the score. Missing values carry the last reading (the first back). Step 0 has
    no side before it: 0. Made only when an alert is built (its explanation), never on a plain tick."""
    s = np.nan_to_num(np.asarray(sensor_scores, float), nan=0.0)
    return _change_weights(values, missing, s, np.argsort(-s)[:max(1, top_k)])


def _change_weights(values: np.ndarray, missing: np.ndarray, s: np.ndarray, order: np.ndarray) -> np.ndarray:
    """step_weights over the sensors `order` (by score, first the top) of the scores `s` (≥ 0): those scoring
    above 0, else the top one alone."""
    scored = s[order] > 0
    order = order[scored] if scored.any() else order[:1]
    steps = len(values)
    out = np.zeros(steps)
    if steps < 2:
        return out
    x = values[:, order].astype(np.float64)
    gaps = missing[:, order]
    if gaps.any():
        x = _carried(x, ~gaps)
    c = np.cumsum(x, axis=0)
    inv_before, inv_after, weight = _split_constants(steps)
    stat = np.abs((c[-1] - c[:-1]) * inv_after - c[:-1] * inv_before)
    stat *= weight
    share = s[order]
    total = share.sum()
    out[1:] = stat @ (share / total) if total > 0 else stat.mean(axis=1)
    return out


def _carried(x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Each column's missing values as its last reading before (the first reading, before it); 0 for a column
    never read (it then has no change)."""
    steps = len(x)
    at = np.where(seen, np.arange(steps)[:, None], -1)
    np.maximum.accumulate(at, axis=0, out=at)
    at = np.where(at < 0, np.argmax(seen, axis=0)[None, :], at)
    x = np.take_along_axis(x, at, axis=0)
    x[:, ~seen.any(axis=0)] = 0.0
    return x


@functools.lru_cache(maxsize=8)
def _split_constants(steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each split j = 1..T−1 (a column): 1/j, 1/(T−j) and the CUSUM weight √(j(T−j)/T)."""
    j = np.arange(1, steps, dtype=np.float64)[:, None]
    return 1.0 / j, 1.0 / (steps - j), np.sqrt(j * (steps - j) / steps)
