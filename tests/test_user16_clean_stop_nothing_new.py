"""A clean stop with nothing new to checkpoint is a clean stop (user15 left it). The case met live: a restart during a
sender's silence — the second life restores the checkpoint and waits for its first new data (a restart pending: no
checkpoint may be written then, clock23), and is stopped cleanly (SIGTERM) before any comes. It wrote nothing, so
nothing said it stopped cleanly, and the third start's restart gap said what a kill -9's says ("the rest ran after its
last checkpoint and was lost with the stop") though neither life lost a tick. Now such a stop marks itself clean in
alive.json (agent/alive.py `_mark_clean_stop`), when the life it resumed had stopped cleanly too. A real `stad-agent
run` on a real UDP socket (qa17's sender and config)."""
from __future__ import annotations

from conftest import free_port, start_logged_agent, wait_for
from udp_lives import Sender, run_once, write_config


def _gap_line(err: str) -> str:
    [said] = [line for line in err.splitlines() if "restart gap: " in line and not line.startswith("summary:")]
    return said


def _three_lives(tmp_path, first_killed: bool) -> str:
    """A first life on live data (SIGTERM, or kill -9), the sender silent from then on; a second restored and
    stopped cleanly before any new data; a third on new data. The third's restart gap line."""
    port = free_port()
    cfg = write_config(tmp_path, port)
    sender = Sender(port)
    try:
        if first_killed:
            first = start_logged_agent(cfg, tmp_path, "run1")
            err1 = tmp_path / "run1.err"
            try:
                wait_for(lambda: "first tick" in err1.read_text(), "run1: first tick", timeout=120, proc=first)
                wait_for(lambda: (tmp_path / "state" / "checkpoint.bin").exists(), "run1: a checkpoint", timeout=120,
                         proc=first)
                sent = sender.sent
                wait_for(lambda: sender.sent >= sent + 30, "run1: 30 records", timeout=120, proc=first)
            finally:
                first.kill()                                                 # kill -9 while the data flows
                first.wait(60)
        else:
            run_once(cfg, tmp_path, "run1", sender, ticks_after_first=30)    # SIGTERM: a clean stop, data flowing
    finally:
        sender.stop()                                                        # the device falls silent
    second = start_logged_agent(cfg, tmp_path, "run2")
    err2 = tmp_path / "run2.err"
    try:
        wait_for(lambda: "checkpoint " in err2.read_text() and " loaded (" in err2.read_text(), "run2: its restore",
                 timeout=120, proc=second)
        # its first turn: alive.json touched after the checkpoint (it lived on it, `_touch_alive`)
        state = tmp_path / "state"
        wait_for(lambda: (state / "alive.json").exists() and
                 (state / "alive.json").stat().st_mtime_ns > (state / "checkpoint.bin").stat().st_mtime_ns,
                 "run2: its sign of life", timeout=120, proc=second)
    finally:
        second.terminate()                                                   # SIGTERM before any new data
        assert second.wait(60) == 0, err2.read_text()[-3000:]
    assert "restart gap: " not in err2.read_text()
    sender = Sender(port)
    try:
        err = run_once(cfg, tmp_path, "run3", sender, ticks_after_first=10)
    finally:
        sender.stop()
    return _gap_line(err)


def test_a_clean_stop_before_its_first_new_data_is_said_as_a_clean_stop(tmp_path):
    said = _three_lives(tmp_path, first_killed=False)
    # main: "… tick(s) the checkpoint had not taken, skipped (…); the agent was down … (last alive …), the rest ran
    # after its last checkpoint and was lost with the stop"
    assert "lost with the stop" not in said and "the checkpoint had not taken" not in said, said
    assert "(a clean stop at " in said and "no tick it scored was lost" in said, said
    # the second life's stop wrote no checkpoint: the line says what it did (user17; user16's said "its checkpoint
    # written then", true only of a stop that wrote one — tests/test_user15_clean_stop_gap.py keeps that case's words)
    assert "its checkpoint written then" not in said, said
    assert "nothing new to checkpoint since the one restored, said in alive.json; started again " in said, said


def test_after_a_kill_the_clean_stop_of_the_life_that_resumed_it_keeps_the_kill_s_wording(tmp_path):
    """The first life's kill -9 lost the ticks it ran after its checkpoint: the second's clean stop does not make
    them saved (a guard: passes on main)."""
    said = _three_lives(tmp_path, first_killed=True)
    assert "a clean stop" not in said and "no tick it scored" not in said, said
    assert "the checkpoint had not taken" in said and "lost with the stop" in said, said
