"""Sensors of one station / machine judged faulty together are one fault (kind `station`), not one each.

Why: a loop station whose three readings (flow, occ, speed) all dropped to 0 was told as three `stuck`
faults — three pages in the control room for one cause (a detector card, a cabinet, a cut cable; user11).
A subscriber wants one event naming the station and the sensors it stands for, and one when all are back.

What a station is: the sensors' `group` (the corridor topology's station prefix, the group topology's
`group`: a skid, a machine). How each sensor is judged, masked and cleared does not change: only the
telling groups (faults/source.py does the same for a source's silence).

  - Two or more sensors of one group decided faulty on the same tick (any kinds) are told as one
    `station` fault: `sensor` and `group` are the group, `sensors` the sensors, evidence.kinds each
    one's kind, evidence.each each one's own evidence, evidence.starts when each one's condition
    began. Each stays faulty in the tracker under its own kind, masked as ever, under the station
    fault's id, untold.
  - A sensor of that group decided later, within JOIN_S of the station fault's start, joins it
    untold: the fault_end lists it in `sensors` and, with the tick it was decided, in evidence.joined
    (a scorer of the events, agent/evaluate/faults.py, loses no decision); after JOIN_S a mate is
    told on its own, as before.
  - Its end: one fault_end (reason of the last) when the last of its sensors has ended; each
    sensor's own end before that is untold.
  - A sensor decided alone (no mate decided with it) is told as before: a station fault never
    delays a page.
Source faults (kind `source`) are not grouped again: they already stand for their sensors.
An open station fault is in the tracker's checkpoint (`stations`) and in the fault journal (keyed by
the group, with its sensors and their kinds), so a restart goes on with it under its id.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..alerts import iso
from .events import FaultEvent, held_apart, id_stamp

#: a mate decided this long after a station fault's start joins it (seconds); later, it is its own fault
JOIN_S = 300.0
KIND = "station"


@dataclass
class Grouped:
    """An open station fault."""
    TIME_FIELDS = ("start",)   # seconds on the time base (agent/timebase.py)
    group: str
    fault_id: str
    start: float
    sensors: list[str]                                   # every sensor it has stood for (told or joined)
    kinds: dict[str, str] = field(default_factory=dict)  # sensor → its own kind
    joined: dict[str, float] = field(default_factory=dict)  # sensor → the tick it joined (decided after the start)

    def shift_time(self, delta: float) -> None:
        """A time-base move (agent/timebase.py): `joined`'s ticks move with `start` (TIME_FIELDS)."""
        self.joined = {s: t + delta for s, t in self.joined.items()}


