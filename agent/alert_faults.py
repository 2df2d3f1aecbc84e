"""Sensor faults re-judging alerts: agent/alerts.py's tracker calls these; the caller's `rejudge(fault_id) -> float`
is the tick's worst sensor score with that fault's sensors and their mates' fusion part left out
(agent/pipeline_faults.py).

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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .alert_state import OpenAlert
    from .faults.events import FaultEvent


def link(a: OpenAlert, f: FaultEvent, judged: tuple, before_s: float, after_s: float) -> None:
    """Re-judge the open alert `a` for the fault `f` just raised (after this tick's observe, whose `judged` is
    (ts, score, threshold, rejudge)) when its condition began within `before_s` (the hold-back) before the
    alert, or one of its sensors was one of the alert's drivers when it opened and the condition began by
    `after_s` (`fault_ticks`) after it (a fault that came later cannot be what opened it) — at once, on this
    tick's scores: nothing over the threshold without it while the alert is, the alert ends at the next tick."""
    sensors = f.sensors or [f.sensor]
    drove = any(s in a.opened_on for s in sensors)
    if a.start - before_s <= f.start <= a.start or (drove and f.start <= a.start + after_s):
        a.fault, a.fault_calm = {"fault_id": f.fault_id, "sensor": f.sensor, "kind": f.kind}, 0
        # Decided within the suspect hold-back of the alert's start (the alert opened only because the decision
        # came after the wait ran out) and on its own tick nothing over the threshold without it: the alert was
        # the fault's — over the threshold there, or under it while one of its drivers is the fault's (its
        # level held it open). An older alert has had time to be about more than the fault (faults6's first
        # version also ended morning-queue alerts at a drift decided minutes into them: bench seeds 230–234)
        ts, score, threshold, rejudge = judged
        a.fault_now = (ts == f.ts and f.ts - a.start <= after_s and rejudge is not None
                       and rejudge(f.fault_id) <= threshold
                       and (score > threshold or any(s in a.drivers for s in sensors)))


def calm_without(a: OpenAlert, score: float, threshold: float, rejudge, fault_ticks: int) -> bool:
    """Whether the open alert `a` now ends with its fault: nothing has been above the threshold without it for
    `fault_ticks` ticks in a row (False: not yet, or never while something is). A tick whose own score is at or
    under the threshold is not counted either way: the alert is ending by the other rules (an alert that was
    ending anyway when a fault came is not the fault's)."""
    if score <= threshold:
        return False
    if rejudge(a.fault["fault_id"]) > threshold:
        a.fault_calm = 0
        return False
    a.fault_calm += 1
    return a.fault_calm >= fault_ticks


def residue_hold() -> bool:
    """While the fault an alert ended with lasts, a new alert over the threshold without it waits (as a
    hold-back, opening with its true start) until that has lasted `fault_ticks`: the re-judged residue
    of the fault's mates crosses it for a tick or two in the first minutes after the mask (faults6: ended
    at the fault, the frozen mate's alert was followed by one on that residue 59 ticks later)."""
    return True
