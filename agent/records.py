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

A reason that comes steadily from one sender (qa55: a controller that sends every datagram twice, a `repeated
reading` a second for as long as it runs) is said once as such — its rate and sender — after STEADY_LINES minute
lines at one rate from that sender, then counted without a line (health, /metrics, the stop summary keep counting
it); said again when it stops and comes back, when its rate leaves 1/STEADY_RATE–STEADY_RATE× of the rate it was
said at, or when another sender has it. A sender's further stations under that reason (one controller's socket for
all: a second station's clock skewed too) are said only as its rate changing so, and counted all the same. Only that
reason goes quiet: another reason is said as ever, a file's rejects (whose origins are lines) never become steady,
nor does a loss counted many at once (`add_many`).

An MQTT source's record comes from a topic, and every topic of a plant through one broker connection: a broker or a
bridge repeating what it delivers (a bridge loop: each message twice) rejected on every topic, each said as its own
origin, never made one sender's minute lines in a row — a line a minute for as long as it lasted (qa55's left item).
So an origin may name its sender (`Origin`: the topic, said in messages, and the source's broker connection): a reason
becomes steady from the sender — one misbehaving publisher or bridge is one condition, its topics (those rejected in
the minutes that made it steady, and in its earlier steady spells from that sender, up to TOPICS_KEPT) named once
grouped by their parent level — and a topic outside them is said as another sender (another publisher: MQTT tells a
subscriber nothing else of who published). The stop summary says each reason counted without a line while steady
(`steady_spells`: how many, from whom, at what rate, still at the stop or not): qa56.

A record's sensors are said by `sensors_said`: the names, or grouped by station (the name's part before its first
`_ . / : -`) when there are many, bounded — where one controller's socket serves several stations, the sender's
address alone could not say which station's clock was off (qa55, user35's `clock skew`).
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
STEADY_LINES = 2        # minute lines of a reason from one sender at one rate before it is said steady
STEADY_RATE = 1.5       # a steady reason's rate changed more than this many times (up or down) is said again
TOPICS_KEPT = 10_000    # a steady reason's topics (`Origin`) kept at most; past them a new topic is not told apart
NAMES_SHOWN = 4         # a record's sensors named one by one up to this many; past it, grouped by station
GROUPS_SHOWN = 4        # stations named at most, then how many more
NAME_CHARS = 40         # a sensor's name (or station) said cut to about this
DETAIL_CHARS = 320      # a reject's message is cut to this: a 10 MB sensor name must not reach the log (240 until
                        # qa55 named a record's sensors: its advice was cut)


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


def station_of(name: str) -> str:
    """The station (a prefix) a sensor name says: 'K028' of 'K028_flow', 'pump1' of 'pump1.temp'; the name itself
    when it has no separator."""
    for i, ch in enumerate(name):
        if ch in "_./:-" and i:
            return name[:i]
    return name


def topic_parent(topic: str) -> str:
    """An MQTT topic's group, its parent level: 'plant/K012' of 'plant/K012/flow'; a topic of one level by its
    station (`station_of`)."""
    parent = topic.rpartition("/")[0]
    return parent if parent else station_of(topic)


def names_said(names: list, station: Callable[[str], str] = station_of) -> str:
    """The sensors named, bounded: "'a', 'b', 'c'" up to NAMES_SHOWN; past it grouped by station (`station_of`, or
    `station` of each: `topic_parent`), GROUPS_SHOWN of them — "K028_* ×3, K030_* ×3, K032_* ×3, K034_* ×3 and 6 more"
    (sensors)."""
    if len(names) <= NAMES_SHOWN:
        return ", ".join(short_repr(name, NAME_CHARS) for name in names)
    groups: dict[str, list] = {}
    for name in names:
        key = station(name) if isinstance(name, str) else short_repr(name, NAME_CHARS)
        groups.setdefault(key, []).append(name)
    said = []
    for key, members in list(groups.items())[:GROUPS_SHOWN]:
        one = members[0]
        if not isinstance(one, str) or one == key:      # (no station: the name itself)
            said.append(short_repr(one, NAME_CHARS) + (f" ×{len(members)}" if len(members) > 1 else ""))
        else:
            said.append(f"{shorten(key, NAME_CHARS)}{one[len(key)]}* ×{len(members)}")
    rest = len(names) - sum(len(members) for members in list(groups.values())[:GROUPS_SHOWN])
    return ", ".join(said) + (f" and {rest} more" if rest > 0 else "")


