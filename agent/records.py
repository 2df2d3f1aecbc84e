"""What sources produce, and how rejected input is counted."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("stad.input")


@dataclass(slots=True)
class Record:
    """Readings taken at one moment: one sensor or many."""
    ts: float                       # seconds since the epoch, UTC
    values: dict[str, float]
    label: int | None = None        # ground truth when the source has it: 1 anomalous, 0 normal
    event: str | None = None        # id of the labelled anomaly event this moment belongs to
    origin: str = ""                # where it came from, for messages: 'pump.csv:120', 'udp 127.0.0.1:4000'
    received: float | None = None   # live sources: this host's clock when it arrived (the aligner's clock rules)


@dataclass
class Rejects:
    """Counts every rejected record or value by reason; logs the first few of each reason in full."""
    log_first: int = 5
    counts: Counter = field(default_factory=Counter)

    def add(self, reason: str, where: str, detail: str = "") -> None:
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= self.log_first or n % 1000 == 0:
            more = f" (#{n} of this kind)" if n > self.log_first else ""
            log.warning("rejected %s: %s%s%s", where, reason, f" — {detail}" if detail else "", more)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
