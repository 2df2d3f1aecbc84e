"""`fault` / `fault_end` events: what an operator (or a maintenance system) is told about a sensor,
or about a source (a device, server, broker or feed) that stopped answering: kind `source`, named by
the source in `sensor` and `source`, with the sensors it carries in `sensors` (faults/source.py) —
one fault for one cause, not one `missing` per sensor. The two fields are only in a source fault's
payload: a sensor fault's is as it always was. Likewise kind `station`: two or more sensors of one
station / machine (their `group`) judged faulty together, named by the group in `sensor` and `group`,
with its sensors in `sensors` and each one's kind in evidence.kinds (faults/station.py); a sensor's fault
its mates joined keeps a sensor fault's payload, its fault_end listing them in evidence.kinds / joined. A join is
told when it happens by a `fault_update` of the fault it joins (faults12); `seq` is numbered as an alert's: the
`fault` 0, each `fault_update` the next, the `fault_end` the one after (faults13: 1 for a fault nothing joined).

Published on `<prefix>/<site>/<node>/faults` (QoS 1, through the outbox like alerts), written by
the jsonl sink as they are (told from alert lines by `event`: fault / fault_update / fault_end), printed by the
terminal sink; schema: agent/schemas/fault.schema.json. De-duplicate by (fault_id, seq).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..alerts import iso

SCHEMA_VERSION = 1
KINDS = ("missing", "stuck", "dead", "out_of_range", "implausible", "drift", "spike", "source", "station", "never_varied")
GROUPED = ("source", "station")     # kinds that stand for several sensors (their payload has `sensors`)
SILENCES = frozenset({"source", "missing"})     # kinds that are no reading at all: never what an alert was about


def only_silences(kinds) -> bool:
    """Whether faults of these kinds (a fault's own; a station's, each of its sensors') are all no reading at all
    (SILENCES): such a fault is told to no alert (agent/pipeline_faults.py tell_alert), and a mate joining it
    with a kind of its own makes it more than a silence (faults/station.py take_louder)."""
    return set(kinds) <= SILENCES


def id_stamp(ts: float) -> str:
    """A fault's start as its id says it: compact ISO UTC (20260105T001230Z)."""
    return iso(ts).replace("-", "").replace(":", "").replace(".000", "")


@dataclass
class FaultEvent:
    fault_id: str
    seq: int                  # 0 for fault, 1, 2, … for each fault_update, the next for fault_end (faults13)
    event: str                # fault | fault_update (a station / lone fault's mates joined: faults12) | fault_end
    node: str
    site: str
    sensor: str               # the sensor; kind source: the source's label (= source); kind station: the group
    group: str                # the station / machine it belongs to (a source: its sensors' groups, ", ")
    kind: str                 # one of KINDS
    ts: float                 # tick time of this event
    start: float              # when the condition began (the first tick it held)
    end: float | None         # fault_end: the last tick the sensor was judged faulty
    evidence: dict            # {"summary": "...", plus the readings that decided it}
    reason: str | None = None  # fault_end: 'cleared', 'shutdown' (input over) or 'restart'
    replayed: bool = False
    source: str | None = None         # kind source: the source's label ('modbus 10.0.0.5:502')
    sensors: list[str] | None = None  # kind source: the sensors whose `missing` this fault stands for;
                                      # kind station: the sensors of the group it stands for

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.kind != "source":           # (a sensor fault's payload as before)
            del d["source"]
            if self.kind != "station":
                del d["sensors"]
        d["schema_version"] = SCHEMA_VERSION
        d["ts"], d["start"], d["end"] = iso(self.ts), iso(self.start), iso(self.end)
        return d

    def open_entry(self) -> dict:
        """What the fault journal keeps of an open fault (FaultTracker.open_faults, resume_open). A station
        fault's, or a lone fault's that mates may join, is faults/station.py's own dict (`kept`, set there: not
        a field, so not in the payload), which grows in place as mates join: one writer, so a journal written
        after a join carries the mate (faults6)."""
        kept = getattr(self, "kept", None)
        if kept is not None:
            return kept
        entry = {"fault_id": self.fault_id, "kind": self.kind, "start": self.start, "group": self.group}
        if self.kind in GROUPED:
            entry["sensors"] = list(self.sensors or [])
        if self.kind == "station":
            entry["kinds"] = dict(self.evidence.get("kinds") or {})
        return entry

    def silent(self) -> bool:
        """No reading at all (`only_silences`): a `source` fault, a `missing` sensor, a station all of whose
        sensors are missing (evidence.kinds)."""
        return only_silences((self.evidence or {}).get("kinds", {}).values() if self.kind == "station"
                             else (self.kind,))

    def line(self) -> str:
        """One readable terminal line."""
        if self.event in ("fault", "fault_update"):
            what = "FAULT " if self.event == "fault" else "FAULT_UPDATE"
            return (f"{iso(self.ts)} {what} {self.sensor} {self.kind} since {iso(self.start)}: "
                    f"{self.evidence.get('summary', '')}")
        return (f"{iso(self.ts)} FAULT_END {self.sensor} {self.kind}: {self.reason} after "
                f"{(self.end or self.ts) - self.start:.0f}s")


def held_apart(events: list[FaultEvent], held) -> tuple[list[FaultEvent], dict[str, list[FaultEvent]]]:
    """fault_end events split: those told as they are, and by fault_id those of sensors whose faults one
    grouped fault in `held` (a source's: faults/source.py) stands for — its own end is told instead."""
    out, back = [], {}
    for ev in events:
        if ev.fault_id in held:
            back.setdefault(ev.fault_id, []).append(ev)
        else:
            out.append(ev)
    return out, back