def sensors_said(names, word: str = "sensor", station: Callable[[str], str] = station_of) -> str:
    """A record's sensors in words: "sensor 'a'", "sensors 'a', 'b'", or "18 sensors (S00_* ×3, … and 6 more)" (`names_said`);
    other things named so by `word` and grouped by `station` (a steady reason's topics)."""
    names = list(names)
    if len(names) == 1:
        return f"{word} {short_repr(names[0], NAME_CHARS)}"
    if len(names) <= NAMES_SHOWN:
        return f"{word}s {names_said(names)}"
    return f"{len(names)} {word}s ({names_said(names, station)})"


def more_said(names: list) -> str:
    """' and 2 more ('b', 'c')' after the first of a record's `names` was said with its value; '' for one name;
    past NAMES_SHOWN, every name grouped by station: ' and 17 more (18 in all: S00_* ×3, …)'."""
    if len(names) < 2:
        return ""
    if len(names) <= NAMES_SHOWN:
        return f" and {len(names) - 1} more ({names_said(names[1:])})"
    return f" and {len(names) - 1} more ({len(names)} in all: {names_said(names)})"


class Origin(str):
    """A record's origin as messages say it — an MQTT topic, `mqtt plant/K012/flow` — that knows its sender: the
    connection it came through (`mqtt 127.0.0.1:1883`), whom a steady reason is said of (`Rejects`). A plain str
    origin (a UDP sender's address, a file's line) is its own sender. A str, so that every message, count and test
    that reads an origin reads it as before (qa56)."""

    def __new__(cls, text: str, sender: str = ""):
        self = super().__new__(cls, text)
        self.sender = sender
        return self


def sender_of(where) -> str | None:
    """Whom a reject from `where` came from (`Origin`): its connection, or the origin itself."""
    return where.sender if type(where) is Origin else where


@dataclass(slots=True)
class Steady:
    """A reason said steady (`Rejects`): from which sender (and its topics), at what rate, since when."""
    origin: str             # its sender
    per_min: float          # its rate when said steady, rejects a minute
    said_at: float          # (the Rejects clock) when it was said steady
    said_n: int             # its count then
    last_at: float          # its newest reject's time
    covers: frozenset = frozenset()     # the origins it is quiet for: its sender, or its sender's topics (`Origin`)
    full: bool = False                  # TOPICS_KEPT of them: a further topic of its sender is not told apart

    def covered(self, where) -> bool:
        """Whether a reject from `where` is of this steady condition: its sender, and one of its topics (any of its
        sender's when full) — the same topic through another broker is another sender."""
        if type(where) is Origin:
            return where.sender == self.origin and (self.full or where in self.covers)
        return where == self.origin

    def said(self) -> str:
        """Its sender in words: `udp 10.0.0.5:4000`, or `mqtt 127.0.0.1:1883 on 6 topics (plant/K012/* ×2, …)`."""
        topics = sorted(o for o in self.covers if type(o) is Origin)
        if not topics:
            return shorten(self.origin, 120)
        kind = self.origin.split(" ", 1)[0] + " "       # 'mqtt ': said once, before the broker
        more = "" if not self.full else f"; a further topic of it not told apart, past {TOPICS_KEPT}"
        return shorten(f"{self.origin} on " + sensors_said([t.removeprefix(kind) for t in topics], "topic",
                                                           topic_parent) + more, 200)


