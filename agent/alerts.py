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
  threshold. When that gap is longer than the window, it ends with reason `restart` — at once when
  the gap is unknown (a clock stepped back) or was closed as an outage; when the ticks were skipped
  (live data after the agent's own downtime) the window refills and the alert is judged from the first
  score after it by the rules that end a live alert (`judge_after_refill`, clock25, clock27): a tick above
  the threshold or held by its rules, it goes on as a live alert; ended by the calm rules before any such
  tick (`clear_ticks` calm ticks in a row), its end lies in the ticks the restart did not see: reason
  `restart`, its `end` the last tick it was known above the threshold.
  Why: ended at once, a condition that lasted across a kill -9 paged twice for a few seconds down.
- station (`station_factor` f > 0, model tiers only): one tick above the threshold opens at once when another sensor
  of its station is above f × the threshold on that tick (agent/alert_station.py says why);
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
  With `hold_sigma`, a tick under f × the peak does not count towards this end while the sensor that made
  the peak is still at its excursion (the peak's level, agent/alert_levels.py; never a `scoring.profile.drifting`
  sensor): the peak is often the onset's transient, not what the lasting shift after it scores.
- no data: a tick under the threshold on which one of the open alert's drivers is not heard does not count
  towards ending it by any rule above: no reading arrived (silent past `window.carry_forward_s`: the source or
  the sensor stopped, a `missing` fault), or, after such a silence, its score is held at 0 until the gap it is
  back from leaves the window (a sensor settling after another fault — stuck, spike — is judged as before: its
  readings arrived). When the ticks with no reading reach `no_data_ticks` (`alerts.no_data_ticks`, by default the window's
  length, as a restart gap longer than the window ends an alert `restart`) the alert ends with reason
  `no_data`. Why: a window that has lost the alert's own sensors scores low because it cannot see them, not
  because the plant recovered; a poll that failed for a minute mid-incident ended the alert `cleared` while
  the incident went on (a stalled sender did so under load). The silence itself is told as a fault.
- held, released (an alert's end decided on sensor levels, not the score): agent/alert_levels.py;
- residue (`scoring.profile.residue_fraction`, ticks a model tier scores): an alert over the threshold only through
  sensors down to a fraction of their own peak in it ends after a window of such ticks: agent/alert_residue.py;
- sensor fault (an alert re-judged without a sensor fault just decided): agent/alert_faults.py.
- nothing to see: a score at or under ROUNDING (1e-9 of a sensor's spread) opens no alert, whatever the threshold. Why: a
  feed that never moved through its warm-up (a Modbus device's registers held) fits a threshold of float rounding
  (5.5e-15), and the next tick's rounding (7.0e-15) opened an alert `score 0.00 (peak 0.00) thr 0.00` that lasted
  until the input ended (user33). A real change of such a sensor scores in units of its std floor: 1 and more.
The events and their explanation are agent/alert_events.py; the open alert's record and the state a
checkpoint holds, agent/alert_state.py.
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from .alert_events import AlertEvent, drivers, explain, iso, scored_tops
from .alert_faults import calm_without, link, residue_hold
from .alert_levels import level_holds, level_released, peak_level_holds, track_levels, under_level_floor
from .alert_residue import over_floors, residue_floors, residue_lasts
from .alert_state import OpenAlert, open_state, read_state

if TYPE_CHECKING:
    from .alert_station import StationMates
    from .config import AlertConfig
    from .faults.events import FaultEvent

log = logging.getLogger("stad.alerts")

#: A tick score no larger than this is float rounding, not a reading apart from its forecast (user33: 7e-15)
ROUNDING = 1e-9

__all__ = ["AlertEvent", "AlertTracker", "drivers", "explain", "iso"]     # (callers import these from here)


class AlertTracker:
    """One node's alert state. `observe` is called once per scored tick; returns the events."""

    def __init__(self, cfg: AlertConfig, node: str, site: str, tick_s: float, hold_ticks: int = 0,
                 fault_ticks: int = 0, window_ticks: int = 32, drifting: tuple[str, ...] = (),
                 residue_fraction: float = 0.0, station: StationMates | None = None):
        self.cfg = cfg
        self.station = station      # alerts.station_factor (agent/alert_station.py): None, off
        # scoring.profile.residue_fraction (agent/alert_residue.py): 0 off; its residue must last a window
        self.residue_fraction = residue_fraction
        self.window_ticks = window_ticks
        self.residue_floor: dict[str, float] = {}   # after an alert ended on its residue: per sensor, the bar to open
        # Sensors whose level drifts in normal operation (scoring.profile.drifting): never the peak's level
        self.drifting = frozenset(drifting)
        self.no_data_ticks = cfg.no_data_ticks or window_ticks     # how long no data holds an alert
        self.hold_ticks = hold_ticks
        self.fault_ticks = max(1, fault_ticks)   # the suspect hold-back's ticks: how long a re-judge looks
        self.held_back = 0          # ticks the opening of the current exceedance was held back (checkpoint key "held")
        self.node, self.site = node, site
        self.tick_s = tick_s
        # Ids are <node>-<start>-<life>: readable and sortable by start, and unique per agent life,
        # so a second run over the same (seeded, simulated) clock does not reuse a first run's ids
        # that subscribers and the outbox de-duplicate on.
        self.life = os.urandom(3).hex()
        self.open: OpenAlert | None = None
        self.above = 0
        self.cooldown = 0
        self.suppressed = 0
        self.raised = 0
        self.floor = 0.0        # after a subsided alert: new alerts need a score above this
        self.calm = 0           # ticks in a row at or under the threshold (releases `floor`)
        self.level_floor = 0.0  # after a released alert: new alerts need a level above this (release_fraction)
        self.after_fault: dict | None = None    # the fault an alert ended with, while it lasts (sensor fault)
        self.judged: tuple = (None, 0.0, 0.0, None)     # the last observed tick's (ts, score, threshold, rejudge)
        self.over_without_fault = 0     # ticks in a row the score without `after_fault` was over the threshold
        self.tier: str | None = None    # the tier of the last observed tick (a step to another: _tier_changed)
        # the other scale's (open alert's subsided peak, whole-score floor) while the chain scores with this one
        # (a model tier or the numpy fallback: _tier_changed); checkpointed (review35: a restart while stepped down
        # came back on the model with its peak and floor forgotten)
        self.aside: tuple[float | None, float] = (None, 0.0)

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
                hold=None, levels=None, rejudge=None, unheard=None, scores=None) -> list[AlertEvent]:
        """`model` and `explain_fn` are zero-argument callables: only ticks that matter pay for them.
        `hold() -> bool`: wait before opening (see hold-back above). `levels() -> {sensor: σ}`: each
        sensor's level distance from warm-up (held: agent/alert_levels.py; None: no alert is held). `rejudge(fault_id)
        -> float`: the tick's worst sensor score with that fault's sensors and their mates' fusion part left
        out (agent/alert_faults.py; None: no alert ends with a fault). `unheard(sensors) -> str | None`: whether
        one of them is not heard this tick — "silent" (no reading) or "settling" (its score held at 0 after a
        gap) — or None (see no data above; None for the callable: every tick is judged). `scores() -> {sensor:
        score}`: the tick's sensor scores (residue, agent/alert_residue.py; None: the rule is off)."""
        self.judged = (ts, score, threshold, rejudge)     # (the tick's, for a fault raised after it: fault_raised)
        if tier != self.tier:
            self._tier_changed(tier)
        if self.open is None:
            if self.after_fault is not None and rejudge is not None:
                score = min(score, rejudge(self.after_fault["fault_id"]))     # the ended alert's residue is no new one
                self.over_without_fault = self.over_without_fault + 1 if score > threshold else 0
                if 0 < self.over_without_fault < self.fault_ticks:     # …unless it lasts as long as the end waited
                    hold = residue_hold
            return self._idle(ts, score, threshold, tier, model, explain_fn, hold, levels, scores)
        if self.open.fault is not None and rejudge is not None and self.cfg.fault_end:
            if self.open.fault_now:
                self.after_fault = self.open.fault
                return [self.close(ts, self.open.last_score, threshold, tier, model, "sensor_fault", fault=self.open.fault)]
            ended = self._rejudged(ts, score, threshold, tier, model, rejudge)
            if ended is not None:
                return [ended]
        if self.open.judge_after_refill:
            return self._judged_after_refill(ts, score, threshold, tier, model, explain_fn, levels, unheard, scores)
        return self._active(ts, score, threshold, tier, model, explain_fn, levels, unheard, scores)

    def _judged_after_refill(self, ts, score, threshold, tier, model, explain_fn, levels, unheard,
                             scores=None) -> list[AlertEvent]:
        """A scored tick of an alert open across a restart whose skipped gap, longer than the window, refilled it
        (`resumed(..., refilled=True)`), while it has not been seen above the threshold since: judged by the rules
        that end a live alert, so it keeps its id while the evidence is mixed. A tick above the threshold or held
        by a rule (levels) — the alert goes on, its next event says the gap, and it is a live alert again (its
        later end is `cleared`, `subsided`, … as seen). A tick in the hysteresis band, a silent driver, or calm
        ticks fewer than `clear_ticks` in a row: open, no event. Ended by the calm rules (`cleared`, `subsided`)
        before any tick above, its end lies in the ticks the restart did not see: reason `restart`, its `end` the
        last tick known above the threshold. Why (clock27): judged on the first score alone (clock25), one calm
        tick of an incident still going on (its scores dip under the band as a live one's do) ended it `restart`
        and its next ticks above paged a new alert — two pages for one incident, what the judgment is there to
        prevent; and a band tick there handed it to the live rule, whose calm then ended it `cleared` with an
        `end` before the downtime."""
        a = self.open
        known = a.last_above
        events = self._active(ts, score, threshold, tier, model, explain_fn, levels, unheard, scores)
        if self.open is not a:      # ended on this tick: by the calm rules, the restart's end
            if events[-1].reason in ("cleared", "subsided"):
                events[-1].reason = "restart"
            return events
        if a.last_above != known:   # above the threshold or held on this tick: seen going on after the restart
            a.judge_after_refill = False
        return events

    def fault_raised(self, f: FaultEvent) -> None:
        """A fault was just raised (after this tick's observe): the open alert is re-judged for it when it
        could be what opened it (agent/alert_faults.py `link`)."""
        if self.open is None or not self.cfg.fault_end:
            return
        link(self.open, f, self.judged, self.hold_ticks * self.tick_s, self.fault_ticks * self.tick_s)

    def fault_ended(self, fault_id: str) -> None:
        """The fault the open alert is re-judged for ended first: the alert stands (and one that ended with it
        no longer keeps a new one from opening)."""
        if self.after_fault is not None and self.after_fault["fault_id"] == fault_id:
            self.after_fault = None
        a = self.open
        if a is not None and a.fault is not None and a.fault["fault_id"] == fault_id:
            a.fault, a.fault_calm, a.fault_now = None, 0, False

    def _rejudged(self, ts, score, threshold, tier, model, rejudge) -> AlertEvent | None:
        """The open alert's end with its fault, once nothing has been above the threshold without it for
        `fault_ticks` ticks in a row (None: not yet; agent/alert_faults.py `calm_without`)."""
        a = self.open
        if not calm_without(a, score, threshold, rejudge, self.fault_ticks):
            return None
        a.last_score = score
        self.after_fault = a.fault
        return self.close(ts, score, threshold, tier, model, "sensor_fault", fault=a.fault)

    def _idle(self, ts, score, threshold, tier, model, explain_fn, hold=None, levels=None, scores=None) -> list[AlertEvent]:
        if self.cooldown > 0:
            self.cooldown -= 1
        if score <= threshold:
            self.calm += 1
            if self.calm >= self.cfg.subside_release_ticks:
                self.floor = self.level_floor = 0.0
                self.residue_floor = {}
        else:
            self.calm = 0
        if (score <= max(threshold, self.floor, ROUNDING) or under_level_floor(self.level_floor, levels)
                or self._under_residue_floor(threshold, tier, scores)):
            self.above = 0
            self.held_back = 0
            return []
        self.above += 1
        severe = score > threshold * self.cfg.instant_factor
        if (self.above < self.cfg.min_duration_ticks and not severe
                and not self._station_confirms(threshold, tier, scores)):
            return []
        if self.cooldown > 0:
            self.suppressed += 1
            return []
        exp = explain_fn()
        if hold is not None and self.held_back < self.hold_ticks and hold():
            self.held_back += 1
            return []
        self.held_back = 0
        start = ts - (self.above - 1) * self.tick_s
        stamp = iso(start).replace("-", "").replace(":", "").replace(".000", "")
        self.open = OpenAlert(alert_id=f"{self.node}-{stamp}-{self.life}", start=start, last_above=ts, peak=score,
                              ticks=self.above, origin=exp.get("origin"), explain=exp, drivers=drivers(exp, threshold))
        self.open.opened_on = list(self.open.drivers)
        self.raised += 1
        return [self._event("new", ts, score, threshold, tier, model, exp)]

    def _active(self, ts, score, threshold, tier, model, explain_fn, levels=None, unheard=None,
                scores=None) -> list[AlertEvent]:
        a = self.open
        a.last_score = score
        if score > threshold:
            a.ticks += 1
            a.last_above = ts
        if a.model_peak is not None and score > a.model_peak:
            a.model_peak = score
        # (after a model change, a tick on the new scale is the alert's peak, and its explanation, only when over its
        # own threshold: a calm tick of a model scoring higher replaced them, review34)
        if score > a.peak and (a.model_peak is None or score > threshold):
            a.peak = score
            a.explain = explain_fn()
            a.drivers += [d for d in drivers(a.explain, threshold) if d not in a.drivers]
        distance = track_levels(self.cfg, a, levels)
        if scores is None or tier == "numpy":
            a.residue_ticks = 0     # the residue's window is of a model tier's ticks in a row (a fallback tick breaks it)
        elif (self.residue_fraction > 0
                and residue_lasts(self.cfg, a, self.residue_fraction, scores(), score, threshold, distance)
                >= self.window_ticks):
            self.residue_floor = residue_floors(a, self.residue_fraction)
            self.calm = 0
            return [self.close(ts, score, threshold, tier, model, "subsided")]
        if level_holds(self.cfg, a, score, threshold, distance):
            a.last_above = ts
            a.below = 0
            return []
        why = unheard(a.drivers) if unheard is not None and score <= threshold else None
        if why == "silent" or (why == "settling" and a.unheard):    # not a calm tick: no data on it (no data, above)
            a.unheard += why == "silent"
            return [self.close(ts, score, threshold, tier, model, "no_data")] if a.unheard >= self.no_data_ticks else []
        a.unheard = 0
        if level_released(self.cfg, a, distance):
            a.spent += 1
            if a.spent >= self.cfg.clear_ticks:
                self.level_floor = self.cfg.release_fraction * a.level_top
                self.calm = 0
                return [self.close(ts, score, threshold, tier, model, "subsided")]
        else:
            a.spent = 0
        # (not while the peak's own sensor is at its excursion: the peak was the onset's transient, agent/alert_levels.py)
        # (the peak on the model scoring now: new_model_scale)
        peak = a.peak if a.model_peak is None else a.model_peak
        subsided = score < self.cfg.subside_fraction * peak and not peak_level_holds(self.cfg, a, distance, self.drifting)
        if score < threshold * self.cfg.hysteresis or subsided:
            a.below += 1
            if a.below >= self.cfg.clear_ticks:
                if score >= threshold * self.cfg.hysteresis:
                    self.floor = self.cfg.subside_fraction * peak
                    self.calm = 0
                    return [self.close(ts, score, threshold, tier, model, "subsided")]
                return [self.close(ts, score, threshold, tier, model, "cleared")]
            return []
        a.below = 0
        if ts - a.last_sent_ts < self.cfg.update_interval_s and not (a.resumed and score > threshold):
            return []
        exp = explain_fn()
        tops = scored_tops(exp)
        if a.peak >= a.last_sent_peak * 1.1 or tops != a.last_tops or (a.resumed and score > threshold):
            return [self._event("update", ts, score, threshold, tier, model, exp)]
        return []

    def _station_confirms(self, threshold, tier, scores) -> bool:
        """`alerts.station_factor` (agent/alert_station.py): on a model tier's tick, another sensor of the station over
        the threshold is over the factor × the threshold, so this tick needs no second one."""
        return (self.station is not None and tier != "numpy" and scores is not None
                and self.station.confirms(scores(), threshold))

    def _under_residue_floor(self, threshold, tier, scores) -> bool:
        """After an alert ended on its residue: no sensor a model tier scores is over both the threshold and its
        floor (agent/alert_residue.py), so no alert opens on this tick."""
        if not self.residue_floor or scores is None or tier == "numpy":
            return False
        return over_floors(self.residue_floor, scores()) <= threshold

    def close(self, ts, score, threshold, tier, model, reason: str, fault: dict | None = None) -> AlertEvent:
        a = self.open
        ev = self._event("end", ts, score, threshold, tier, model, a.explain, end=a.last_above, reason=reason)
        ev.fault = fault
        self.open = None
        self.above = 0
        self.cooldown = self.cfg.cooldown_ticks
        self.aside = (None, self.aside[1])       # (its peak on the other scale was this alert's)
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
        a.last_tops = scored_tops(exp)
        return ev

    # -- restarts (agent/checkpoint.py) ---------------------------------------------------------

    def state_dict(self) -> dict:
        return {"open": open_state(self.open),
                "above": self.above, "cooldown": self.cooldown, "suppressed": self.suppressed,
                "raised": self.raised, "floor": self.floor, "held": self.held_back, "calm": self.calm,
                "level_floor": self.level_floor, "after_fault": self.after_fault,
                "residue": self.over_without_fault,     # (the counts' keys from before their names: read_state)
                "residue_floor": dict(self.residue_floor), "tier": self.tier, "aside": list(self.aside)}

    def restore(self, state: dict) -> None:
        """Resume from state_dict(); ValueError naming the key when it is not one (nothing changed then). A cool-down
        longer than `cooldown_ticks` (lowered since, or a damaged journal's 10⁹: every alert suppressed) is cut to it."""
        for k, v in read_state(state).items():
            setattr(self, k, v)
        self.cooldown = min(self.cooldown, self.cfg.cooldown_ticks)

    def new_model_scale(self) -> bool:
        """The model tier scores on another scale from now on: a hot swap, a restart onto another bundle or profile,
        a profile fitted on a warm-up of its own (agent/pipeline.py `swap`, agent/pipeline_state.py, agent/resume.py).
        What the end and opening rules keep of the old model's scores is forgotten, so the new model is judged
        against its own: the residue rule's per-sensor peaks, its residue's run and floors (agent/alert_residue.py;
        the old peaks judged the new model's scores as residue, ended an alert still on `subsided` and kept the
        next one from opening, review32), and the subsided rule's bar: the whole-score `floor` a subsided alert left
        and the open alert's peak it judges against (`model_peak`, from the next tick; `peak`, reported as
        peak_score, stays the alert's: a tick of the new model raises it, and its explanation, only when over its
        threshold, review34). Why (review33): the tracker sees raw scores, and a model prepared on other
        ticks scores the same plant on another scale — on the demo a swapped-in copy, its profile fitted on the
        recent ticks, scored 3.8 where the old one scored 225 after an alert that peaked at 618: the old floor
        (309) kept every alert of the new model from opening until `subside_release_ticks` calm ticks in a row.
        The thresholds' ratio (4.6 / 3.8) is no measure of that scale: a new model's scores are not comparable.
        True when there was something to forget."""
        a = self.open
        had = (bool(self.residue_floor) or self.floor > 0
               or (a is not None and (bool(a.score_peak or a.residue_ticks)
                                      or (self.cfg.subside_fraction > 0 and a.model_peak != 0.0))))
        had = had or self.aside != (None, 0.0)
        self.residue_floor = {}
        self.floor = 0.0
        self.aside = (None, 0.0)        # (the other scale's: forgotten too, whichever the chain scores with now)
        if a is not None:
            a.score_peak, a.residue_ticks, a.model_peak = {}, 0, 0.0
        return had

    def _tier_changed(self, tier: str) -> None:
        """The chain stepped to another tier (a fault, a latency overrun, a retry after probation). Between a model
        tier and the numpy fallback the scores are on other scales, as a swapped-in model's are: the subsided rule's
        peak of the open alert and its whole-score floor are those of the scale that made them, so the two are put
        aside for the other scale's (`aside`; 0 when it has none yet) and come back when the chain steps back — a
        one-tick flap keeps the model's peak. tflite ↔ onnx are one bundle's artifacts: one scale. The residue rule
        counts only model ticks already (agent/alert_residue.py). Why (review34): an alert of a profiled model (peak
        600) open when the chain stepped down to numpy (threshold 7, scoring 20) ended `subsided` against 0.2 × 600
        while the incident went on, and its floor (120) then kept numpy from opening one. Not at the first tick of a
        tracker that never judged one (a start); a restart restores the tier its state last judged (`tier`: a
        restart onto another, the model's runtime gone after an upgrade, is a step too) and what was put aside
        (`aside`: a restart while stepped down, back on the model, judges by the model's peak and floor still)."""
        old, self.tier = self.tier, tier
        if old is None or (old == "numpy") == (tier == "numpy"):
            return
        a = self.open
        peak = None if a is None else (a.peak if a.model_peak is None else a.model_peak)
        aside_peak, aside_floor = self.aside
        self.aside = (peak, self.floor)
        self.floor = aside_floor
        if a is not None:
            a.model_peak = 0.0 if aside_peak is None else aside_peak
        if peak or aside_peak or self.floor or self.aside[1]:
            log.info("alerts: the scoring tier changed (%s → %s): the subsided rule judges %s's scores against %s's "
                     "own peak and floor (%s's are put aside until it scores again)", old, tier, tier, tier, old)

    def forget_open(self) -> None:
        """Let go of the open alert without an event: the sinks hold newer events of it, or of a
        later alert, than the state restored (a run that could not journal them, then died)."""
        self.open = None
        self.above = 0
        self.aside = (None, self.aside[1])

    def resumed(self, gap_s: float, refilled: bool = False) -> None:
        """The agent restarted with this alert open: the next event says how much data went unseen,
        and comes at the first tick still above the threshold (the condition lasts). `refilled`: the gap
        was longer than the window and skipped, the window refills: the alert is judged from the first score
        after it by the live end rules (`_judged_after_refill`); the calm counts from before the downtime are
        not adjacent to the ticks after it: they start again. A restart before the gap was said (a second
        kill -9 during the refill or the judgment, or while the alert went on under the threshold without an
        event: clearing, held) adds its gap to the one still to be said: the ticks of both went unseen, those
        seen between are not in either (clock26: outside a pending judgment the second overwrote the first,
        and the next event said only the last downtime)."""
        a = self.open
        if a is None:
            return
        if a.gap_s is not None:
            gap_s += a.gap_s
        a.gap_s = round(float(gap_s), 3)
        a.resumed = True
        a.judge_after_refill = a.judge_after_refill or refilled
        if refilled:
            a.below = a.spent = a.residue_ticks = 0

    def end_at_restart(self, ts, threshold, tier, model, gap_s: float | None) -> AlertEvent:
        """End the open alert because the restarted agent cannot judge it (no usable state, or a
        data gap longer than the window); its score is the last one seen before the restart."""
        a = self.open
        a.gap_s = None if gap_s is None else round(float(gap_s), 3)
        return self.close(ts, a.last_score, threshold, tier, model, "restart")
