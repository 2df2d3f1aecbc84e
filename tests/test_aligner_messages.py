"""What the aligner says, in times an operator can read (qa12): a late or duplicate value names its
tick as an ISO time (it said `tick 176760598` or `tick at 1767598800.000`), and a jump of the data that
is confirmed and taken — a replay a week ahead — is said once with how far and from when to when (it
was taken without a word, and the `missing` faults that followed had no explanation)."""
from __future__ import annotations

import logging

from agent.records import Record, Rejects
from agent.window import Aligner

T0 = 1767225600.0          # 2026-01-01T00:00:00Z


def said(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_late_and_duplicate_values_name_their_tick_as_a_time(caplog):
    caplog.set_level(logging.WARNING)
    rj = Rejects()
    al = Aligner(["a"], tick_s=60.0, carry_forward_s=0.0, lateness_ticks=0, rejects=rj)
    for i in range(5):
        al.push(Record(ts=T0 + 60 * i, values={"a": 1.0}, origin=f"x.csv:{i + 2}"))
    al.push(Record(ts=T0 + 240, values={"a": 2.0}, origin="x.csv:7"))         # tick 4 again
    al.push(Record(ts=T0 + 60, values={"a": 3.0}, origin="x.csv:8"))          # tick 1: closed
    al.flush_all()          # (3 ticks back: held as a step back until the input ends, then late)
    assert rj.as_dict() == {"duplicate": 1, "late": 1}
    assert "at tick 2026-01-01T00:04:00.000Z" in said(caplog, "duplicate")[0]
    late = said(caplog, "late")[0]
    assert "its tick 2026-01-01T00:01:00.000Z already closed (the data is at 2026-01-01T00:03:00.000Z)" in late


def test_a_confirmed_jump_of_the_data_is_said_once_with_its_size(caplog):
    caplog.set_level(logging.WARNING)
    rj = Rejects()
    al = Aligner(["a"], tick_s=60.0, carry_forward_s=0.0, lateness_ticks=0, rejects=rj)
    rows = []
    for i in range(10):
        rows += al.push(Record(ts=T0 + 60 * i, values={"a": 1.0}))
    week = 7 * 86400
    for i in range(10):
        rows += al.push(Record(ts=T0 + week + 60 * i, values={"a": 1.0}))
    lines = said(caplog, "time base moved")
    assert len(lines) == 1 and rj.total == 0, (lines, rj.as_dict())
    assert "jumped +7.0 d, from 2026-01-01T00:09:00.000Z to 2026-01-08T00:00:00.000Z" in lines[0]
    assert rows[-1].ts == T0 + week + 60 * 8