@dataclass(slots=True)
class Spells:
    """A reason's steady spells in a run (`Rejects.steady_spells`, the stop summary): how many rejects were counted
    without a line, and its last spell."""
    quiet: int = 0          # counted without a line in the spells that ended
    spells: int = 0
    last: Steady | None = None
    ended_at: float | None = None       # (the Rejects clock) when the last spell ended; None: steady still


_NEVER = (None, 0, None)


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
    then at most one line per reason every `repeat_s` — none while it is steady (`_steady_now`)."""
    log_first: int = 5
    repeat_s: float = REPEAT_S
    counts: Counter = field(default_factory=Counter)
    first: dict = field(default_factory=dict)      # reason -> (where, detail) of its first reject
    clock: Callable[[], float] = time.monotonic
    # reason -> (clock, count) of its last line (while steady: of its last look at the rate), and its Steady or None
    _said: dict = field(default_factory=dict)
    # reason -> [(sender, per minute, since, its topics)] of its latest minute lines
    _runs: dict = field(default_factory=dict)
    _heard: dict = field(default_factory=dict)     # reason -> the topics (`Origin`) it was rejected from since its last line
    _spells: dict = field(default_factory=dict)    # reason -> its Spells

    def _say(self, reason: str, first: bool, where: str | None = None) -> str | None:
        """None when this reject goes unsaid; else what the line adds about the ones since the last. `where`: the
        reject's origin, for a reason that may become steady (None: it never does) — its own sender, or an `Origin`
        naming its sender."""
        n, now = self.counts[reason], self.clock()
        said_at, said_n, steady = self._said.get(reason, _NEVER)
        if steady is not None:
            return self._while_steady(reason, where, n, now, said_at, said_n, steady)
        if type(where) is Origin:       # a topic: its sender's topics this minute, for when it becomes steady
            heard = self._heard.get(reason)
            if heard is None:
                heard = self._heard[reason] = set()
            if len(heard) < TOPICS_KEPT:
                heard.add(where)
        if not first and said_at is not None and now - said_at < self.repeat_s:
            return None
        self._said[reason] = (now, n, None)
        if first:
            return ""
        return (f" (#{n} of this kind; {n - said_n} since its last line {now - said_at:.0f} s ago"
                + self._steady_now(reason, where, n, n - said_n, now, said_at) + ")")

    def _steady_now(self, reason: str, where: str | None, n: int, since: int, now: float, said_at: float) -> str:
        """'; steady: …' when this minute line makes STEADY_LINES in a row from `where`, each with rejects all through
        its minute (two or more, due no later than a minute late), at rates within STEADY_RATE× of each other: from
        now on the reason is counted without a line (`_while_steady`); else ''."""
        heard = self._heard.pop(reason, None) or set()
        if where is None:
            return ""
        sender = sender_of(where)
        runs = self._runs.setdefault(reason, [])
        elapsed = now - said_at
        if since < 2 or elapsed >= 2 * self.repeat_s or (runs and runs[-1][0] != sender):
            runs.clear()
        if since < 2 or elapsed >= 2 * self.repeat_s:
            return ""
        runs.append((sender, 60.0 * since / elapsed, said_at, heard))
        del runs[:-STEADY_LINES]
        rates = [r for _, r, _, _ in runs]
        if len(runs) < STEADY_LINES or max(rates) > STEADY_RATE * min(rates):
            return ""
        per_min, began = sum(rates) / len(rates), runs[0][2]
        covers = self._topics(reason, where, sender, runs)
        steady = Steady(sender, per_min, now, n, now, covers, len(covers) >= TOPICS_KEPT)
        self._said[reason] = (now, n, steady)
        spells = self._spells.setdefault(reason, Spells())
        spells.spells, spells.last, spells.ended_at = spells.spells + 1, steady, None
        runs.clear()
        another = "topic" if type(where) is Origin else "sender"
        return (f"; steady: about {per_min:.3g} a minute from {steady.said()} for the last "
                f"{span(now - began)} — said once; from now on counted "
                f"without a line (health, /metrics and the stop summary count it), said again if it stops and comes "
                f"back, if its rate changes more than {STEADY_RATE:g}× up or down, or if another {another} has it")

    def _topics(self, reason: str, where, sender: str, runs: list) -> frozenset:
        """What a steady condition from `sender` is quiet for: `where`, the sender's topics rejected in the minutes
        of `runs`, and those of its last steady spell from that sender, up to TOPICS_KEPT."""
        topics = {where}
        for _, _, _, heard in runs:
            topics.update(o for o in heard if o.sender == sender)
        last = self._spells.get(reason)
        if last is not None and last.last is not None and last.last.origin == sender:
            topics |= last.last.covers
        if len(topics) > TOPICS_KEPT:
            topics = set(sorted(topics)[:TOPICS_KEPT])
        return frozenset(topics)

    def _while_steady(self, reason: str, where: str | None, n: int, now: float, checked_at: float, checked_n: int,
                      steady: Steady) -> str | None:
        """A steady reason's reject: None (counted, not said) while it comes from its sender at its rate; else what
        its line adds — what changed — and the reason is said as usual again."""
        if not steady.covered(where):
            through = f" through {where.sender}" if type(where) is Origin and where.sender != steady.origin else ""
            change = f"now from {shorten(str(where), 120)}{through} too, not only {steady.said()}"
        elif now - steady.last_at > self.repeat_s:
            change = f"back after {span(now - steady.last_at)} without one"
        else:
            steady.last_at = now
            if now - checked_at < self.repeat_s:
                return None
            per_min = 60.0 * (n - checked_n) / (now - checked_at)
            if steady.per_min <= STEADY_RATE * per_min and per_min <= STEADY_RATE * steady.per_min:
                self._said[reason] = (now, n, steady)
                return None
            change = f"its rate now {per_min:.3g} a minute, was {steady.per_min:.3g}"
        self._said[reason] = (now, n, None)
        self._runs.pop(reason, None)
        spells = self._spells[reason]
        spells.quiet += n - 1 - steady.said_n      # (this one is said)
        spells.ended_at = now
        return (f" (#{n} of this kind; {n - steady.said_n} counted without a line since it was said steady "
                f"{span(now - steady.said_at)} ago, at about {steady.per_min:.3g} a minute from "
                f"{steady.said()}: no longer steady — {change})")

    def steady_spells(self) -> dict[str, dict]:
        """Each reason that was steady in this run (the stop summary): how many of it were counted without a line
        (`quiet`), in how many spells, its last spell's sender in words, rate and length, and whether it was still
        steady now (`ended_s_ago` None; a spell whose last reject is older than `repeat_s` ended then, unsaid: the
        line that says it is the next reject's) — a reason counted for hours without a line was, in the summary, a
        number."""
        out = {}
        now = self.clock()
        for reason, spells in sorted(self._spells.items()):
            last, ended_at = spells.last, spells.ended_at
            quiet = spells.quiet
            if ended_at is None:        # its last spell not ended by a line: counted to now, or stopped unsaid
                quiet += self.counts[reason] - last.said_n
                if now - last.last_at > self.repeat_s:
                    ended_at = last.last_at
            out[reason] = {
                "quiet": quiet, "spells": spells.spells, "sender": last.said(), "per_min": round(last.per_min, 3),
                "steady_s": round((now if ended_at is None else ended_at) - last.said_at, 1),
                "ended_s_ago": None if ended_at is None else round(now - ended_at, 1)}
        return out

    def add(self, reason: str, where: str, detail: Detail = "") -> None:
        """Count one reject; say it when its reason's rate allows. `detail` is worded only then (the reason's first
        reject is always said: `first` keeps its words)."""
        n = self.counts[reason] = self.counts[reason] + 1
        more = self._say(reason, n <= self.log_first, where)
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
