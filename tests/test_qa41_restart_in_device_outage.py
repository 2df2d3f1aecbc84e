"""A restart during a device outage is worded as the sources' silence, not as the agent's own downtime (qa41).

A restarted agent takes the ticks from its checkpoint's last one to the first new data as a restart gap: skipped, no
sensor missing. With no wall-clock flush (`window.idle_flush_s` 0, the default) it waits for that data as long as it
takes, and no sign of life may claim a silence meanwhile (clock23). chaos2's Modbus soak restarted the agent 8 times
while the device was away; the first life with data said `the agent's own downtime: 326 tick(s) …; the agent was down
2 s of it …, the rest ran after its last checkpoint and was lost with the stop` — the agent had been up, waiting,
nearly all of it. A waiting life now says so in alive.json (`waiting`: seconds up, starts), and the restart gap's
line, the summary and health's `last_restart_gap` (`waiting_s`, `waiting_starts`) give that part as the sources'
silence. The ticks are still skipped (no `missing`), as before: only the words and the figures change.

A real agent on stdin (tests/silence_feed.py: 0.25-s ticks stamped with this host's clock); the device away is the
sender saying nothing while the agent is up.
"""
from __future__ import annotations

import json
import re
import time

from agent.resume import ALIVE_FILE, ALIVE_S
from conftest import wait_for
from restart_helpers import AgentProcess, resumed_run
from silence_feed import events, killed_while_flowing, seconds, send, write_config

WAITED = re.compile(r"the agent was down (\d+) s of it \(last alive (\S+), started again (\S+)\), up (\d+) s of it "
                    r"across (\d+) start\(s\) waiting for its sources' first data")


def _waiting(tmp_path) -> dict:
    try:
        return json.loads((tmp_path / "state" / ALIVE_FILE).read_text()).get("waiting") or {}
    except (OSError, ValueError):
        return {}


def _waited_past_alive_s(tmp_path, starts: int) -> bool:
    mark = _waiting(tmp_path)
    return mark.get("starts") == starts and mark.get("up_s", 0.0) > ALIVE_S


def test_a_restart_that_waits_through_a_device_outage_says_the_wait_is_the_sources_silence(tmp_path):
    cfg = write_config(tmp_path, "gw-outage", 1)
    killed = killed_while_flowing(tmp_path, cfg)

    def outage_then_data(agent):
        up = time.time()
        wait_for(lambda: _waited_past_alive_s(tmp_path, 1), "the restarted agent's wait said in alive.json", 60,
                 agent.proc)
        back = time.time()
        send(agent, 16)                 # the device is back
        return up, back

    (up, back), err, _ = resumed_run(tmp_path, cfg, outage_then_data)
    said = WAITED.search(err)
    assert said, err[-3000:]
    down_s, up_s, starts = int(said.group(1)), int(said.group(4)), int(said.group(5))
    last_alive, started = seconds(said.group(2)), seconds(said.group(3))
    assert starts == 1
    assert ALIVE_S <= up_s <= back - up + 2.0, (up_s, back - up, err[-3000:])
    # down: from the last sign of life before the kill (at most ALIVE_S before it: its precision; under load the
    # first life's last checkpoint can be a second or more old at the kill) to this start (before READY was seen),
    # the line's whole seconds rounded — final_load37 read `up - killed` as a bound and failed by 0.03 s
    assert killed - ALIVE_S <= last_alive <= killed + 0.5, (last_alive - killed, err[-3000:])
    assert started <= up + 0.5, (started - up, err[-3000:])
    assert abs(down_s - (started - last_alive)) <= 0.5 + 1e-3, (down_s, started - last_alive, err[-3000:])
    assert "the agent's downtime and its sources' silence while it waited" in err
    assert re.search(r"restart gap skipped: [\d.]+ s \([\d.]+ s of it its sources' silence while 1 start\(s\) "
                     r"waited for their first data\)", err), err[-3000:]
    assert [e for e in events(tmp_path) if e["kind"] != "alert"] == []     # still skipped: no sensor missing


def test_restarts_that_never_got_data_are_counted_as_waiting_by_the_first_life_with_data(tmp_path):
    cfg = write_config(tmp_path, "gw-outage2", 1)
    down1 = killed_while_flowing(tmp_path, cfg)

    second = AgentProcess(tmp_path, cfg, "run1b")       # up during the outage, killed before any data
    try:
        second.ready()
        up2 = time.time()
        wait_for(lambda: _waited_past_alive_s(tmp_path, 1), "the second life's wait said in alive.json", 60,
                 second.proc)
        second.kill()
        down2 = time.time()
    finally:
        if second.proc.poll() is None:
            second.kill()
    waited2 = _waiting(tmp_path)["up_s"]

    first_new, err, (gap_from, gap_to) = resumed_run(tmp_path, cfg, lambda third: send(third, 16)[0])
    said = WAITED.search(err)
    assert said, err[-3000:]
    down_s, last_alive, started, up_s, starts = said.groups()
    assert int(starts) == 2
    # the second life's wait, and the third's own until its first data
    assert waited2 - 1.0 <= int(up_s) <= (down2 - up2) + (first_new - seconds(started)) + 2.0, (up_s, waited2)
    # down: the first kill's downtime (to the second start) and the second's (to the third start), from the first
    # life's last sign of life — not the second life's, which was up waiting
    assert seconds(last_alive) <= down1 + 0.5, (seconds(last_alive) - down1, err[-3000:])
    assert int(down_s) < seconds(gap_to) - seconds(gap_from) - int(up_s) + 2.0
    assert [e for e in events(tmp_path) if e["kind"] != "alert"] == []
