"""`evaluate --feedback-delay S`: the labels replayed as operator feedback, and how false alarms
per day fall over time with it.

The operator is simulated as someone who looks at every alert S seconds after it was raised and
answers on `…/feedback`: at the first tick at or after raise + S the alert gets `false_alarm`
when, from its raise to that moment, it overlapped no labelled event (extended by evaluate's
event tolerance, as evaluate counts false alarms), else `confirmed`. The verdict uses only
labels of ticks up to that moment — what the operator could have seen, never later labels —
and an alert raised during a gap of the labels is judged like any other. So the replay can call
an alert a false alarm that a later event then overlaps (the final count calls it a detection).

The verdict goes through the daemon's own code, not a copy: the message is built as JSON, parsed
by agent/feedback.parse and applied by the Detector's FeedbackMemory, as the service applies what
the MQTT sink receives. The FeedbackConfig is the one of the config's MQTT sink when it sets
`feedback`, else the defaults.

`false_alarms_over_time` splits each file's scored span into tenths and counts, per tenth over
all files, the false-alarm alerts raised in it per day of data: with feedback the later tenths
should fall, without it they show how much the agent's own learning already does.
"""
from __future__ import annotations

import json
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from ..feedback import FeedbackMemory, Refused, parse

if TYPE_CHECKING:
    from ..alerts import AlertEvent
    from .traces import FileRows, Trace

SUFFIX = "+feedback"           # the scorer name of a run with replayed feedback: numpy+feedback
PARTS = 10                     # the scored span of each file, in this many parts
SECONDS_PER_DAY = 86400.0
OPERATOR = "evaluate: labels"  # the `operator` of every replayed message


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


class LabelledOperator:
    """Answers every alert `delay_s` after it was raised, from the labels seen up to then."""

    def __init__(self, events: list[tuple[float, float]], delay_s: float, tolerance_s: float,
                 memory: FeedbackMemory):
        self.events = [(start, end + tolerance_s) for start, end in events]
        self.delay_s = delay_s
        self.memory = memory
        self.pending: OrderedDict[str, list] = OrderedDict()   # alert_id -> [due, raised, last above or None]
        self.verdicts: Counter = Counter()                      # verdict (or 'refused') -> messages

    def observe(self, alert_events: list[AlertEvent]) -> None:
        """The alert events of one tick: a `new` one is answered later; an `end` fixes its span."""
        for ev in alert_events:
            if ev.event == "new":
                self.pending[ev.alert_id] = [ev.ts + self.delay_s, ev.ts, None]
            elif ev.event == "end" and ev.alert_id in self.pending:
                self.pending[ev.alert_id][2] = ev.end if ev.end is not None else ev.ts

    def deliver(self, now: float) -> None:
        """Answer, before the tick at `now` is judged, every alert whose feedback is due."""
        for alert_id, (due, raised, last) in list(self.pending.items()):
            if due > now:
                break                  # raised in time order, so due in time order
            del self.pending[alert_id]
            seen = (raised, now if last is None else min(last, now))
            verdict = "confirmed" if any(_overlaps(seen, ev) for ev in self.events) else "false_alarm"
            payload = json.dumps({"alert_id": alert_id, "verdict": verdict, "operator": OPERATOR}).encode()
            try:
                msg = parse(payload)
                self.memory.apply(msg["alert_id"], msg["verdict"])
                self.verdicts[verdict] += 1
            except Refused:
                self.verdicts["refused"] += 1


def false_alarms_over_time(pairs: list[tuple[FileRows, Trace]], tolerance_s: float, parts: int = PARTS) -> dict:
    """False-alarm alerts per day of data in each tenth of the files' scored spans, over all files
    (an alert counts in the part it was raised in; its definition is evaluate's `events` one)."""
    counts, days = np.zeros(parts), np.zeros(parts)
    for f, t in pairs:
        if not f.scored.any():
            continue
        lo, hi = float(f.ts[f.scored][0]), float(f.ts[f.scored][-1]) + f.tick_s
        edges = np.linspace(lo, hi, parts + 1)
        days += np.diff(edges) / SECONDS_PER_DAY
        extended = [(start, end + tolerance_s) for start, end in f.scored_events]
        for a, b in t.alert_spans:
            if b < lo:
                continue
            span = (max(a, lo), b)
            if not any(_overlaps(span, ev) for ev in extended):
                counts[min(parts - 1, int(np.searchsorted(edges, span[0], side="right")) - 1)] += 1
    per_day = [float(c / d) if d > 0 else None for c, d in zip(counts, days)]
    return {"parts": parts, "false_alarms": [int(c) for c in counts], "days": [float(d) for d in days],
            "per_day": per_day}


def combined(over_times: list[dict]) -> dict:
    """Several false_alarms_over_time results (e.g. one per NAB file, each with its own tick) as one."""
    parts = over_times[0]["parts"]
    counts = np.sum([o["false_alarms"] for o in over_times], axis=0)
    days = np.sum([o["days"] for o in over_times], axis=0)
    return {"parts": parts, "false_alarms": [int(c) for c in counts], "days": [float(d) for d in days],
            "per_day": [float(c / d) if d > 0 else None for c, d in zip(counts, days)]}


def format_over_time(name: str, over_time: dict) -> str:
    """One table row: the scorer, then false alarms per day in each part."""
    cells = ["–" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"
             for v in over_time["per_day"]]
    return f"{name:18} " + " ".join(f"{c:>7}" for c in cells) + f"   ({sum(over_time['false_alarms'])} in all)"


def over_time_lines(report: dict) -> list[str]:
    """The terminal/Markdown lines of the over-time table (none when feedback was not replayed)."""
    fb = report.get("feedback")
    rows = [s for s in report["scorers"] if s.get("false_alarms_over_time")]
    if not fb or not rows:
        return []
    parts = rows[0]["false_alarms_over_time"]["parts"]
    head = f"{'':18} " + " ".join(f"{f'{k + 1}/{parts}':>7}" for k in range(parts))
    verdicts = "; ".join(f"{name}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                         for name, counts in fb["verdicts"].items())
    return [f"false alarms per day, by tenth of the scored span (operator feedback from the labels "
            f"{fb['delay_s']:g} s after each alert; max_lift {fb['max_lift']:g}, half_life_s {fb['half_life_s']:g}):",
            head, *[format_over_time(s["name"], s["false_alarms_over_time"]) for s in rows],
            f"verdicts replayed: {verdicts or 'none'}"]


__all__ = ["LabelledOperator", "OPERATOR", "PARTS", "SUFFIX", "combined", "false_alarms_over_time", "format_over_time",
           "over_time_lines"]
