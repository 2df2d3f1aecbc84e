"""`fault` / `fault_end` events: what an operator (or a maintenance system) is told about a sensor.

Published on `<prefix>/<site>/<node>/faults` (QoS 1, through the outbox like alerts), written by
the jsonl sink as they are (told from alert lines by `event`: fault / fault_end), printed by the
terminal sink; schema: agent/schemas/fault.schema.json. De-duplicate by (fault_id, seq).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..alerts import iso

SCHEMA_VERSION = 1
KINDS = ("missing", "stuck", "dead", "out_of_range", "implausible", "drift", "spike")


@dataclass
class FaultEvent:
    fault_id: str
    seq: int                  # 0 for fault, 1 for fault_end
    event: str                # fault | fault_end
    node: str
    site: str
    sensor: str
    group: str                # the station / machine it belongs to
    kind: str                 # one of KINDS
    ts: float                 # tick time of this event
    start: float              # when the condition began (the first tick it held)
    end: float | None         # fault_end: the last tick the sensor was judged faulty
    evidence: dict            # {"summary": "...", plus the readings that decided it}
    reason: str | None = None  # fault_end: 'cleared', 'shutdown' (input over) or 'restart'
    replayed: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["schema_version"] = SCHEMA_VERSION
        d["ts"], d["start"], d["end"] = iso(self.ts), iso(self.start), iso(self.end)
        return d

    def line(self) -> str:
        """One readable terminal line."""
        if self.event == "fault":
            return (f"{iso(self.ts)} FAULT  {self.sensor} {self.kind} since {iso(self.start)}: "
                    f"{self.evidence.get('summary', '')}")
        return (f"{iso(self.ts)} FAULT_END {self.sensor} {self.kind}: {self.reason} after "
                f"{(self.end or self.ts) - self.start:.0f}s")
