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
  - A sensor decided alone is told at once, as before (a page never waits for mates that may not
    come); it is kept here as a *lone* fault its mates may join.
  - A sensor of that group decided later, within `faults.station_join_s` of the open station or lone
    fault's start, joins it (faults6: before, only a station fault could be joined, so mates
    judged a few ticks apart were paged apart — one page each — though one cause): one page, as early
    as possible. The fault_end lists it (a station's in `sensors`; a lone fault's, whose payload is a
    sensor fault's, in evidence.kinds) and, with the tick it was decided, in evidence.joined (a scorer
    of the events, agent/evaluate/faults.py, loses no decision); later, a mate is told on its own.
  - A join is told (faults12, numbered by faults13): a `fault_update` event of the fault, its `sensors` (a
    station's) every sensor it now stands for, evidence.kinds each one's kind and evidence.joined who joined when.
    Before, the join was untold until the end: user27's centre read `2 sensors (K030_flow, K030_occ: dead)` while
    K030_speed was dead too a tick later. A join adds no page (no second `fault`): the update says it. Its seq
    is an alert's: `fault` 0, each `fault_update` the next (1, 2, …), the `fault_end` the one after the last
    (`updates` + 1) — so (fault_id, seq) is unique and grows in the order they are sent, and a fault no mate
    joined ends with seq 1 as it always did (a journal or checkpoint of a release before the updates, which
    has no `updates`, ends its faults so). The count is in the checkpoint and the journal entry (`updates`).
  - A sensor the open fault already stands for, ended untold (a mate still faulty) and judged faulty again, joins
    it again however long it has been open (faults13): to a subscriber it never left it. Before, past
    `station_join_s` it opened a second fault of the station beside the open one (user27's K030: `dead`, then
    `stuck` 13 min on — two open faults for one station). A mate new to the fault past `station_join_s` is
    still told on its own.
  - Its end: one fault_end (reason of the last) when the last of its sensors has ended; each
    sensor's own end before that is untold. A lone fault no mate joined ends as it always did.
Source faults (kind `source`) are not grouped again: they already stand for their sensors.
An open station or lone fault is in the tracker's checkpoint (`stations`) and in the fault journal (a
station keyed by the group, with its sensors and their kinds; a lone fault keyed by its sensor, as any
fault, with its mates once one joined). That journal entry has one writer: the `entry` dict of its
Grouped here, which the fault's event hands to delivery (FaultEvent.open_entry) and which grows in place
as mates join — so every journal write after a join carries the mate (before, the entry was copied from
the `fault` event and a joined mate, missing from it, was told again on its own after a crash). A join is
journaled when it happens (`take_rewritten`: no event tells it), and so is a hand-over (a fault's sensor judged
by another rule as its own condition goes: tracker._hand_over, `judged_as`) — a station's or lone fault's entry
rewritten with the kind, a sensor's own fault's given `kinds_judged` (faults15: before, a hand-over reached the
journal only with the next join or end, so after a kill -9 the resumed fault was the old kind again and its end
listed that kind alone). What `entries` gives a restart is a copy,
since the ticks a restart steps again untold (the last run told them) must not change what was told;
past them, delivery holds the dicts themselves again (faults7: before, a mate joining a fault resumed from a
restart reached the journal only with that fault's end, and a second crash meanwhile told it again).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ..alerts import iso
from .events import FaultEvent, id_stamp, only_silences

KIND = "station"


@dataclass
class Grouped:
    """An open station fault, or a lone fault (`head`: its sensor) mates may join. Its times (`start`, `joined`'s
    ticks) are moved by `shift_time` alone, not TIME_FIELDS: its journal entry must move with them."""
    group: str
    fault_id: str
    start: float
    sensors: list[str]                                   # every sensor it has stood for (told or joined)
    kinds: dict[str, str] = field(default_factory=dict)  # sensor → its own kind
    joined: dict[str, float] = field(default_factory=dict)  # sensor → the tick it joined (decided after the start)
    head: str = ""                                       # a lone fault: the sensor it was told as ("": a station)
    kinds_judged: dict[str, list[str]] = field(default_factory=dict)   # sensor → every kind it was judged, in order,
    #                                     once each: only a sensor decided again within the join under another kind
    updates: int = 0                                     # `fault_update`s told: the last one's seq (faults13)

    def __post_init__(self):
        self.entry: dict = {}       # its fault journal entry: the one dict delivery keeps (not a field: not state)
        self.sync()

    @property
    def kind(self) -> str:
        """Its events' kind: a station's `station`; a lone fault's, its sensor's kind as told (the first: its
        sensor decided again within the join under another kind keeps the fault's kind)."""
        return self.kinds_judged.get(self.head, [self.kinds[self.head]])[0] if self.head else KIND

    @property
    def key(self) -> str:
        """Its key in the fault journal: a station's group, a lone fault's sensor (as any sensor fault's)."""
        return self.head or self.group

    def sync(self) -> None:
        """The journal entry rewritten in place from the fields (after a join, a time-base move)."""
        e = {"fault_id": self.fault_id, "kind": self.kind, "start": self.start, "group": self.group}
        if not self.head or self.joined:        # (a lone fault nobody joined: a sensor fault's entry, as before)
            e.update(sensors=list(self.sensors), kinds=dict(self.kinds), joined=dict(self.joined))
        if self.kinds_judged:
            e["kinds_judged"] = {s: list(k) for s, k in self.kinds_judged.items()}
        if self.updates:            # (none: an entry as a release before the updates wrote it)
            e["updates"] = self.updates
        self.entry.clear()
        self.entry.update(e)

    def shift_time(self, delta: float) -> None:
        """A time-base move (agent/time_shift.py): `start`, `joined`'s ticks and the journal entry, all here — before,
        `start` was a TIME_FIELDS the walker moved after this call, which moved it, synced the entry and moved it
        back: right only in that order (review26)."""
        self.start += delta
        self.joined = {s: t + delta for s, t in self.joined.items()}
        self.sync()


class StationFaults:
    """One tracker's open station and lone faults; the tracker calls it only when faults start or end."""

    def __init__(self):
        self.open: dict[str, Grouped] = {}        # fault_id → its station or lone fault
        self.rewritten: list[tuple[str, dict, float]] = []  # (journal key, entry, tick) of open faults changed
        #                                       untold (a join, a hand-over) since delivery last took them (`take_rewritten`)
        self.louder: list[FaultEvent] = []        # silences a mate's own kind joined, for the alerts (`take_louder`)

    def started(self, events: list[FaultEvent], tr, ts: float) -> list[FaultEvent]:
        """The tracker's told `fault` events of tick `ts`: one of the sensors an open station or lone fault stands
        for, judged again, joins it at any age; one of a group whose station or lone fault is open (started within
        `faults.station_join_s`) joins it; each join is its fault's `fault_update`. Those of two or more other
        sensors of one group are made one `station` fault; one alone is told and kept as a lone fault."""
        by_group: dict[str, list[FaultEvent]] = {}
        out = []
        for ev in events:
            if ev.kind == "source" or not ev.group:
                out.append(ev)
            else:
                by_group.setdefault(ev.group, []).append(ev)
        join_s = tr.cfg.station_join_s
        for group, evs in by_group.items():
            back: dict[str, list[FaultEvent]] = {}      # fault_id → the sensors that join it at `ts`
            new = []
            for ev in evs:      # one an open fault stands for, judged again: back to it, however old (faults13)
                g = next((g for g in self.open.values() if g.group == group and ev.sensor in g.sensors), None)
                (new if g is None else back.setdefault(g.fault_id, [])).append(ev)
            open_ = next((g for g in self.open.values() if g.group == group and join_s > 0 and ts - g.start <= join_s),
                         None) if new else None
            if open_ is not None:
                back.setdefault(open_.fault_id, []).extend(new)
                new = []
            out += [self._join(self.open[fid], joining, tr, ts) for fid, joining in back.items()]
            if len(new) == 1:
                out.append(self._lone(new[0], tr))
            elif new:
                out.append(self._station(group, new, tr, ts))
        return out

    def _join(self, g: Grouped, evs: list[FaultEvent], tr, ts: float) -> FaultEvent:
        """Mates decided at `ts` join the open station or lone fault `g` (journaled: `take_rewritten`): its
        `fault_update`; one with a kind of its own joining a silence makes it louder for the alerts (`take_louder`)."""
        silent = only_silences(g.kinds.values())     # (as its told event: FaultEvent.silent)
        again = [ev.sensor for ev in evs if ev.sensor in g.sensors]
        for ev in evs:
            self._hold(g, ev, tr)
            g.joined[ev.sensor] = ts
        g.updates += 1
        g.sync()
        self.rewritten.append((g.key, g.entry, ts))
        loud = [ev for ev in evs if not ev.silent()]
        if silent and loud:
            told = self.event(g, "fault", ts, {}, tr)
            self.louder.append(replace(told, start=min(ev.start for ev in loud), sensors=list(g.sensors)))
        return self._update(g, evs, again, tr, ts)

    def _update(self, g: Grouped, evs: list[FaultEvent], again: list[str], tr, ts: float) -> FaultEvent:
        """The `fault_update` that tells mates `evs` joined `g` at `ts` (`again`: those it stood for already, judged
        faulty again): what it now stands for (faults12)."""
        joining = ", ".join(f"{ev.sensor} ({ev.kind}{', again' if ev.sensor in again else ''})" for ev in evs)
        now = ", ".join(g.sensors)
        head = f"{len(g.sensors)} sensors of {g.group} faulty together ({now})" if not g.head else \
            f"{g.head} and its mates of {g.group} ({now})"
        evidence = {"summary": f"{joining} joined: {head}; check what they share (detector card, cabinet, cable, "
                               f"power) — one cause, not each sensor",
                    **self._told(g), "each": {ev.sensor: ev.evidence for ev in evs},
                    "starts": {ev.sensor: iso(ev.start) for ev in evs}}
        update = self.event(g, "fault_update", ts, evidence, tr)
        update.kept = g.entry
        return update

    def _lone(self, ev: FaultEvent, tr) -> FaultEvent:
        """A sensor decided alone: told at once, and kept as a lone fault when its group has mates that may join."""
        if tr.ctx.groups.count(ev.group) > 1:
            g = Grouped(ev.group, ev.fault_id, ev.start, [ev.sensor], {ev.sensor: ev.kind}, head=ev.sensor)
            self.open[g.fault_id] = g
            ev.kept = g.entry
        return ev

    def _station(self, group: str, evs: list[FaultEvent], tr, ts: float) -> FaultEvent:
        """Two or more sensors of `group` decided at `ts`: one `station` fault, told."""
        start = min(ev.start for ev in evs)
        g = Grouped(group, f"{tr.node}-{group.replace(' ', '-')}-{id_stamp(start)}-{tr.life}", start, [])
        for ev in evs:
            self._hold(g, ev, tr)
        g.sync()
        self.open[g.fault_id] = g
        kinds = sorted(set(g.kinds.values()))
        evidence = {"summary": f"{len(evs)} sensors of {group} faulty together ({', '.join(g.sensors)}: "
                               f"{', '.join(kinds)}); check what they share (detector card, cabinet, cable, "
                               f"power) — one cause, not each sensor",
                    "kinds": dict(g.kinds), "each": {ev.sensor: ev.evidence for ev in evs},
                    "starts": {ev.sensor: iso(ev.start) for ev in evs}}
        told = self.event(g, "fault", ts, evidence, tr)
        told.kept = g.entry
        return told

    def take_rewritten(self) -> list[tuple[str, dict, float]]:
        """(journal key, entry, tick) of the open faults a mate joined or that were handed over since the last call:
        the fault journal must hold them at once (agent/delivery.py writes it), else a kill -9 before the fault's end
        lost a join — the mate, judged again after the restart, was told on its own (faults7) — or a hand-over — the
        fault resumed as its old kind, its end listing that kind alone (faults15)."""
        rewritten, self.rewritten = self.rewritten, []
        return rewritten

    def take_louder(self) -> list[FaultEvent]:
        """For the alerts (agent/pipeline_faults.py `tell_alert`), those of the faults still open that a mate's join
        made more than a silence since the last call: a `missing` (or a station all missing) is told to no alert
        (a sensor with no reading cannot be what it was about), and a mate joining it with a kind of its own
        (`stuck`) is told to no one — so no alert was re-judged for it (review26). Each is the fault's `fault`
        event as the alerts take it: the joining kind's start (what could have opened an alert), every sensor
        it stands for in `sensors` (a lone fault's payload has none), the join's tick; never published."""
        louder, self.louder = self.louder, []
        return [f for f in louder if f.fault_id in self.open]

    def judged_as(self, fault_id: str, sensor: str, kind: str, entry: dict, ts: float) -> None:
        """A sensor of the open fault `fault_id`, its own condition gone, judged `kind` by another rule at `ts`: it
        stays in the fault (tracker._hand_over, faults14), the kind kept as a sensor decided again under another kind
        is; journaled at once (`take_rewritten`): a station's or lone fault's entry, else the sensor's own fault's
        `entry` (the tracker's, with its `kinds_judged`)."""
        g = self.open.get(fault_id)
        if g is not None and sensor in g.sensors:
            self._judged(g, sensor, kind)
            g.sync()
            self.rewritten.append((g.key, g.entry, ts))
        else:
            self.rewritten.append((sensor, entry, ts))

    @classmethod
    def _hold(cls, g: Grouped, ev: FaultEvent, tr) -> None:
        if ev.sensor not in g.sensors:      # (one of its sensors healthy again, then decided again within the join)
            g.sensors.append(ev.sensor)
        cls._judged(g, ev.sensor, ev.kind)
        tr.ids[tr.index[ev.sensor]] = g.fault_id

    @staticmethod
    def _judged(g: Grouped, sensor: str, kind: str) -> None:
        was = g.kinds.get(sensor)
        if was is not None and was != kind:      # (judged again under another kind: each kind kept, review26)
            judged = g.kinds_judged.setdefault(sensor, [was])
            if kind not in judged:
                judged.append(kind)
        g.kinds[sensor] = kind

    def ended(self, events: list[FaultEvent], tr, ts: float) -> list[FaultEvent]:
        """The tracker's fault_end events at `ts`, in their order: those of a station or lone fault's sensors
        untold while one of its sensors is still faulty; then, at the last, its one fault_end (a lone fault no
        mate joined: its own, as it always was)."""
        if not self.open:
            return events
        out, gone = [], set()
        for ev in events:
            g = self.open.get(ev.fault_id)
            if g is None:
                if ev.fault_id not in gone:
                    out.append(ev)
                continue
            if any(i == ev.fault_id for i in tr.ids):
                continue                        # some of its sensors still faulty: ended untold
            del self.open[ev.fault_id]
            gone.add(ev.fault_id)
            out.append(ev if g.head and not g.joined else self._end(g, ev, ts, tr))
        return out

    def _end(self, g: Grouped, last: FaultEvent, ts: float, tr) -> FaultEvent:
        """The one fault_end of a station, or of a lone fault mates joined, at its last sensor's end `last`."""
        reason = last.reason
        said = ", ".join(g.sensors)
        if g.head:
            mates = ", ".join(f"{s} ({g.kinds[s]})" for s in g.sensors if s != g.head)
            summary = {"cleared": f"{g.head} and the mates of {g.group} that joined it ({mates}) healthy again"}
        else:
            summary = {"cleared": f"every sensor of {g.group} healthy again ({said})"}
        evidence = {"summary": summary.get(reason) or last.evidence["summary"], **self._told(g)}
        return self.event(g, "fault_end", ts, evidence, tr, reason=reason)

    @staticmethod
    def _told(g: Grouped) -> dict:
        """A fault_end's evidence besides its summary: each sensor's kind (its last), those that joined, when, and
        every kind of a sensor judged under more than one (`kinds_judged`, in order: review26)."""
        return {"kinds": dict(g.kinds), **({"joined": {s: iso(t) for s, t in g.joined.items()}} if g.joined else {}),
                **({"kinds_judged": {s: list(k) for s, k in g.kinds_judged.items()}} if g.kinds_judged else {})}

    def event(self, g: Grouped, kind: str, ts: float, evidence: dict, tr, reason: str | None = None) -> FaultEvent:
        """A station fault's event, or a lone fault's (its sensor's own kind, `sensors` left out: a sensor
        fault's payload, its mates in evidence)."""
        end = kind == "fault_end"
        seq = {"fault": 0, "fault_update": g.updates}.get(kind, g.updates + 1)     # (as an alert's: faults13)
        return FaultEvent(fault_id=g.fault_id, seq=seq, event=kind, node=tr.node, site=tr.site,
                          sensor=g.key, group=g.group, kind=g.kind, ts=ts, start=g.start,
                          end=ts if end else None, evidence=evidence, reason=reason,
                          sensors=None if g.head else list(g.sensors))

    # -- journal and checkpoint -------------------------------------------------------------------

    def entries(self, live: bool = False) -> dict[str, dict]:
        """The open station and lone faults as the fault journal keeps them, by group or sensor: copies (what a
        restart resumes is what was told; a tick the last run told, stepped again untold, must not change it);
        `live`: their own dicts, for delivery once those ticks are past (agent/resume.py `_faults_told`)."""
        return {g.key: g.entry if live else dict(g.entry) for g in self.open.values()}

    def resume(self, opened: dict[str, dict], tr) -> dict[str, dict]:
        """The journal's open faults (after tracker `tr`'s sources took theirs): its station faults and lone
        faults made this tracker's, and each of their sensors given its own kind under their id (unless the
        journal has its own fault for it). A lone fault is one as `started` keeps it — a sensor's own fault (not
        its source's `missing`) in a group with mates — whether mates joined it or not: one resumed from the
        journal alone could not be joined before (faults7), so a mate judged faulty within `station_join_s`
        after the restart was a second page."""
        self.open, self.rewritten, self.louder = {}, [], []
        names = set(tr.names)
        out = {name: f for name, f in opened.items() if f["kind"] != KIND}
        for key, f in opened.items():
            group = str(f.get("group") or "")
            if f["kind"] == KIND:
                g = _grouped(key, f)
            elif key in names and (f.get("sensors") or (group and f["fault_id"] not in tr.sources.open
                                                          and tr.ctx.groups.count(group) > 1)):
                g = _grouped(group, f, head=key)
            else:
                continue
            self.open[g.fault_id] = g
            for s in g.sensors:
                if s in names and s not in out and g.kinds.get(s):
                    out[s] = {"fault_id": g.fault_id, "kind": g.kinds[s], "start": g.start, "group": g.group,
                              **({"kinds_judged": {s: judged_path(g.kinds_judged[s], g.kinds[s])}}
                                 if s in g.kinds_judged else {})}
        return out

    def restart_end(self, key: str, f: dict, ts: float, tr, summary: str) -> FaultEvent:
        """fault_end (reason restart) of a station fault a previous life left open (journal entry `f`)."""
        g = _grouped(key, f)
        return self.event(g, "fault_end", ts, {"summary": summary, **self._told(g)}, tr, reason="restart")

    def state(self) -> list[dict]:
        """The open faults as the checkpoint keeps them (`kinds_judged`, `updates` only when there are: as before)."""
        return [{k: v for k, v in asdict(g).items() if k not in ("kinds_judged", "updates") or v}
                for g in self.open.values()]

    def restore(self, state: list[dict] | None) -> None:
        """state(); None (a checkpoint from before station faults): none open."""
        self.open, self.louder = {}, []
        for g in state or []:
            grouped = _grouped(str(g["group"]), g, head=str(g.get("head") or ""))
            self.open[grouped.fault_id] = grouped


def judged_path(judged: list[str], kind: str) -> list[str]:
    """A Grouped sensor's `kinds_judged` (each kind once) and its kind now as the tracker's hand-over says them
    (`[*was, kind]`: the kinds before, once each, then its kind now), which FaultTracker.resume_open reads."""
    return [*(judged if judged[-1] != kind else judged[:-1]), kind]


def _grouped(group: str, f: dict, head: str = "") -> Grouped:
    """A station or lone fault from its journal entry or checkpoint state (`group`: its group, when `f` has
    none; `head`: a lone fault's sensor; no `updates`: a release's before them, which told none)."""
    return Grouped(str(f.get("group") or group), str(f["fault_id"]), float(f["start"]),
                   [str(s) for s in f.get("sensors") or []] or [head] * bool(head),
                   {str(s): str(k) for s, k in (f.get("kinds") or {}).items()} or ({head: str(f.get("kind"))} if head else {}),
                   {str(s): float(t) for s, t in (f.get("joined") or {}).items()}, head,
                   {str(s): [str(k) for k in ks] for s, ks in (f.get("kinds_judged") or {}).items()},
                   int(f.get("updates") or 0))
