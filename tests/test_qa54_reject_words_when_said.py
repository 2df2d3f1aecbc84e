"""qa54 (qa53's left item): a reject's words are built only when they are said. The log gets the first few rejects
of a reason, then one line a minute (agent/records.py), yet every reject's detail was built — its repr()s, its
dates, json's error in words — and in a flood (a sender with a bad field ten times a second, a broker replaying a
queue of bad records) that was work for nothing on each record (bench/reject_cost.py measures it). Every reject is
still counted, and a line that is said still names where (the file:line, the sender), the sensor and the value.

What is counted here is how often the flood's sensor names (and the JSON reader's `what`) are put into words: a str
that counts its own repr() and format() — the input, not the agent's code, is what is instrumented."""
from __future__ import annotations

import logging
import math

from agent.records import Record, Rejects
from agent.sources.lines import parse_json_line
from agent.window import Aligner

T0 = 1_767_225_600.0
FLOOD = 500


class Worded(str):
    """A name that counts each time it is put into words."""
    times = 0

    def __repr__(self) -> str:
        Worded.times += 1
        return super().__repr__()

    def __format__(self, spec: str) -> str:
        Worded.times += 1
        return super().__format__(spec)


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stad.input"]


def test_a_flood_of_rejects_is_counted_and_worded_only_for_the_lines_said(caplog):
    caplog.set_level(logging.WARNING)
    rejects = Rejects()
    a, unknown = Worded("a"), Worded("S99_vibration")
    al = Aligner(["a", "b"], 1.0, 0.0, 0, rejects)
    for k in range(20):
        al.push(Record(ts=T0 + k, values={"a": float(k), "b": 1.0}, origin=f"pump.jsonl:{k + 1}"))
    Worded.times = 0
    for i in range(FLOOD):
        al.push(Record(ts=T0 + 19, values={unknown: 2.0}, origin="udp 10.0.0.7:4000"))             # unknown sensor
        al.push(Record(ts=T0 + 19, values={a: math.nan}, origin="udp 10.0.0.7:4000"))              # non-finite value
        al.push(Record(ts=T0 + 19.5, values={a: 7.0}, origin="udp 10.0.0.7:4000"))                # duplicate
        al.push(Record(ts=T0 + 19, values={a: 19.0}, origin="udp 10.0.0.7:4000"))                  # repeated reading
        al.push(Record(ts=T0 + 18, values={a: 3.0, "b": 1.0}, origin="udp 10.0.0.7:4000"))         # late
        al.push(Record(ts=T0 + 18, values={a: 18.0, "b": 1.0}, origin="udp 10.0.0.7:4000"))        # repeat, closed
        parse_json_line('{"ts": 1767225600, "a": 1.', "udp 10.0.0.8:4000", rejects, live=True,
                        what=Worded("line"))                                                       # bad json
    assert rejects.as_dict() == {"bad json": FLOOD, "duplicate": FLOOD, "late": FLOOD, "non-finite value": FLOOD,
                                 "repeated reading": 2 * FLOOD, "unknown sensor": FLOOD}
    lines = said(caplog)
    assert len(lines) <= 5 * 6, lines       # the first few of each reason (none a minute later: none came)
    # on 7b3e1fff every reject worded its sensor (or the JSON reader's `what`): 2500 times for 30 lines; the late
    # ones said no sensor, and a repeat after its tick closed was late
    assert Worded.times <= 2 * len(lines), (Worded.times, len(lines))
    for reason, words in (("unknown sensor", "sensor 'S99_vibration' value 2.0"),
                          ("non-finite value", "sensor 'a' value nan"),
                          ("duplicate", "sensor 'a' already has a value at tick 2026-01-01T00:00:19.000Z"),
                          ("late", "sensor 'a' value 3.0 and 1 more ('b'): its tick 2026-01-01T00:00:18.000Z already "
                                   "closed"),
                          ("repeated reading", "sensor 'a' value 18.0 and 1 more ('b') at 2026-01-01T00:00:18.000Z"),
                          ("bad json", "Expecting ',' delimiter at character 26 of the line")):
        sender = "udp 10.0.0.8:4000" if reason == "bad json" else "udp 10.0.0.7:4000"
        assert any(f"rejected {sender}: {reason} — " in line and words in line for line in lines), (reason, lines)