class StationFaults:
    """One tracker's open station faults; the tracker calls it only when faults start or end."""

    def __init__(self):
        self.open: dict[str, Grouped] = {}        # fault_id → its station fault

    def started(self, events: list[FaultEvent], tr, ts: float) -> list[FaultEvent]:
        """The tracker's told `fault` events of tick `ts`: those of two or more sensors of one group made one
        `station` fault; one of a group whose station fault is open (started within JOIN_S) joins it untold."""
        by_group: dict[str, list[FaultEvent]] = {}
        out = []
        for ev in events:
            if ev.kind == "source" or not ev.group:
                out.append(ev)
            else:
                by_group.setdefault(ev.group, []).append(ev)
        for group, evs in by_group.items():
            open_ = next((g for g in self.open.values() if g.group == group and ts - g.start <= JOIN_S), None)
            if open_ is not None:
                for ev in evs:
                    self._hold(open_, ev, tr)
                    open_.joined[ev.sensor] = ts
                continue
            if len(evs) < 2:
                out.extend(evs)
                continue
            start = min(ev.start for ev in evs)
            g = Grouped(group, f"{tr.node}-{group.replace(' ', '-')}-{id_stamp(start)}-{tr.life}", start, [])
            for ev in evs:
                self._hold(g, ev, tr)
            self.open[g.fault_id] = g
            kinds = sorted(set(g.kinds.values()))
            evidence = {"summary": f"{len(evs)} sensors of {group} faulty together ({', '.join(g.sensors)}: "
                                   f"{', '.join(kinds)}); check what they share (detector card, cabinet, cable, "
                                   f"power) — one cause, not each sensor",
                        "kinds": dict(g.kinds), "each": {ev.sensor: ev.evidence for ev in evs},
                        "starts": {ev.sensor: iso(ev.start) for ev in evs}}
            out.append(self.event(g, "fault", ts, evidence, tr))
        return out

    @staticmethod
    def _hold(g: Grouped, ev: FaultEvent, tr) -> None:
        g.sensors.append(ev.sensor)
        g.kinds[ev.sensor] = ev.kind
        tr.ids[tr.index[ev.sensor]] = g.fault_id

    def ended(self, events: list[FaultEvent], tr, ts: float) -> list[FaultEvent]:
        """The tracker's fault_end events at `ts`: those of a station fault's sensors untold, and the
        station's one fault_end when none of its sensors is faulty any more."""
        if not self.open:
            return events
        out, back = held_apart(events, self.open)
        for fault_id, evs in back.items():
            if any(i == fault_id for i in tr.ids):
                continue                        # some of its sensors still faulty: ended untold
            g = self.open.pop(fault_id)
            reason = evs[-1].reason
            summary = {"cleared": f"every sensor of {g.group} healthy again ({', '.join(g.sensors)})"}
            out.append(self.event(g, "fault_end", ts, {"summary": summary.get(reason) or evs[-1].evidence["summary"],
                                                       **self._told(g)}, tr, reason=reason))
        return out

    @staticmethod
    def _told(g: Grouped) -> dict:
        """A fault_end's evidence besides its summary: each sensor's kind, and those that joined, when."""
        return {"kinds": dict(g.kinds), **({"joined": {s: iso(t) for s, t in g.joined.items()}} if g.joined else {})}

    def event(self, g: Grouped, kind: str, ts: float, evidence: dict, tr, reason: str | None = None) -> FaultEvent:
        end = kind == "fault_end"
        return FaultEvent(fault_id=g.fault_id, seq=int(end), event=kind, node=tr.node, site=tr.site, sensor=g.group,
                          group=g.group, kind=KIND, ts=ts, start=g.start, end=ts if end else None, evidence=evidence,
                          reason=reason, sensors=list(g.sensors))

    # -- journal and checkpoint -------------------------------------------------------------------

    def entries(self) -> dict[str, dict]:
        """The open station faults as the fault journal keeps them, by group."""
        return {g.group: {"fault_id": g.fault_id, "kind": KIND, "start": g.start, "group": g.group,
                          "sensors": list(g.sensors), "kinds": dict(g.kinds), "joined": dict(g.joined)}
                for g in self.open.values()}

    def resume(self, opened: dict[str, dict], names: set[str]) -> dict[str, dict]:
        """The journal's open faults: its station faults made this tracker's, and each of their sensors
        given its own kind under the station's id (unless the journal has its own fault for it)."""
        self.open = {}
        out = {name: f for name, f in opened.items() if f["kind"] != KIND}
        for key, f in opened.items():
            if f["kind"] != KIND:
                continue
            g = _grouped(key, f)
            kinds = g.kinds
            self.open[g.fault_id] = g
            for s in g.sensors:
                if s in names and s not in out and kinds.get(s):
                    out[s] = {"fault_id": g.fault_id, "kind": kinds[s], "start": g.start, "group": g.group}
        return out

    def restart_end(self, key: str, f: dict, ts: float, tr, summary: str) -> FaultEvent:
        """fault_end (reason restart) of a station fault a previous life left open (journal entry `f`)."""
        g = _grouped(key, f)
        return self.event(g, "fault_end", ts, {"summary": summary, **self._told(g)}, tr, reason="restart")

    def state(self) -> list[dict]:
        return [asdict(g) for g in self.open.values()]

    def restore(self, state: list[dict] | None) -> None:
        """state(); None (a checkpoint from before station faults): none open."""
        self.open = {}
        for g in state or []:
            grouped = _grouped(str(g["group"]), g)
            self.open[grouped.fault_id] = grouped


def _grouped(key: str, f: dict) -> Grouped:
    """A station fault from its journal entry or checkpoint state (`key`: the group, when `f` has none)."""
    return Grouped(str(f.get("group") or key), str(f["fault_id"]), float(f["start"]),
                   [str(s) for s in f.get("sensors") or []],
                   {str(s): str(k) for s, k in (f.get("kinds") or {}).items()},
                   {str(s): float(t) for s, t in (f.get("joined") or {}).items()})
