"""A clean stop in the seconds after this host's clock stepped forward writes its final checkpoint (qa35).

clock23 stopped checkpoints while a restart is pending (`Aligner.restart_pending`: restored, no new data
yet — the checkpoint on disk holds what was learned, and records held then are the restart's first data).
A step of this host's clock forward sets the same flag (`host_clock_stepped`: the wall-clock flush waits for
the first record stamped after the step, up to the carry-forward). A SIGTERM in that wait skipped the clean
stop's final checkpoint without a word: everything learned since the last one was lost — with a long
`checkpoint_s` (300 s by default, an hour here) and no checkpoint yet, the next start found none and
warmed up from nothing (review28 suspected it; reproduced here).

The lab (tests/host_clock_lab.py): a real agent loop on a real UDP socket, its host clock stepped by the
test as NTP would; the second start is a real Agent on the same state directory.
"""
from __future__ import annotations

from agent.service import Agent
from conftest import wait_for
from host_clock_lab import ClockLab, log_all, said

HOUR_S = 3600.0


def test_a_clean_stop_just_after_a_clock_step_forward_keeps_what_was_learned(tmp_path, caplog):
    log_all(caplog)
    lab = ClockLab(tmp_path, stamps="host")
    agent = lab.agent
    lab.runner.start()
    lab.sender.start()
    try:
        wait_for(lambda: agent.pipeline.warm, "warm-up done", timeout=120, proc=None)
        learned = agent.pipeline.ticks
        wait_for(lambda: agent.pipeline.ticks >= learned + 20, "20 ticks scored after the warm-up", timeout=120,
                 proc=None)
        lab.done.set()                  # the sender stops: no record can end the step's wait
        lab.sender.join(10)
        lab.host.offset += HOUR_S       # NTP steps this host's clock forward
        wait_for(lambda: said(caplog, "this host's clock stepped +60 min"), "the step seen", timeout=60, proc=None)
        assert agent.aligner.restart_pending    # the flush waits for the first record after the step (30 s)
    finally:
        lab.done.set()
        agent.stop("test")              # what SIGTERM's handler does
        lab.runner.join(120)
    assert not lab.runner.is_alive()
    final = agent.pipeline.ticks
    assert final >= learned + 20

    # On main: no checkpoint was ever written (checkpoint_s an hour, the stop's skipped while the step's wait
    # ran): the next start found none and warmed up again.
    second = Agent(lab.cfg, clock=lab.host)
    try:
        assert second.checkpoint_start["state"] == "resumed", second.checkpoint_start
        assert second.pipeline.warm
        assert second.pipeline.ticks == final, (second.pipeline.ticks, final)
    finally:
        for src in second.sources:
            src.close()
        second.state_lock.release()
