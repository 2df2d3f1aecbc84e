"""Alert lifecycle: tick scores against a threshold become `new` → `update`… → `end` events.

- open: the score stays above the threshold for `min_duration_ticks` ticks, or one tick is above
  threshold × `instant_factor` (a step change is one big tick), and no cool-down is running;
- update: at most every `update_interval_s`, and only when the peak grew ≥ 10 % or the top
  sensors changed;
- end: the score stays below threshold × hysteresis for `clear_ticks` ticks;
- cool-down: `cooldown_ticks` after an end before a new alert may open; exceedances in it are
  counted as suppressed (a persisting anomaly opens as soon as the cool-down is over);
- restart: an alert open when the agent died or was stopped (SIGTERM: agent/service.py leaves it
  open) is continued by the restarted one under the same alert_id and seq (agent/resume.py, from
  the checkpoint and the alert journal); its first event after the restart says how many seconds
  of data the restored state did not see (`gap_s`), and comes at the first tick still above the
  threshold. When that gap is longer than the window, it ends with reason `restart`.
- hold-back: an alert about to open waits, at most `hold_ticks`, while the caller's `hold`
  says its drivers look like a sensor fault still being decided (agent/faults/holdback.py); it
  then opens with its true start.
- subsided (`subside_fraction` f > 0): an alert also ends when the score stays below f × its peak
  for `clear_ticks` ticks, and no new alert opens below f × that peak until the score has been
  back under the threshold once. Why: after a large excursion a process often settles somewhat
  off its warm-up normal (a pump after a valve test); that residue is far below what the alert
  was about, and without this rule it holds the alert open, or reopens it, for as long as it lasts.
  The residue bar is lifted once the score has stayed at or under the threshold for
  `subside_release_ticks` ticks in a row (1: the first such tick): a residue that wobbles around
  the threshold (SKAB's flow after a valve test) does not reopen the alert at each crossing.
- held (`hold_sigma` h > 0): a tick under the threshold does not count towards ending an open alert,
  and still counts as part of it (its `end` moves on), while the recent observed level of one of
  the alert's *driver* sensors — those above the threshold when it opened or at a new peak (or
  its top sensor then) — stays h σ or more off that sensor's warm-up level (`levels`,
  agent/scorers/profile.py LevelMonitor) and at least `hold_fraction` of the largest distance that sensor reached during the alert.
  Why: a forecaster's error falls back once a lasting shift is in its window (and the fallback
  learns the new level), so without it an alert about a lasting shift — a closed valve — ends
  while the shift goes on; the level keeps saying so. Only the drivers hold it: another sensor
  that has wandered off its warm-up level is not what the alert is about, and the fraction lets
  go of the residue an anomaly leaves once it is over (a pump settled a little off its warm-up).
- released (`release_fraction` r > 0, with `hold_sigma`): an open alert during which some sensor's
  level went `hold_sigma` σ or more off warm-up ends (reason `subsided`) once, for `clear_ticks`
  ticks in a row, every sensor's level is under r × the largest level distance reached during it —
  even with the score still above the threshold — and no new alert opens while every sensor's level
  stays under that bar (lifted like the subside residue, after `subside_release_ticks` calm ticks).
  Why: a profile of normal levels keeps scoring the residue a lasting anomaly leaves (the pump
  settled 5 σ off its warm-up after a 20-σ test) above the threshold for as long as it lasts, so
  the score cannot say the anomaly is over; the level, back to a fraction of its excursion, can.
  All sensors are judged, not only the drivers: an alert opened on one sensor's spike is often
  carried by another sensor's lasting shift that never made a new peak.
- no data: a tick under the threshold on which one of the open alert's drivers is not heard does not count
  towards ending it by any rule above: no reading arrived (silent past `window.carry_forward_s`: the source or
  the sensor stopped, a `missing` fault), or, after such a silence, its score is held at 0 until the gap it is
  back from leaves the window (a sensor settling after another fault — stuck, spike — is judged as before: its
  readings arrived). When the ticks with no reading reach `no_data_ticks` (`alerts.no_data_ticks`, by default the window's
  length, as a restart gap longer than the window ends an alert `restart`) the alert ends with reason
  `no_data`. Why: a window that has lost the alert's own sensors scores low because it cannot see them, not
  because the plant recovered; a poll that failed for a minute mid-incident ended the alert `cleared` while
  the incident went on (a stalled sender did so under load). The silence itself is told as a fault.
- sensor fault (`fault_end`, on by default): a fault whose condition began within the longest
  hold-back (the time an alert may wait: `hold_ticks`) before an open alert's start — or, on one of
  its drivers when it opened, by `fault_ticks` after it — re-judges the alert (a fault that began
  later cannot be what opened it). When, on `fault_ticks`
  (`faults.holdback_s`) ticks above the threshold in a row, with that sensor left out and its mates'
  fusion part left out of their scores (the caller's `rejudge`), nothing is above the threshold, the
  alert ends with reason `sensor_fault`, its end event naming the fault (`fault`). A tick under the
  threshold is not counted: an alert ending by the other rules is not the fault's. Why: a frozen
  sensor's alert opens at the freeze, before `stuck` can be decided; masking it then is not enough
  when it shares a group, because fusion then predicts each mate from the others alone — a relation
  it never learned — and the alert stays open on the mates' fusion residue for as long as the fault
  lasts (docs/measured/faults.md, faults4). While that fault lasts, a new alert is judged on the score
  re-judged the same way: the residue the ended alert was judged to be is not a new one.
  The first judgement is on the tick the fault is raised (`fault_raised`, on that tick's scores, the
  sensor not yet masked), when that tick is within `fault_ticks` of the alert's start (the alert exists
  because the decision came after the hold-back ran out): when nothing is over the threshold without the fault there — the alert over
  it, or under it with one of its drivers the fault's (a frozen sensor's level holds an alert open after
  its score has fallen: `hold_sigma`) — it ends at the next tick, its `end` the fault's tick (faults6:
  before, the count above started only after the mask, whose first ticks often crossed the threshold and
  restarted it — the end came 91–199 s after a frozen mate's `stuck` — and an ungrouped alert the mask
  alone ended went out `cleared`). While that fault lasts a new alert also waits, as a hold-back, until
  its re-judged score has been over the threshold for `fault_ticks` (the mates' residue crosses it for
  a tick or two after the mask). What still ends `cleared`: an alert under the threshold at its fault
  whose drivers are not the fault's (ending by the other rules), one whose fault was decided later than
  `fault_ticks` after its start, one with another sensor over the threshold then that later falls back,
  and one whose fault began later than the link above allows.
  "That sensor" is every sensor the fault stands for (a `station` fault's, mates that joined a lone
  fault: the caller's `rejudge` takes the fault_id).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .config import AlertConfig
    from .faults.events import FaultEvent
    from .window import WindowBuffer

SCHEMA_VERSION = 1


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


@dataclass
class _Open:
    TIME_FIELDS = ("start", "last_above", "last_sent_ts")    # ClassVar: seconds on the time base (agent/timebase.py)
    alert_id: str
    start: float
    last_above: float
    peak: float
    ticks: int
    seq: int = 0
    last_sent_ts: float = 0.0
    last_sent_peak: float = 0.0
    last_tops: tuple = ()
    below: int = 0
    origin: str | None = None
    explain: dict = field(default_factory=dict)
    last_score: float = 0.0
    gap_s: float | None = None      # set on a restart: said in the next event
    resumed: bool = False           # continued after a restart: the next tick above the threshold reports
    drivers: list = field(default_factory=list)      # sensors that can hold it (see `held` above)
    level_peak: dict = field(default_factory=dict)   # per driver, the largest level distance seen
    level_top: float = 0.0          # the largest level distance of any sensor during it (release_fraction)
    spent: int = 0                  # ticks in a row every level was under the release bar (release_fraction)
    opened_on: list = field(default_factory=list)    # its drivers when it opened (sensor fault, above)
    fault: dict | None = None       # the fault it is being re-judged for {fault_id, sensor, kind}
    fault_now: bool = False         # nothing was over the threshold without that fault on its own tick: ends next
    fault_calm: int = 0             # ticks in a row nothing was above the threshold with that fault left out
    unheard: int = 0                # ticks under the threshold with a driver silent, since one last counted (no data)


def explain(sensors: list[str], groups: list[str], sensor_scores: np.ndarray, time_weights, window: WindowBuffer,
            top_k: int) -> dict:
    """Top sensors (share of the total score) and top time steps.

    Time steps come from the model's temporal attention when it has one; otherwise from how
    far the worst sensor's normalised value strayed at each step of the window.
    """
    s = np.nan_to_num(np.asarray(sensor_scores, float), nan=0.0)
    total = float(s.sum()) or 1.0
    order = np.argsort(-s)[:top_k]
    window_ts = window.ts
    if time_weights is None:
        col = np.abs(window.values[:, int(order[0])]) if len(order) else np.zeros(len(window_ts))
        time_weights = col / col.sum() if col.sum() > 0 else np.full(len(col), 1.0 / max(len(col), 1))
    tops = [{"sensor": sensors[i], "score": round(float(s[i]), 4),
             "contribution": round(float(s[i]) / total, 4)} for i in order if s[i] > 0]
    tw = np.asarray(time_weights, float)
    ts = np.asarray(window_ts, float)[:len(tw)]
    steps = [{"ts": float(ts[j]), "weight": round(float(tw[j]), 4)}
             for j in np.argsort(-tw)[:top_k] if np.isfinite(ts[j])]
    origin = groups[int(order[0])] if len(order) and s[order[0]] > 0 else None
    return {"top_sensors": tops, "top_steps": steps, "origin": origin}


def drivers(exp: dict, threshold: float) -> list[str]:
    """The sensors an alert is about: those of its explanation above the threshold, else the top one."""
    tops = exp.get("top_sensors", [])
    above = [t["sensor"] for t in tops if t["score"] > threshold]
    return above or [t["sensor"] for t in tops[:1]]


class AlertTracker:
    """One node's alert state. `observe` is called once per scored tick; returns the events."""

    def __init__(self, cfg: AlertConfig, node: str, site: str, tick_s: float, hold_ticks: int = 0,
                 fault_ticks: int = 0, window_ticks: int = 32):
        self.cfg = cfg
        self.no_data_ticks = cfg.no_data_ticks or window_ticks     # how long no data holds an alert
        self.hold_ticks = hold_ticks
        self.fault_ticks = max(1, fault_ticks)   # the suspect hold-back's ticks: how long a re-judge looks
        self.held = 0               # ticks the opening of the current exceedance was held back
        self.node, self.site = node, site
        self.tick_s = tick_s
        # Ids are <node>-<start>-<life>: readable and sortable by start, and unique per agent life,
        # so a second run over the same (seeded, simulated) clock does not reuse a first run's ids
        # that subscribers and the outbox de-duplicate on.
        self.life = os.urandom(3).hex()
        self.open: _Open | None = None
        self.above = 0
        self.cooldown = 0
        self.suppressed = 0
        self.raised = 0
        self.floor = 0.0        # after a subsided alert: new alerts need a score above this
        self.calm = 0           # ticks in a row at or under the threshold (releases `floor`)
        self.level_floor = 0.0  # after a released alert: new alerts need a level above this (release_fraction)
        self.after_fault: dict | None = None    # the fault an alert ended with, while it lasts (sensor fault)
        self.judged: tuple = (None, 0.0, 0.0, None)     # the last observed tick's (ts, score, threshold, rejudge)
        self.residue = 0        # ticks in a row the score re-judged for `after_fault` was over the threshold

    @property
    def active(self) -> bool:
        return self.open is not None

    def open_summary(self) -> dict | None:
        """The open alert as health reports it (None: none open): a subscriber that missed events (a
        session expired, events past `alert_expiry_s`, a fresh console) learns from the retained health
        which alert is open, and that an alert it still shows open has ended."""
        a = self.open
        if a is None:
            return None
        return {"alert_id": a.alert_id, "seq": a.seq - 1, "start": iso(a.start)}

    def observe(self, ts: float, score: float, threshold: float, tier: str, model, explain_fn,
                hold=None, levels=None, rejudge=None, unheard=None) -> list[AlertEvent]:
        """`model` and `explain_fn` are zero-argument callables: only ticks that matter pay for them.
        `hold() -> bool`: wait before opening (see hold-back above). `levels() -> {sensor: σ}`: each
        sensor's level distance from warm-up (see held above; None: no alert is held). `rejudge(fault_id)
        -> float`: the tick's worst sensor score with that fault's sensors and their mates' fusion part left
        out (see sensor fault above; None: no alert ends with a fault). `unheard(sensors) -> str | None`: whether
        one of them is not heard this tick — "silent" (no reading) or "settling" (its score held at 0 after a
        gap) — or None (see no data above; None for the callable: every tick is judged)."""
        self.judged = (ts, score, threshold, rejudge)     # (the tick's, for a fault raised after it: fault_raised)
        if self.open is None:
            if self.after_fault is not None and rejudge is not None:
                score = min(score, rejudge(self.after_fault["fault_id"]))     # the ended alert's residue is no new one
                self.residue = self.residue + 1 if score > threshold else 0
                if self.residue and self.residue < self.fault_ticks:     # …unless it lasts as long as the end waited
                    hold = self._residue_hold
            return self._idle(ts, score, threshold, tier, model, explain_fn, hold, levels)
        if self.open.fault is not None and rejudge is not None and self.cfg.fault_end:
            if self.open.fault_now:
                self.after_fault = self.open.fault
                return [self.close(ts, self.open.last_score, threshold, tier, model, "sensor_fault", fault=self.open.fault)]
            ended = self._rejudged(ts, score, threshold, tier, model, rejudge)
            if ended is not None:
                return [ended]
        return self._active(ts, score, threshold, tier, model, explain_fn, levels, unheard)

    def fault_raised(self, f: FaultEvent) -> None:
        """A fault was just raised (after this tick's observe): the open alert is re-judged for it (sensor fault,
        above) when its condition began within the hold-back before the alert, or one of its sensors was one of
        the alert's drivers when it opened and the condition began by `fault_ticks` after (a fault that came
        later cannot be what opened it) — at once, on this tick's scores: nothing over the threshold without it
        while the alert is, the alert ends at the next tick."""
        a = self.open
        if a is None or not self.cfg.fault_end:
            return
        before, after = self.hold_ticks * self.tick_s, self.fault_ticks * self.tick_s
        sensors = f.sensors or [f.sensor]
        drove = any(s in a.opened_on for s in sensors)
        if a.start - before <= f.start <= a.start or (drove and f.start <= a.start + after):
            a.fault, a.fault_calm = {"fault_id": f.fault_id, "sensor": f.sensor, "kind": f.kind}, 0
            # Decided within the suspect hold-back of the alert's start (the alert opened only because the decision
            # came after the wait ran out) and on its own tick nothing over the threshold without it: the alert was
            # the fault's — over the threshold there, or under it while one of its drivers is the fault's (its
            # level held it open). An older alert has had time to be about more than the fault (faults6's first
            # version also ended morning-queue alerts at a drift decided minutes into them: bench seeds 230–234)
            ts, score, threshold, rejudge = self.judged
            a.fault_now = (ts == f.ts and f.ts - a.start <= after and rejudge is not None
                           and rejudge(f.fault_id) <= threshold
                           and (score > threshold or any(s in a.drivers for s in sensors)))

    def fault_ended(self, fault_id: str) -> None:
        """The fault the open alert is re-judged for ended first: the alert stands (and one that ended with it
        no longer keeps a new one from opening)."""
        if self.after_fault is not None and self.after_fault["fault_id"] == fault_id:
            self.after_fault = None
        a = self.open
        if a is not None and a.fault is not None and a.fault["fault_id"] == fault_id:
            a.fault, a.fault_calm, a.fault_now = None, 0, False

    @staticmethod
    def _residue_hold() -> bool:
        """While the fault an alert ended with lasts, a new alert over the threshold without it waits (as a
        hold-back, opening with its true start) until that has lasted `fault_ticks`: the re-judged residue
        of the fault's mates crosses it for a tick or two in the first minutes after the mask (faults6: ended
        at the fault, the frozen mate's alert was followed by one on that residue 59 ticks later)."""
        return True

    def _rejudged(self, ts, score, threshold, tier, model, rejudge) -> AlertEvent | None:
        """The open alert's end with its fault, once nothing has been above the threshold without it for
        `fault_ticks` ticks in a row (None: not yet, or never while something is). A tick whose own score
        is at or under the threshold is not counted either way: the alert is ending by the other rules
        (an alert that was ending anyway when a fault came is not the fault's)."""
        a = self.open
        if score <= threshold:
            return None
        if rejudge(a.fault["fault_id"]) > threshold:
            a.fault_calm = 0
            return None
        a.fault_calm += 1
        if a.fault_calm < self.fault_ticks:
            return None
        a.last_score = score
        self.after_fault = a.fault
        return self.close(ts, score, threshold, tier, model, "sensor_fault", fault=a.fault)

    def _idle(self, ts, score, threshold, tier, model, explain_fn, hold=None, levels=None) -> list[AlertEvent]:
        if self.cooldown > 0:
            self.cooldown -= 1
        if score <= threshold:
            self.calm += 1
            if self.calm >= self.cfg.subside_release_ticks:
                self.floor = self.level_floor = 0.0
        else:
            self.calm = 0
        if score <= max(threshold, self.floor) or self._residue(levels):
            self.above = 0
            self.held = 0
            return []
        self.above += 1
        severe = score > threshold * self.cfg.instant_factor
        if self.above < self.cfg.min_duration_ticks and not severe:
            return []
        if self.cooldown > 0:
            self.suppressed += 1
            return []
        exp = explain_fn()
        if hold is not None and self.held < self.hold_ticks and hold():
            self.held += 1
            return []
        self.held = 0
        start = ts - (self.above - 1) * self.tick_s
        stamp = iso(start).replace("-", "").replace(":", "").replace(".000", "")
        self.open = _Open(alert_id=f"{self.node}-{stamp}-{self.life}", start=start, last_above=ts, peak=score,
                          ticks=self.above, origin=exp.get("origin"), explain=exp, drivers=drivers(exp, threshold))
        self.open.opened_on = list(self.open.drivers)
        self.raised += 1
        return [self._event("new", ts, score, threshold, tier, model, exp)]

    def _active(self, ts, score, threshold, tier, model, explain_fn, levels=None, unheard=None) -> list[AlertEvent]:
        a = self.open
        a.last_score = score
        if score > threshold:
            a.ticks += 1
            a.last_above = ts
        if score > a.peak:
            a.peak = score
            a.explain = explain_fn()
            a.drivers += [d for d in drivers(a.explain, threshold) if d not in a.drivers]
        distance = self._track_levels(a, levels)
        if self._held(a, score, threshold, distance):
            a.last_above = ts
            a.below = 0
            return []
        why = unheard(a.drivers) if unheard is not None and score <= threshold else None
        if why == "silent" or (why == "settling" and a.unheard):    # not a calm tick: no data on it (no data, above)
            a.unheard += why == "silent"
            return [self.close(ts, score, threshold, tier, model, "no_data")] if a.unheard >= self.no_data_ticks else []
        a.unheard = 0
        if self._released(a, distance):
            a.spent += 1
            if a.spent >= self.cfg.clear_ticks:
                self.level_floor = self.cfg.release_fraction * a.level_top
                self.calm = 0
                return [self.close(ts, score, threshold, tier, model, "subsided")]
        else:
            a.spent = 0
        subsided = score < self.cfg.subside_fraction * a.peak
        if score < threshold * self.cfg.hysteresis or subsided:
            a.below += 1
            if a.below >= self.cfg.clear_ticks:
                if score >= threshold * self.cfg.hysteresis:
                    self.floor = self.cfg.subside_fraction * a.peak
                    self.calm = 0
                    return [self.close(ts, score, threshold, tier, model, "subsided")]
                return [self.close(ts, score, threshold, tier, model, "cleared")]
            return []
        a.below = 0
        if ts - a.last_sent_ts < self.cfg.update_interval_s and not (a.resumed and score > threshold):
            return []
        exp = explain_fn()
        tops = tuple(t["sensor"] for t in exp["top_sensors"])
        if a.peak >= a.last_sent_peak * 1.1 or tops != a.last_tops or (a.resumed and score > threshold):
            return [self._event("update", ts, score, threshold, tier, model, exp)]
        return []

    def _track_levels(self, a: _Open, levels) -> dict[str, float] | None:
        """Every sensor's level distance this tick (None: no level, or holding off); each driver's largest
        distance during the alert, and the largest of any sensor, are tracked on every tick of it."""
        if self.cfg.hold_sigma <= 0 or levels is None or not a.drivers:
            return None
        distance = levels()
        for name in a.drivers:
            a.level_peak[name] = max(float(distance.get(name, 0.0)), a.level_peak.get(name, 0.0))
        a.level_top = max(a.level_top, max(distance.values(), default=0.0))
        return distance

    def _held(self, a: _Open, score: float, threshold: float, distance: dict[str, float] | None) -> bool:
        """Under the threshold, but a driver sensor's level is still off its warm-up normal (held, above)."""
        if distance is None or score > threshold:
            return False
        return any(float(distance.get(name, 0.0)) >= max(self.cfg.hold_sigma, self.cfg.hold_fraction * a.level_peak[name])
                   for name in a.drivers)

    def _released(self, a: _Open, distance: dict[str, float] | None) -> bool:
        """Some sensor's level moved (`hold_sigma` σ or more) during the alert and every level is now back
        under `release_fraction` of the largest distance reached: the lasting part of it is over."""
        if distance is None or self.cfg.release_fraction <= 0:
            return False
        top = a.level_top
        return top >= self.cfg.hold_sigma and max(distance.values(), default=0.0) < self.cfg.release_fraction * top

    def _residue(self, levels) -> bool:
        """After a released alert: every sensor's level is still under the residue bar (`level_floor`)."""
        if self.level_floor <= 0 or levels is None:
            return False
        return max(levels().values(), default=0.0) < self.level_floor

    def close(self, ts, score, threshold, tier, model, reason: str, fault: dict | None = None) -> AlertEvent:
        a = self.open
        ev = self._event("end", ts, score, threshold, tier, model, a.explain, end=a.last_above, reason=reason)
        ev.fault = fault
        self.open = None
        self.above = 0
        self.cooldown = self.cfg.cooldown_ticks
        return ev

    def _event(self, kind, ts, score, threshold, tier, model, exp, end=None, reason=None) -> AlertEvent:
        a = self.open
        model = model()
        ev = AlertEvent(alert_id=a.alert_id, seq=a.seq, event=kind, node=self.node, site=self.site, ts=ts,
                        start=a.start, end=end, score=round(float(score), 4), peak_score=round(float(a.peak), 4),
                        threshold=round(float(threshold), 4), tier=tier, model_id=model.get("model_id", tier),
                        model_sha256=model.get("sha256"), top_sensors=exp["top_sensors"],
                        top_steps=exp["top_steps"], origin=a.origin,
                        ticks=a.ticks, reason=reason, gap_s=a.gap_s)
        a.gap_s, a.resumed = None, False
        a.seq += 1
        a.last_sent_ts = ts
        a.last_sent_peak = a.peak
        a.last_tops = tuple(t["sensor"] for t in exp["top_sensors"])
        return ev

    # -- restarts (agent/checkpoint.py) ---------------------------------------------------------

    def state_dict(self) -> dict:
        a = self.open
        return {"open": None if a is None else {**asdict(a), "last_tops": list(a.last_tops)},
                "above": self.above, "cooldown": self.cooldown, "suppressed": self.suppressed,
                "raised": self.raised, "floor": self.floor, "held": self.held, "calm": self.calm,
                "level_floor": self.level_floor, "after_fault": self.after_fault, "residue": self.residue}

    def restore(self, state: dict) -> None:
        """Resume from state_dict(); ValueError naming the key when it is not one (nothing changed then)."""
        a = state["open"]
        opened = None
        if a is not None:
            if not isinstance(a, dict):
                raise ValueError("alerts.open: expected a mapping")
            names = {f.name for f in fields(_Open)}
            unknown = sorted(set(a) - names)
            if unknown:
                raise ValueError(f"alerts.open.{unknown[0]}: unknown key")
            try:
                opened = _Open(**{**a, "last_tops": tuple(a.get("last_tops", ()))})
            except TypeError as exc:
                raise ValueError(f"alerts.open: {exc}") from None
            if not (isinstance(opened.alert_id, str) and opened.alert_id and isinstance(opened.seq, int)
                    and opened.seq >= 1):
                raise ValueError("alerts.open: no alert_id or seq")
        counts = {k: int(state[k]) for k in ("above", "cooldown", "suppressed", "raised", "held")}
        counts["calm"] = int(state.get("calm", 0))      # absent in checkpoints written before it existed
        floor = float(state["floor"])
        level_floor = float(state.get("level_floor", 0.0))     # absent in checkpoints written before it existed
        after_fault = state.get("after_fault")     # absent in checkpoints written before it existed
        if after_fault is not None and not _fault_ref(after_fault):
            raise ValueError("alerts.after_fault: expected a fault {fault_id, sensor, kind}")
        if opened is not None and opened.fault is not None and not _fault_ref(opened.fault):
            raise ValueError("alerts.open.fault: expected a fault {fault_id, sensor, kind}")
        self.open, self.floor, self.level_floor = opened, floor, level_floor
        self.after_fault = after_fault
        self.residue = int(state.get("residue", 0))     # absent in checkpoints written before it existed
        for k, v in counts.items():
            setattr(self, k, v)

    def forget_open(self) -> None:
        """Let go of the open alert without an event: the sinks hold newer events of it, or of a
        later alert, than the state restored (a run that could not journal them, then died)."""
        self.open = None
        self.above = 0

    def resumed(self, gap_s: float) -> None:
        """The agent restarted with this alert open: the next event says how much data went unseen,
        and comes at the first tick still above the threshold (the condition lasts)."""
        if self.open is not None:
            self.open.gap_s = round(float(gap_s), 3)
            self.open.resumed = True

    def end_at_restart(self, ts, threshold, tier, model, gap_s: float | None) -> AlertEvent:
        """End the open alert because the restarted agent cannot judge it (no usable state, or a
        data gap longer than the window); its score is the last one seen before the restart."""
        a = self.open
        a.gap_s = None if gap_s is None else round(float(gap_s), 3)
        return self.close(ts, a.last_score, threshold, tier, model, "restart")


def _fault_ref(f) -> bool:
    """A fault as the alerts keep it ({fault_id, sensor, kind}, strings): the re-judge asks for its fault_id on every
    tick, so a journal's entry without one stopped the tick (KeyError; review24)."""
    return isinstance(f, dict) and all(isinstance(f.get(k), str) and f[k] for k in ("fault_id", "sensor", "kind"))
