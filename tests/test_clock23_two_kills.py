"""Two kill -9s within one checkpoint interval must not blind the gateway (user13's defect 1, clock23).

A restart resumes the last checkpoint; until the first new data (or the wall-clock flush's wait) the
ticks after its last one are the agent's downtime, not a silence it lived through. On the code before,
the restarted agent's next checkpoint (or sign of life, `alive.json`) said it was alive with every
record taken while its state still ended at the old checkpoint's last tick: the next start after a
second kill -9 closed the first downtime as missing ticks — every sensor `missing`, a `source` fault
("fell silent together"), the restart gap starting after it. user13 saw it on a gateway with a
bundle (its first turn writes a checkpoint at once); here the restarted agent's first seconds without
a record write it (`_alive_due`), the same claim.

A real agent on stdin (tests/silence_feed.py: 0.25-s ticks stamped with this host's clock), three
lives: the first with a 1-s checkpoint interval (a checkpoint after the warm-up, then killed while
data flows), the next two with 120 s (both kills inside one interval, as user13's 300 s)."""
from __future__ import annotations

import re
import time

from agent.resume import ALIVE_FILE, ALIVE_S
from agent.service import Agent
from agent_turns import HOST, agent_config, close, host_clock, life_fed, record, turn
from conftest import wait_for
from restart_helpers import AgentProcess, resumed_run
from silence_feed import TICK, events, killed_while_flowing, seconds, send, write_config


def test_two_kills_within_a_checkpoint_interval_raise_no_false_silence(tmp_path):
    cfg = write_config(tmp_path, "gw-b", 1)
    down1 = killed_while_flowing(tmp_path, cfg)

    second = AgentProcess(tmp_path, cfg, "run1b")
    try:
        up2 = time.time()
        assert "resumed from checkpoint" in second.ready()
        # Its first ALIVE_S without a record: on the old code a checkpoint of the restored state saying it
        # was alive with every record taken (its last tick still the first life's), then alive.json saying
        # it again; now neither (the restart is pending), only alive.json's time of change moved.
        alive = tmp_path / "state" / ALIVE_FILE
        wait_for(lambda: alive.exists() and alive.stat().st_mtime > up2 + ALIVE_S, "the second life's quiet "
                 "ALIVE_S", 60, second.proc)
        send(second, 12)                # the data goes on; the second life skips its restart gap
        down2 = time.time()
        second.kill()
    finally:
        if second.proc.poll() is None:
            second.kill()
    before = len(events(tmp_path))
    first_new, err, said = resumed_run(tmp_path, cfg, lambda third: send(third, 16)[0])
    gap_from, gap_to = (seconds(s) for s in said)
    after = events(tmp_path)[before:]
    # No silence closed at the restore, no sensor missing, no `source` fault (old code: the first
    # downtime closed as missing ticks, a source fault for both sensors).
    assert "sources silent for the last" not in err, err[-3000:]
    assert [e for e in after if e["kind"] != "alert"] == [], after
    # The restart gap spans both downtimes: from the first life's checkpoint to the third's first data.
    assert gap_from <= down1 + TICK, (down1 - gap_from, err[-3000:])
    assert abs(gap_to - first_new) <= 2 * TICK, (gap_to, first_new)
    # The line says the seconds the agent was down too: from the second life's last sign of life
    # (alive.json's time, moved every ALIVE_S while data flows) to the third's start — not the
    # gap's ticks, which hold the second life's whole run (old code: the ticks alone, user13's
    # "+7 min … the agent's own downtime" for a 2-s kill -9).
    said_down = re.search(r"the agent was down [^(]*\(last alive (\S+), started again (\S+)\)", err)
    assert said_down, err[-3000:]
    last_alive, started = (seconds(s) for s in said_down.groups())
    assert down2 - ALIVE_S - 2.0 <= last_alive <= down2 + TICK, (down2 - last_alive, err[-3000:])
    assert down2 < started <= first_new, (started - down2, first_new - started)
    assert started - last_alive < gap_to - gap_from - 3.0, (started - last_alive, gap_to - gap_from)


def test_a_checkpoint_holding_the_restarts_first_record_is_not_written(tmp_path):
    """user13's gw3 (a bundle: the restarted agent writes a checkpoint on its first loop turn): the restart's
    first record, held for confirmation, went into that checkpoint; after a second kill -9 the next start
    took it for the last run's data back after a silence and closed the first downtime as missing ticks — a
    `source` fault. A real agent on a real state_dir driven turn by turn (tests/agent_turns.py); the
    checkpoint asked for as the first turn asks for it with a bundle."""
    first = Agent(agent_config(tmp_path), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, HOST))
        assert first.save_checkpoint() is not None
        for i in range(80, 90):             # scored, not checkpointed: lost with the kill -9
            turn(first, record(i, HOST))
    finally:
        close(first)
    second = Agent(agent_config(tmp_path), clock=host_clock(HOST + 92))
    try:
        turn(second, record(92, HOST))      # the restart's first data, held
        assert second.aligner.restart_pending
        second.save_checkpoint()            # as the first turn with a bundle (old code: written, holding it)
        for i in range(93, 100):
            turn(second, record(i, HOST))
        assert not second.aligner.restart_pending
    finally:
        close(second)
    third, after = life_fed(tmp_path, range(104, 130))
    assert not [e for e in after if e["kind"] in ("source", "missing")], after
    # One restart gap, from the first life's checkpoint (its last tick, 79) to the third's first data (104).
    assert third.aligner.restart_gaps == 1 and third.aligner.last_restart_gap["skipped_s"] == 24.0, \
        third.aligner.last_restart_gap
