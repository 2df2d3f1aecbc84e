"""A clean stop loses nothing, and the restart gap's line says so (user14: after a SIGTERM the line said the second
between the stop's checkpoint and the first new data "ran after its last checkpoint and was lost with the stop").

A real `stad-agent run` with a UDP source (qa17's sender and lives): a clean stop (SIGTERM), the device sending on
while the agent is down, a second run. A kill -9's line keeps its wording (tests/test_clock23_two_kills.py)."""
from __future__ import annotations

import re

import yaml

from conftest import free_port, start_logged_agent, wait_for
from udp_lives import Sender, restart, run_once, write_config


def test_a_clean_stop_s_restart_gap_says_nothing_was_lost(tmp_path):
    err, after = restart(tmp_path, silent_after=set())
    [said] = [line for line in err.splitlines() if "restart gap: " in line and not line.startswith("summary:")]
    # on the code before: "… tick(s) the checkpoint had not taken, skipped (…); the agent was down 2 s of it (last
    # alive …, started again …), the rest ran after its last checkpoint and was lost with the stop"
    assert "lost with the stop" not in said and "the checkpoint had not taken" not in said, said
    assert re.search(r"the agent's own downtime: \d+ tick\(s\) not run, skipped \(.*\); the agent was down [^(]+ of it "
                     r"\(a clean stop at \S+, its checkpoint written then; started again \S+\), the rest is the stop's "
                     r"last tick and this start's wait for its first new data: no tick it scored was lost", said), said
    assert after == [], after


def test_a_kill_after_a_life_on_a_clean_stop_s_checkpoint_is_not_taken_for_the_clean_stop(tmp_path):
    """The clean stop's checkpoint is still the newest when the next life is killed before writing one: that life
    touched alive.json at its first turn, so the third start says what a kill's gap is, not "no tick it scored was lost"."""
    port = free_port()
    cfg = write_config(tmp_path, port)
    doc = yaml.safe_load(cfg.read_text())
    cfg.write_text(yaml.safe_dump({**doc, "checkpoint_s": 300}))     # no periodic one: the stop's stays the newest
    sender = Sender(port)
    try:
        run_once(cfg, tmp_path, "run1", sender, ticks_after_first=30)        # SIGTERM: the clean stop's checkpoint
        stamp = (tmp_path / "state" / "checkpoint.bin").stat().st_mtime_ns
        second = start_logged_agent(cfg, tmp_path, "run2")
        try:
            wait_for(lambda: "restart gap: " in (tmp_path / "run2.err").read_text(), "run2: its restart gap",
                     timeout=120, proc=second)
        finally:
            second.kill()                                                     # kill -9 before it checkpoints again
            second.wait(60)
        run2 = (tmp_path / "run2.err").read_text()
        assert (tmp_path / "state" / "checkpoint.bin").stat().st_mtime_ns == stamp, run2[-3000:]
        err = run_once(cfg, tmp_path, "run3", sender, ticks_after_first=10)
    finally:
        sender.stop()
    assert "no tick it scored was lost" in [line for line in run2.splitlines() if "restart gap: " in line][0]
    [said] = [line for line in err.splitlines() if "restart gap: " in line and not line.startswith("summary:")]
    assert "a clean stop" not in said and "no tick it scored" not in said, said
    assert "the checkpoint had not taken" in said and "lost with the stop" in said, said
