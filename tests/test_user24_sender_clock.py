"""A live sender whose own clock is off, within `window.max_clock_skew_s`, is said (user24).

A roadside controller stamping its reports 40 s fast was read without a word: its records are taken as stamped,
so every alert and fault time the centre received was 40 s ahead of its own clocks, and neither the log nor
health said so. Now one WARNING per sender names it, how far and which way; a sender stamping this host's clock
says nothing. Real agent processes on a real UDP socket."""
from __future__ import annotations

from conftest import free_port, start_logged_agent, stop_agent, wait_for
from udp_lives import Sender, write_config

SAID = "its stamps stand"


def run_with_offset(tmp_path, offset: float, ticks_after_first: int) -> str:
    port = free_port()
    cfg = write_config(tmp_path, port)
    sender = Sender(port)
    sender.clock_offset = offset
    proc = start_logged_agent(cfg, tmp_path, "agent")
    err = tmp_path / "agent.err"
    try:
        wait_for(lambda: "first tick" in err.read_text(), "the first tick", timeout=120, proc=proc)
        if offset:
            wait_for(lambda: SAID in err.read_text(), "the sender's clock said", timeout=120, proc=proc)
        sent = sender.sent      # long enough for a wrong line to come: the rule's span (5 s) and more
        wait_for(lambda: sender.sent >= sent + ticks_after_first, f"{ticks_after_first} records more",
                 timeout=120, proc=proc)
    finally:
        sender.stop()
        stop_agent(proc)
    return err.read_text()


def test_a_sender_40_s_fast_is_said_once_naming_it(tmp_path):
    log = run_with_offset(tmp_path, 40.0, ticks_after_first=40)
    lines = [ln for ln in log.splitlines() if SAID in ln]
    assert len(lines) == 1, lines
    assert "WARNING" in lines[0] and "udp 127.0.0.1:" in lines[0]
    assert "stand 40 s ahead of this host's clock" in lines[0]
    assert "within window.max_clock_skew_s (300 s), so taken as stamped" in lines[0]


def test_a_sender_on_this_hosts_clock_is_not_said(tmp_path):
    log = run_with_offset(tmp_path, 0.0, ticks_after_first=40)
    assert "first tick" in log and SAID not in log
