"""What sources produce, and how rejected input is counted.

Every reject is counted; the log gets the first few of each reason, then at most one line per
reason a minute saying how many came since its last line. (Every 1000th, as before, made a UDP
flood of junk — or datagrams the kernel dropped — write 30–50 lines a second for as long as it
lasted: a journal filled with one fault while the counts on health and /metrics said it all.)

A reject's detail may be given as a function that words it (`Detail`), called only when the line is written or the
reason's first reject is kept: in a flood (a sender with a bad field ten times a second, a broker replaying a queue
of bad records) most rejects are never said, and wording each one — its repr()s, its dates — was most of what a
rejected record cost (qa54; bench/reject_cost.py).

What is counted is records — a line, a datagram, a message, a row, a poll — each once under each reason any of its
readings met (qa54: a repeated record of 18 sensors counted 18 `repeated reading`s beside `records in`; its other
readings are used). A reason found of many records at once (`add_many`: kernel drops, lines unread at a stop)
counts each.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Union

log = logging.getLogger("stad.input")

# Every reason input is rejected for, as the sources and the aligner count it (tests/test_metric_labels.py
# keeps this in step with the code): the metrics endpoint serves each from 0, so the first reject of an
# agent life is in Prometheus's increase() and rate(), which count from a series' first sample.
REJECT_REASONS = (
    "bad csv", "bad json", "bad label", "bad number", "bad payload", "bad sensor", "bad time", "bad timestamp",
    "clock skew", "datagram too long", "duplicate", "duplicate column", "duplicate key", "kernel drop", "late", "line too long", "missing column",
    "missing time", "missing time column", "modbus error", "modbus unreachable", "mqtt refused", "mqtt session lost",
    "mqtt subscribe refused", "mqtt unreachable",
    "no sensor columns", "no values", "non-finite value", "opcua bad node", "opcua bad status", "opcua non-numeric",
    "opcua queue full", "opcua subscription ended", "opcua unreachable", "outage backlog", "payload too long",
    "queue full", "repeated reading", "timestamp jump",
    "udp receive error", "unknown sensor", "unread at stop", "unreadable file", "value out of range",
    "wrong column count")

# Reasons counted where the input is still read, not dropped: a CSV file without one of the mapped columns has its
# rows read, that column's sensor missing in them (a sensor added since, or a column renamed). The name stays a reject
# reason — health, /metrics and the manifest count it by that name — but what is said of it says what happens
# (user31: `rejected 2026-11-03.csv:1: missing column` read as if the file were dropped, `rejected while reading: 2
# missing column` as if its rows were; user32).
READ_WITHOUT = frozenset({"missing column"})

#: What a reject says besides its reason and where: the words, or a function that words them when they are said.
Detail = Union[str, Callable[[], str]]

REPEAT_S = 60.0         # after the first few of a reason, at most one line of it this often
DETAIL_CHARS = 240      # a reject's message is cut to this: a 10 MB sensor name must not reach the log


def worded(detail: Detail) -> str:
    """A `Detail`'s words."""
    return detail if isinstance(detail, str) else detail()


def shorten(text: str, limit: int = DETAIL_CHARS) -> str:
    """`text`, cut to about `limit` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def short_repr(value: object, limit: int = 80) -> str:
    """repr() of a value from input, bounded: a long string is cut before it is quoted."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value) - limit} more characters)"
    return shorten(repr(value), limit)


def span(seconds: float, signed: bool = False) -> str:
    """A length of time for a person, in every message that says one: 45 s, 12 min, 2.0 h, 7.0 d —
    each unit from one and a half of it up (90 s, not 1.5 min; 30.0 h, not 1.3 d). `signed`: a step
    of time, +7 s or -2.0 h."""
    size = abs(seconds)
    text = (f"{size:.0f} s" if size < 90 else f"{size / 60:.0f} min" if size < 5400
            else f"{size / 3600:.1f} h" if size < 129600 else f"{size / 86400:.1f} d")
    return ("-" if seconds < 0 else "+" if signed else "") + text


@dataclass(slots=True)
class Record:
    """Readings taken at one moment: one sensor or many."""
    ts: float                       # seconds since the epoch, UTC
    values: dict[str, float]
    label: int | None = None        # ground truth when the source has it: 1 anomalous, 0 normal
    event: str | None = None        # id of the labelled anomaly event this moment belongs to
    origin: str = ""                # where it came from, for messages: 'pump.csv:120', 'udp 127.0.0.1:4000'
    received: float | None = None   # live sources: this host's clock when it arrived (the aligner's clock rules); set by
                                    # the agent's pump unless the source stamped it on arrival (mqtt, ahead of its queue)
    held: bool = False              # re-sent because the value holds (OPC UA): a reading of its tick replaces it
    resent: bool = False            # delivered late by a broker that held it (MQTT, a resumed session): before the
                                    # closed ticks it is late, never a step back of the data (window.Aligner._place)
    backlog: bool = False           # stamped inside its source's last outage of its peer and delivered after it (a
                                    # publisher's store-and-forward queue): its tick closed, it is 'outage backlog'
    arrival_stamped: bool = False   # live, without a ts of its own: stamped with this host's clock as it came; where
                                    # senders stamp the data themselves, no evidence of its clock (LivePace)
    ts_text: bool = False           # its ts written as a date (ISO-8601, a time_format), not a number: out of the
                                    # aligner's years it is no clock in milliseconds (sources/lines.py parse_stamp)


