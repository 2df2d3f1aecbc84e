"""An alert open across a restart whose gap refilled the window, checkpointed during that refill by a release before
clock27, then a short restart on this release: judged by the live end rule from the refill (clock28).

Since clock27 an alert open across a restart whose skipped gap is longer than the window is judged, from the first
score after the window refills, by the rules that end a live alert: `clear_ticks` calm scores in a row, counted from
the refill (AlertTracker.resumed resets the calm counts there: those from before the downtime are not adjacent to
the ticks after it). The releases before reset them at the first score instead, so a checkpoint they wrote during
the refill holds the open alert's calm count from before the downtime. After the upgrade, a short restart (no new
refill: the count is carried on) counted those old calm ticks towards the judgment: `clear_ticks` − that count calm
scores ended the alert `restart`, and an incident still on paged again under a new id — the split clock27 removed.
A checkpoint written while the window refills holds no calm tick scored after the refill (none was scored): its
counts are taken as none (resume.py `_no_calm_counted_in_a_refill`).

A real `agent run` on stdin (tests/stepped_device.py): the first life opens an alert and is killed with it open
(kill -9); the second starts after a downtime longer than the window, its refill begins, a checkpoint is written
during it and the process is killed; that checkpoint is written again as the earlier release held it — the same
state with the alert's calm count from before the downtime, `clear_ticks` − 1 (its last ticks calm, one short of
the end) — and the third life starts at once on the device's buffered data (a short restart): the window's last
ticks calm, then CLEAR // 2 calm scores, then the step again."""
from __future__ import annotations

import threading
import time

from agent.checkpoint import CHECKPOINT_FILE, atomic_write, encode
from conftest import wait_for
from restart_helpers import AgentProcess
from silence_feed import TICK
from stepped_device import STEPS, Sender, alert_open_then_killed, alerts, checkpointed, one_alert, write_config

CLEAR = 8                   # clear_ticks


def _refilling_then_killed(tmp, cfg, alert_id: str, killed: float) -> Sender:
    """The second life: up again after a downtime longer than the window, 12 calm ticks (the refill begins: the
    window is 16), a checkpoint holding them all during the refill, kill -9. The device, at its last tick sent."""
    second = AgentProcess(tmp, cfg, "run2")
    device = Sender()
    try:
        assert "resumed from checkpoint" in second.ready()
        threading.Event().wait(max(0.0, killed + 2 * STEPS * TICK - time.time()))    # the downtime: the input
        device.send(second, 12)

        def refilling():
            found = checkpointed(tmp)
            if found is None:
                return False
            state = found[1]
            opened = state["pipeline"]["alerts"]["open"]
            return opened is not None and opened["alert_id"] == alert_id and opened["judge_after_refill"] and \
                state["pipeline"]["refill"] > 0 and state["aligner"]["newest_k"] == device.k
        wait_for(refilling, "a checkpoint of every tick sent, written during the refill", 60, second.proc)
    finally:
        second.kill()                       # SIGKILL
    return device


def _as_a_release_before_clock27_wrote_it(tmp) -> tuple[int, int]:
    """The checkpoint written again with the open alert's calm count from before the downtime, as a release before
    clock27 kept it through the refill: CLEAR − 1. (The refill's ticks still to come, the ticks the aligner held
    open: both count towards the refill when the third life closes them.)"""
    meta, state = checkpointed(tmp)
    opened = state["pipeline"]["alerts"]["open"]
    assert opened["below"] == 0 and opened["spent"] == 0, opened     # this release's: reset at the refill
    opened["below"] = CLEAR - 1
    atomic_write(tmp / "state" / CHECKPOINT_FILE, encode(meta, state))
    return state["pipeline"]["refill"], len(state["aligner"]["open_k"])


def test_a_short_restart_on_an_earlier_releases_checkpoint_written_during_the_refill_pages_once(tmp_path):
    cfg = write_config(tmp_path, CLEAR)
    alert_id, killed = alert_open_then_killed(tmp_path, cfg)
    device = _refilling_then_killed(tmp_path, cfg, alert_id, killed)
    refill, held_open = _as_a_release_before_clock27_wrote_it(tmp_path)
    before = len(alerts(tmp_path))
    third = AgentProcess(tmp_path, cfg, "run3")
    try:
        assert "resumed from checkpoint" in third.ready()
        # The device's buffered ticks from where it stopped: a short restart. Calm through the refill and CLEAR // 2
        # scores after it (the ticks held open close first and count towards it), then the step again.
        device.send(third, refill - held_open + CLEAR // 2)
        device.send(third, STEPS + 4, step=8.0)
        assert third.finish() == 0
    finally:
        if third.proc.poll() is None:
            third.kill()
    err = third.stderr()
    evs = alerts(tmp_path)
    one_alert(evs, alert_id)
    after = evs[before:]
    # One page: the calm scores after the refill are fewer than CLEAR, the step goes on under the alert's id (before:
    # `end restart` at the first calm score, CLEAR − 1 old calm ticks and one new, then the step paged a `new` alert).
    assert [(e["event"], e["reason"]) for e in after] == [("update", None), ("end", "shutdown")], \
        ([(e["alert_id"], e["event"], e.get("reason")) for e in after], err[-3000:])
    assert after[0]["gap_s"] > STEPS * TICK, after[0]       # both downtimes' unseen ticks, said once
    assert f"alert {alert_id}: its {CLEAR - 1} calm tick(s) in a row from before a restart whose window is still " \
        f"refilling" in err, err[-3000:]
