"""A source that stops answering is one fault (kind `source`), not one `missing` per sensor it carries.

Why: a PLC rebooting for 15 s silenced its 8 registers and each was told `missing` ("check power and
communication to the detector"): eight technicians sent for one device, eight fault_end when it was
back (review20). A subscriber wants one event naming the device and the sensors it carries, and one
when it is back.

Which sensors a source carries comes from its config (SourceConfig.carried: registers, nodes, topics,
columns). A feed whose records name their sensors (udp, stdin, a replay without `columns`, an mqtt '*'
topic) carries the sensors no source names, when it is the only such feed; with two, those sensors
belong to neither and are told one by one, as before.

How a sensor is judged missing (window.carry_forward_s, then faults.missing_s) and masked (its readings
reach no scorer) does not change: only the telling groups. At the tick the tracker decides a sensor
`missing`, its source is *down* when
  - the source says it has lost its peer (Source.peer: a Modbus connect or read failure, the OPC UA
    session lost, the MQTT source's broker connection lost), or said so in an outage that lasted into
    the sensors' `missing` (Source.peer_since: ticks close late, window.idle_flush_s, so the decision
    often comes after the device is back — user11's PLC was "unreachable", its fault said "fell silent"), or
  - every sensor it carries that is not faulty for another reason is missing now, and they are two or
    more (udp, stdin cannot tell a lost peer: silence together is what they show; one sensor going
    silent alone is that sensor's own fault).
One `source` fault is then told (`sensors`: the sensors it silences; evidence: why, and the sensors
that keep faults of their own); each silent sensor stays `missing` in the tracker, masked as ever,
under the source fault's id and untold; one decided later while the fault is open joins it.

Its end: when the first of its sensors is back, one fault_end (reason cleared). An outage of the whole source
(every sensor it carries silent on the tick it is told, or its peer lost) ends on the first tick a reading is back:
a device or link that answers again is back, and holding its sensors masked for faults.clear_s after every short
stall hid a minute in five of a 1-s pump's drifts (faults10, faults11: bench/stall_mask.py). An outage told while
some of its sensors were still reading — the rest already under `missing` faults of their own — or one that began
less than faults.clear_s after the same source's last outage ended (an intermittent source: told once, not a
pair per drop) — or within faults.learn_s of the last such one (a source that flaps stays flapping: faults11's
candidate B) — ends as a lone sensor's `missing` does, once a sensor's readings have been back faults.clear_s: an
intermittent sensor stays one fault through its misses (the golden streams of tests/recorded_outputs.py). The
memory of the last outage's end and of the last flap is not checkpointed (after a restart the next outage may
end at once). A sensor of it still silent then has its `missing` ended untold and judged
afresh from that tick (Missing.rejudge): still silent after faults.missing_s, it is told as its own
`missing` fault — the source answers, that sensor does not. At a shutdown or a restart without state
it ends as any fault does (reason shutdown / restart). An open source fault is in the tracker's
checkpoint (`sources`) and in the fault journal (keyed by the source, with its sensors:
FaultEvent.open_entry), so a restart goes on with it under its id.

A replay's gap between two recordings is no outage (user30). A folder of daily files, or the next day's file
after a restart, left every sensor silent from one recording's last stamp to the next one's first: told as a
`source` fault and its fault_end at the same instant (the gap's ticks close only when the next recording's
first records arrive), a page for how the recordings were made, found after the fact (user29). When the
source says the silence lies between two of its recordings (Source.recording_gap: a replay, by the stamps it
read), the outage is held untold (`Outage.told` False): said once on the log, counted (health's
`sources.*.recording_gaps`, the stop summary), its sensors masked as in any outage, no fault and no
fault_end. A silence inside one recording, and any live source's, is told as before.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from .events import FaultEvent, held_apart, id_stamp

log = logging.getLogger("stad.faults")

#: what to check on site, by the source's type: one cause, not each sensor
CHECK = {"modbus": "check the device's power and its network link",
         "opcua": "check the OPC UA server and the network to it",
         "mqtt": "check the broker, the network to it and the publisher behind it",
         "udp": "check the sender and the network from it",
         "stdin": "check the process that writes to the agent"}


@dataclass
class Outage:
    """An open source fault."""
    TIME_FIELDS = ("start",)   # seconds on the time base (agent/timebase.py)
    source: str
    fault_id: str
    start: float
    sensors: list[str]
    group: str
    prompt: bool = False        # ends on the first tick a reading is back (a whole source's outage, not a flap)
    told: bool = True           # False: a replay's gap between two recordings, said on the log, no fault event


class SourceMap:
    """Which configured source carries each sensor, and (once attached) what each live source knows of
    its peer. Built once per agent from the config; the trackers it serves read it."""

    def __init__(self, sources: list[tuple[str, list[str], bool]], names: list[str]):
        """`sources`: (label, the sensors it names, whether it may carry others) of each config source."""
        labels = [label for label, _, _ in sources]
        self.labels = [f"{label} (sources[{k}])" if labels.count(label) > 1 else label
                       for k, label in enumerate(labels)]
        feeds = [k for k, (_, _, others) in enumerate(sources) if others]
        self.owner = []
        for name in names:
            naming = [k for k, (_, named, _) in enumerate(sources) if name in named]
            self.owner.append(naming[0] if len(naming) == 1 else feeds[0] if not naming and len(feeds) == 1 else -1)
        self.carries = [[i for i, k in enumerate(self.owner) if k == s] for s in range(len(sources))]
        self._sources: list = [None] * len(sources)

    @classmethod
    def of(cls, configs, names: list[str]) -> SourceMap:
        return cls([(c.label(), *c.carried()) for c in configs], names)

    def attach(self, sources) -> None:
        """The running sources, in the config's order: their `peer` is read when a sensor's missing is decided."""
        self._sources = sources

    def peer(self, k: int, since: float = float("inf"), until: float = float("inf")) -> tuple[bool, str] | None:
        """What source k says of its peer now, or — given a silence's `since`..`until` — whether that
        silence was an outage of its peer, ended or not (Source.peer_since)."""
        src = self._sources[k] if k < len(self._sources) else None
        return None if src is None else src.peer_since(since, until)

    def recording_gap(self, k: int, since: float, until: float) -> str | None:
        """Whether source k's silence from `since` to `until` lies between two of its recordings (a replay's)."""
        src = self._sources[k] if k < len(self._sources) else None
        return None if src is None else src.recording_gap(since, until)


class SourceFaults:
    """One tracker's open source faults; the tracker calls it only when faults start or end."""

    def __init__(self, smap: SourceMap | None, clear_s: float = 0.0, learn_s: float = 0.0):
        self.map = smap
        self.clear_s = clear_s                   # faults.clear_s: an outage sooner than this after the last one's end flaps
        self.learn_s = learn_s                   # faults.learn_s: how long a source that flapped is taken to flap
        self.open: dict[str, Outage] = {}        # fault_id → outage
        self.last_end: dict[str, float] = {}     # source → when its last outage ended (not checkpointed)
        self.flapped: dict[str, float] = {}      # source → when its last flapping outage began (not checkpointed)
        self.rejudged: tuple[float, list[int]] = (float("nan"), [])   # (tick, sensors whose missing ended untold)
        self.recording_gaps: dict[str, int] = {}    # source → its gaps between recordings passed untold (this life)

    # -- start ------------------------------------------------------------------------------------

    def started(self, events: list[FaultEvent], tr, t) -> list[FaultEvent]:
        """The tracker's new fault events of tick `t`: the `missing` ones whose source is down replaced
        by one `source` fault (or joined to the open one); every other event as it is."""
        if self.map is None or not any(ev.kind == "missing" for ev in events):
            return events
        out, by_source = [], {}
        for ev in events:
            k = self.map.owner[tr.index[ev.sensor]] if ev.kind == "missing" else -1
            if k < 0:
                out.append(ev)
            else:
                by_source.setdefault(k, []).append(ev)
        for k, evs in by_source.items():
            outage = next((o for o in self.open.values() if o.source == self.map.labels[k]), None)
            if outage is None:
                told = self._down(k, evs, tr, t)
                if told is None:
                    out.extend(evs)
                    continue
                outage, ev = told
                self.open[outage.fault_id] = outage
                if ev is not None:
                    out.append(ev)
            for ev in evs:              # masked as missing, under the source's fault, untold
                tr.ids[tr.index[ev.sensor]] = outage.fault_id
        return out

    def _down(self, k: int, evs: list[FaultEvent], tr, t) -> tuple[Outage, FaultEvent | None] | None:
        label, now = self.map.labels[k], {tr.index[ev.sensor] for ev in evs}
        own = {tr.names[j]: tr.kind[j] for j in self.map.carries[k] if tr.kind[j] and j not in now}
        silent = [j for j in self.map.carries[k] if tr.names[j] not in own]
        start = min(ev.start for ev in evs)
        if silent and all(t.missing[j] for j in silent):
            gap = self.map.recording_gap(k, start, t.ts)
            if gap is not None:
                return self._recording_gap(k, silent, gap, start, tr)
        peer = self.map.peer(k, start, t.ts)
        if peer is not None and not peer[0]:
            why = f"{label} stopped answering ({peer[1]})"
        elif len(silent) >= 2 and all(t.missing[j] for j in silent):
            why = f"every sensor {label} carries fell silent together"
        else:
            return None
        whole = (peer is not None and not peer[0]) or all(t.missing[j] for j in self.map.carries[k])
        if start - self.last_end.get(label, -float("inf")) < self.clear_s:
            self.flapped[label] = start
        flapping = start - self.flapped.get(label, -float("inf")) < self.learn_s
        outage = Outage(source=label, fault_id=f"{tr.node}-{label.replace(' ', '-')}-{id_stamp(start)}-{tr.life}",
                        start=start, sensors=[tr.names[j] for j in silent],
                        group=", ".join(dict.fromkeys(tr.ctx.groups[j] for j in silent)),
                        prompt=whole and not flapping)
        check = CHECK.get(label.split()[0], "check where it reads from")
        # of its sensors, those under a fault of their own already said apart (user36: "its 4 sensors" of a PLC of 5)
        evidence = {"summary": f"{why}: {_said(outage.sensors, own)} without a reading; {check} "
                               "(one cause, not each sensor)",
                    "connection": None if peer is None else (peer[1] or "connected")}
        if own:
            evidence["sensors_with_own_faults"] = own
        return outage, self.event(outage, "fault", t.ts, evidence, tr)

    def _recording_gap(self, k: int, silent: list[int], gap: str, start: float, tr) -> tuple[Outage, None]:
        """The untold outage of a replay's gap between recordings: said here, once, and counted."""
        label = self.map.labels[k]
        self.recording_gaps[label] = self.recording_gaps.get(label, 0) + 1
        log.info("%s: every sensor silent %s: a gap between recordings, not a fault — its sensors are masked until "
                 "the next recording's readings, no fault event (#%d)", label, gap, self.recording_gaps[label])
        outage = Outage(source=label, fault_id=f"{tr.node}-{label.replace(' ', '-')}-gap-{id_stamp(start)}-{tr.life}",
                        start=start, sensors=[tr.names[j] for j in silent],
                        group=", ".join(dict.fromkeys(tr.ctx.groups[j] for j in silent)), prompt=True, told=False)
        return outage, None

    # -- end --------------------------------------------------------------------------------------

    def ended(self, events: list[FaultEvent], tr, ts: float) -> list[FaultEvent]:
        """The tracker's fault_end events at `ts`: those of a source fault's sensors replaced by the
        source's one fault_end (at the first of them back); its sensors still silent are ended untold and
        their silence judged afresh (`rejudged`, Missing.rejudge)."""
        if not self.open:
            return events
        out, back = held_apart(events, self.open)
        for fault_id, evs in back.items():
            outage = self.open.pop(fault_id)
            still = [j for j, i in enumerate(tr.ids) if i == fault_id]
            for j in still:
                tr.rejudge(j, ts)
            self.rejudged = (ts, self.rejudged[1] + still if self.rejudged[0] == ts else still)
            if not outage.told:         # a replay's gap between recordings: said when it began, ends unsaid
                continue
            self.last_end[outage.source] = ts
            reason = evs[0].reason
            summary = {"cleared": f"{outage.source} answers again: {_said([ev.sensor for ev in evs])} back"}
            evidence = {"summary": summary.get(reason) or evs[0].evidence["summary"],
                        "back": [ev.sensor for ev in evs]}
            if still:
                evidence["summary"] += (f"; {_said([tr.names[j] for j in still])} still silent, each told as missing "
                                        f"if it stays so for faults.missing_s")
                evidence["still_silent"] = [tr.names[j] for j in still]
            out.append(self.event(outage, "fault_end", ts, evidence, tr, reason=reason))
        return out

    def event(self, outage: Outage, kind: str, ts: float, evidence: dict, tr, reason: str | None = None) -> FaultEvent:
        end = kind == "fault_end"
        return FaultEvent(fault_id=outage.fault_id, seq=int(end), event=kind, node=tr.node, site=tr.site,
                          sensor=outage.source, group=outage.group, kind="source", ts=ts, start=outage.start,
                          end=ts if end else None, evidence=evidence, reason=reason, source=outage.source,
                          sensors=list(outage.sensors))

    # -- journal and checkpoint -------------------------------------------------------------------

    def prompt_ids(self) -> set[str]:
        """The fault ids of the open outages that end on the first tick a reading is back."""
        return {fault_id for fault_id, o in self.open.items() if o.prompt}

    def entries(self) -> dict[str, dict]:
        """The open source faults as the fault journal keeps them (FaultEvent.open_entry), by source."""
        return {o.source: {"fault_id": o.fault_id, "kind": "source", "start": o.start, "group": o.group,
                           "sensors": list(o.sensors)} for o in self.open.values() if o.told}

    def resume(self, opened: dict[str, dict], names: set[str], group_of) -> dict[str, dict]:
        """The journal's open faults (`opened`, checked): its source faults made this tracker's, and each
        of their sensors given as `missing` under the source's id (unless the journal has its own fault)."""
        self.open = {}
        out = {name: f for name, f in opened.items() if f["kind"] != "source"}
        for label, f in opened.items():
            if f["kind"] != "source":
                continue
            sensors = [str(s) for s in f.get("sensors") or []]
            self.open[f["fault_id"]] = Outage(label, f["fault_id"], f["start"], sensors, str(f.get("group", "")))
            for s in sensors:
                if s in names and s not in out:
                    out[s] = {"fault_id": f["fault_id"], "kind": "missing", "start": f["start"], "group": group_of(s)}
        return out

    def restart_end(self, label: str, f: dict, ts: float, tr, summary: str) -> FaultEvent:
        """fault_end (reason restart) of a source fault a previous life left open (journal entry `f`)."""
        outage = Outage(label, f["fault_id"], f["start"], [str(s) for s in f.get("sensors") or []],
                        str(f.get("group", "")))
        return self.event(outage, "fault_end", ts, {"summary": summary}, tr, reason="restart")

    def state(self) -> list[dict]:
        return [asdict(o) for o in self.open.values()]

    def restore(self, state: list[dict] | None) -> None:
        """state(); None (a checkpoint from before source faults): none open."""
        self.open = {}
        for o in state or []:
            outage = Outage(str(o["source"]), str(o["fault_id"]), float(o["start"]), [str(s) for s in o["sensors"]],
                            str(o["group"]), bool(o.get("prompt", False)), bool(o.get("told", True)))
            self.open[outage.fault_id] = outage

    def snapshot(self) -> dict:
        """Health's `sources`: each configured source, whether it is down (an open source fault) and what
        it says of its peer (null: it cannot tell); a replay's `recording_gaps`: its gaps between recordings passed
        untold this life."""
        if self.map is None:
            return {}
        down = {o.source: o for o in list(self.open.values())}     # (one C call: Prometheus reads it from its thread)
        out = {}
        for k, label in enumerate(self.map.labels):
            peer, o = self.map.peer(k), down.get(label)
            o = o if o is not None and o.told else None
            out[label] = {"down": o is not None, "fault_id": o.fault_id if o else None,
                          "connected": None if peer is None else peer[0], "sensors": len(self.map.carries[k])}
            if label.split()[0] == "replay":
                out[label]["recording_gaps"] = self.recording_gaps.get(label, 0)
        return out


def _said(names: list[str], own: dict[str, str] | None = None) -> str:
    """'sensor a', 'its 2 sensors a, b', 'its 12 sensors a, b, …' for a summary; with `own` (sensor → kind of the
    fault it was under already) the source's whole count and those apart: 'its 5 sensors (1 already faulty: e dead):
    4 — a, b, c, d'. Each list bounded (SHOWN; the event's `sensors` and `sensors_with_own_faults` hold them all)."""
    shown = _first(names)
    if own:
        apart = _first([f"{n} {k}" for n, k in own.items()])
        return f"its {len(names) + len(own)} sensors ({len(own)} already faulty: {apart}): {len(names)} — {shown}"
    if len(names) == 1:
        return f"sensor {names[0]}"
    return f"its {len(names)} sensors {shown}"


#: names a summary lists at most, then ", …"
SHOWN = 8


def _first(items: list[str]) -> str:
    """'a, b, …': the first SHOWN of `items` (review47: a PLC's sensors already faulty were listed every one, 960
    characters for 30 of 40 in one fault's summary)."""
    return ", ".join(items[:SHOWN]) + (", …" if len(items) > SHOWN else "")