@dataclass
class Rejects:
    """Counts every rejected record or value by reason; logs the first few of each reason, cut short,
    then at most one line per reason every `repeat_s`."""
    log_first: int = 5
    repeat_s: float = REPEAT_S
    counts: Counter = field(default_factory=Counter)
    first: dict = field(default_factory=dict)      # reason -> (where, detail) of its first reject
    _said: dict = field(default_factory=dict)      # reason -> (monotonic time, count) of its last line

    def _say(self, reason: str, first: bool) -> str | None:
        """None when this reject goes unsaid; else what the line adds about the ones since the last."""
        n, now = self.counts[reason], time.monotonic()
        said_at, said_n = self._said.get(reason, (None, 0))
        if not first and said_at is not None and now - said_at < self.repeat_s:
            return None
        self._said[reason] = (now, n)
        if first:
            return ""
        return f" (#{n} of this kind; {n - said_n} since its last line {now - said_at:.0f} s ago)"

    def add(self, reason: str, where: str, detail: Detail = "") -> None:
        """Count one reject; say it when its reason's rate allows. `detail` is worded only then (the reason's first
        reject is always said: `first` keeps its words)."""
        n = self.counts[reason] = self.counts[reason] + 1
        more = self._say(reason, n <= self.log_first)
        if more is None:
            return          # counted, not said: a flood's common case, nothing worded
        detail = worded(detail)
        self.first.setdefault(reason, (where, detail))      # (a reason's first reject is always said)
        if reason in READ_WITHOUT:
            log.warning("read %s without %s (counted as %r)%s", shorten(where, 120),
                        shorten(detail) if detail else "a mapped column", reason, more)
        else:
            log.warning("rejected %s: %s%s%s", shorten(where, 120), reason,
                        f" — {shorten(detail)}" if detail else "", more)

    def add_many(self, reason: str, where: str, n: int, detail: Detail = "") -> None:
        """Count `n` losses found at once (e.g. datagrams the kernel dropped); logged as one line."""
        if n <= 0:
            return
        first = self.counts[reason] == 0
        self.counts[reason] += n
        more = self._say(reason, first)
        if more is None:
            return
        detail = worded(detail)
        self.first.setdefault(reason, (where, detail))      # (a reason's first loss is always said)
        if reason in READ_WITHOUT:
            log.warning("read %s without %s (counted as %r ×%d, %d in all)%s", shorten(where, 120),
                        shorten(detail) if detail else "a mapped column", reason, n, self.counts[reason], more)
        else:
            log.warning("rejected %s: %s ×%d (%d in all)%s%s", shorten(where, 120), reason, n, self.counts[reason],
                        f" — {shorten(detail)}" if detail else "", more)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def split_read_without(counts: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(the counts of input dropped, the counts of READ_WITHOUT reasons: input read all the same), each by reason."""
    return ({k: n for k, n in counts.items() if k not in READ_WITHOUT},
            {k: n for k, n in counts.items() if k in READ_WITHOUT})


def read_without_text(counts: dict[str, int]) -> str:
    """'2 file header(s) read without a mapped column (missing column: 2; their rows read, that sensor missing in
    them)' for the READ_WITHOUT reasons among `counts`, or ''."""
    kept = split_read_without(counts)[1]
    if not kept:
        return ""
    return (f"{sum(kept.values())} file header(s) read without a mapped column ("
            + ", ".join(f"{k}: {n}" for k, n in kept.items()) + "; their rows read, that sensor missing in them)")


class QuietRejects(Rejects):
    """Counts only: a reading whose rejects are said otherwise (the converter's label scan, a second reading of a
    file; check-config's reading of a warm-up recording, whose notes say what its rejects mean)."""

    def add(self, reason: str, where: str, detail: Detail = "") -> None:
        self.counts[reason] += 1
        if reason not in self.first:
            self.first[reason] = (where, worded(detail))

    def add_many(self, reason: str, where: str, n: int, detail: Detail = "") -> None:
        if n > 0:
            self.counts[reason] += n
            if reason not in self.first:
                self.first[reason] = (where, worded(detail))
