"""A sensor whose readings keep arriving but are refused (`clock skew`) is told so in its `missing` fault.

Why: user35's controller of loop station K028 went to summer time — its stamps an hour ahead of this host's clock.
The aligner refused every reading as `clock skew` (window.max_clock_skew_s; a WARNING in the journal a minute),
and the traffic centre received `3 sensors of K028 faulty together (K028_flow, K028_occ, K028_speed: missing);
check what they share (detector card, cabinet, cable, power)`: a technician sent to a cabinet that works, while
the cure is the controller's clock. The fault event is all a subscriber sees, so it must say what the gateway knows:
the readings came, stamped where the agent will not take them.

How: the agent notes, per sensor, the last reading refused as `clock skew` (`after_push`, on the agent's record path)
and forgets it when a reading of that sensor is taken. A `fault` of kind `missing` whose sensor has such a note —
or a `station` / `source` fault standing for missing sensors that all have one — gets `evidence.refused`
(reason, the records refused, the offset) and a summary that says it, in place of the hardware advice.
The fault's kind stays `missing` (the readings are missing from the window; schema and counters unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .records import Record, span

REASON = "clock skew"


@dataclass
class Refusal:
    count: int
    offset_s: float         # the last refused reading's stamp less this host's clock at its arrival
    stamp: float            # that reading's own stamp


class RefusedReadings:
    """Per sensor, the readings refused as `clock skew` since its last reading taken (see the module's docstring)."""

    def __init__(self, max_clock_skew_s: float, sensors):
        self.max_clock_skew_s = max_clock_skew_s
        self.sensors = frozenset(sensors)       # only these are noted: a sender's unknown names never grow the notes
        self.notes: dict[str, Refusal] = {}

    def after_push(self, rec: Record, refused: bool) -> None:
        """`rec` was just given to the aligner; `refused`: it was counted as `clock skew`."""
        if refused:
            offset = rec.ts - rec.received if rec.received is not None else 0.0
            for sensor in rec.values:
                if sensor not in self.sensors:
                    continue
                was = self.notes.get(sensor)
                self.notes[sensor] = Refusal((was.count if was else 0) + 1, offset, rec.ts)
        elif self.notes:
            for sensor in rec.values:
                self.notes.pop(sensor, None)

    def said(self, sensors: list[str], whose: str = "its") -> tuple[str, dict] | None:
        """What every one of `sensors` (all missing) has in common, said (`whose` readings): None unless each has a
        note."""
        notes = [self.notes.get(s) for s in sensors]
        if not notes or any(n is None for n in notes):
            return None
        last = max(notes, key=lambda n: n.stamp)
        offset = span(last.offset_s, signed=True)
        hour = abs(abs(last.offset_s) - 3600) < 120
        records = max(n.count for n in notes)     # (a record carries several of them: counted once, as rejects count)
        text = (f"{whose} readings arrive but are refused as {REASON}: stamped {offset} from this host's clock "
                f"(window.max_clock_skew_s {self.max_clock_skew_s:g} s; {records} record(s) refused)"
                f"{' — an hour: summer time?' if hour else ''}; set the sender's clock to UTC (NTP), "
                "nothing on site is broken")
        return text, {"reason": REASON, "count": records, "offset_s": round(last.offset_s, 3)}

    def explain(self, events: list) -> list:
        """`events` (FaultEvent) with each new `missing` fault — or `station` / `source` fault of missing sensors —
        whose sensors' readings were all refused said as such; the others as they are."""
        if not self.notes:
            return events
        out = []
        for ev in events:
            sensors = self._missing_sensors(ev)
            said = self.said(sensors, "its" if ev.kind == "missing" else "their") if sensors else None
            if said is None:
                out.append(ev)
                continue
            text, refused = said
            head = ev.evidence.get("summary", "")
            if ev.kind == "missing":
                summary = f"{head}: {text}"
            else:       # a station's or source's: its hardware advice does not fit
                summary = f"{len(sensors)} sensors of {ev.sensor} missing together ({', '.join(sensors)}): {text}"
            out.append(replace(ev, evidence={**ev.evidence, "summary": summary, "refused": refused}))
        return out

    @staticmethod
    def _missing_sensors(ev) -> list[str]:
        if ev.event != "fault":
            return []
        if ev.kind == "missing":
            return [ev.sensor]
        kinds = ev.evidence.get("kinds")
        if ev.kind in ("station", "source") and isinstance(kinds, dict) and kinds \
                and all(k == "missing" for k in kinds.values()):
            return list(kinds)
        if ev.kind == "source" and ev.sensors:
            return list(ev.sensors)
        return []
