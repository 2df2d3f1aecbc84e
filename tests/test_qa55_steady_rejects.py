"""qa55 (user35's left item): a controller that always sends every datagram twice got a `repeated reading` WARNING a
minute for as long as it ran. An operator expects a steady condition said once as such — its sender and rate — then
counted without a line (health, /metrics and the stop summary count it), and said again when it stops and comes back,
when its rate changes a lot, or when another sender has it; a new reason is never hidden behind it
(agent/records.py `Rejects`)."""
from __future__ import annotations

import logging
import socket

import pytest

from agent.records import REPEAT_S, Rejects

from conftest import free_port, start_logged_agent, stop_agent, wait_for
from udp_lives import Sender, write_config

A, B = "udp 10.0.0.5:4000", "udp 10.0.0.6:4000"


class Clock:
    """The Rejects' monotonic clock, moved by the test: minutes of a flood in a moment."""
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stad.input"]


def flood(rejects: Rejects, clock: Clock, seconds: float, per_s: float, where: str = A,
          reason: str = "repeated reading") -> None:
    for _ in range(int(seconds * per_s)):
        clock.t += 1 / per_s
        rejects.add(reason, where, "sensors 'K028_flow', 'K028_occ' at …: the same reading again")


def steady_after_3_min(caplog):
    """Rejects with a clock, after 3 min of a sender repeating 2 records a second: (rejects, clock)."""
    caplog.set_level(logging.WARNING, logger="stad.input")
    clock = Clock()
    rejects = Rejects(clock=clock)
    flood(rejects, clock, 3 * REPEAT_S, 2.0)
    return rejects, clock


def test_a_sender_that_always_repeats_is_said_steady_once_then_counted_without_a_line(caplog):
    rejects, clock = steady_after_3_min(caplog)
    flood(rejects, clock, 30 * REPEAT_S, 2.0)       # half an hour more
    lines = said(caplog)
    # the first five, a minute line, then the steady one: none in the half hour (one a minute before)
    assert len(lines) == 7, lines
    assert "(#245 of this kind; 120 since its last line 60 s ago; steady: about 120 a minute from udp 10.0.0.5:4000 " \
           "for the last 2 min — said once; from now on counted without a line" in lines[6], lines[6]
    assert rejects.counts["repeated reading"] == 33 * 60 * 2


def test_a_new_reason_or_another_sender_is_said_while_one_is_steady(caplog):
    rejects, clock = steady_after_3_min(caplog)
    caplog.clear()
    rejects.add("late", A, "sensor 'K028_flow' value 1.0: its tick … already closed")
    flood(rejects, clock, 5, 2.0)
    flood(rejects, clock, 1, 1.0, where=B)
    lines = said(caplog)
    assert lines[0] == "rejected udp 10.0.0.5:4000: late — sensor 'K028_flow' value 1.0: its tick … already closed"
    assert len(lines) == 2 and "rejected udp 10.0.0.6:4000: repeated reading — " in lines[1], lines
    assert "counted without a line since it was said steady" in lines[1] and \
           "no longer steady — now from udp 10.0.0.6:4000 too, not only udp 10.0.0.5:4000)" in lines[1], lines[1]


def test_a_steady_reason_that_stops_and_comes_back_or_changes_its_rate_is_said_again(caplog):
    rejects, clock = steady_after_3_min(caplog)
    caplog.clear()
    clock.t += 5 * REPEAT_S             # it stopped five minutes
    flood(rejects, clock, 1, 2.0)
    assert len(said(caplog)) == 1 and "no longer steady — back after 5 min without one)" in said(caplog)[0]
    flood(rejects, clock, 3 * REPEAT_S, 2.0)        # steady again, said again
    assert sum("; steady: about 120 a minute" in line for line in said(caplog)) == 1, said(caplog)
    caplog.clear()
    flood(rejects, clock, 3 * REPEAT_S, 1.5)        # within 1.5× of its rate: quiet
    assert said(caplog) == []
    flood(rejects, clock, REPEAT_S + 5, 10.0)       # five times the rate: said at the minute's look
    lines = said(caplog)
    assert len(lines) == 1 and "no longer steady — its rate now 600 a minute, was 120)" in lines[0], lines


def test_a_files_rejects_and_a_loss_counted_many_at_once_never_go_quiet(caplog):
    caplog.set_level(logging.WARNING, logger="stad.input")
    clock = Clock()
    rejects = Rejects(clock=clock)
    for i in range(10 * 60 * 2):        # a file's repeats, each its own line: one line a minute, as before
        clock.t += 0.5
        rejects.add("repeated reading", f"pump.jsonl:{i + 1}", "sensor 'a' at …")
        rejects.add_many("kernel drop", "udp :5555", 3, "the receive buffer was full (the agent fell behind)")
    lines = said(caplog)
    assert sum("repeated reading" in line for line in lines) == 5 + 9 and not any("steady" in line for line in lines)
    assert sum("kernel drop" in line for line in lines) == 1 + 9, lines


@pytest.mark.slow
def test_a_controller_sending_every_datagram_twice_is_said_steady_once_on_a_real_agent(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    controller = Sender(port)
    controller.copies = 2
    proc = start_logged_agent(cfg, tmp_path, "agent")
    err = tmp_path / "agent.err"
    try:
        # on 3ed21786 never: one `repeated reading` line a minute for as long as it runs
        wait_for(lambda: "; steady: about " in err.read_text(), "the repeats said steady", timeout=420, proc=proc)
        sent = controller.sent      # then more than a minute of its datagrams (the controller's cadence, 4 a second)
        wait_for(lambda: controller.sent >= sent + 4 * (REPEAT_S + 15), "a minute more", timeout=240, proc=proc)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:      # a new kind: said at once
            other.sendto(b'{"ts": 1, "values": {"a_x": 1.', ("127.0.0.1", port))
        wait_for(lambda: "bad json" in err.read_text(), "the bad line said", timeout=60, proc=proc)
    finally:
        controller.stop()
        stop_agent(proc)
    lines = err.read_text().splitlines()
    repeats = [i for i, line in enumerate(lines) if "repeated reading — " in line]
    steady = [i for i in repeats if "; steady: about " in lines[i]]
    assert len(steady) == 1 and steady[0] == repeats[-1], [lines[i] for i in repeats]
    assert f"from udp 127.0.0.1:" in lines[steady[0]] and "a minute" in lines[steady[0]]
    summary = next(line for line in lines if "summary:" in line)
    assert "repeated reading: " in summary and "bad json: 1" in summary, summary
