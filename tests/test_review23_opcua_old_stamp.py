"""An agent started on OPC UA nodes that have held their values a while (review23's bug, fixed by source4).

A subscription's first notification of each item gives its stored value with the stamp of its last change —
for a setpoint held an hour, an hour ago. agent/sources/opcua.py `_data` put that record at its old stamp, and
source3's held records followed at this host's time: on a fresh start the time base began at the old stamp and
every tick from it to now was closed at once (carried, then missing) — the warm-up fed that gap and the held
sensors told `missing`; with a checkpoint (or after a server outage's re-subscribe) the old-stamped records
moved the time base back to them (a step within the lateness reach: rejected `late`). The value is the current
one: it holds now, so a first notification older than a tick is now read now, as a held value. Real parts: a
real `stad-agent run` and a real asyncua server process (tests/opcua_server.py `hold NAME`), health through
Mosquitto."""
from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from conftest import wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from opcua_agent import MARGIN, SENSORS, Agent, Server, server  # noqa: F401 — a pytest fixture
from source1_events import said

pytest.importorskip("asyncua", reason="the opcua extra is not installed")

#: how long the values are held before the agent starts: many ticks (0.5 s) and more than carry + missing_s
HELD_S = 4.0


def test_a_start_on_values_held_a_while_reads_them_now_not_at_their_old_stamp(tmp_path, server, make_broker):
    with _held(server):
        held_at = time.monotonic()
        # the condition is the age of the server's stamps: nothing else to wait on
        assert wait_until(lambda: time.monotonic() - held_at > HELD_S, HELD_S * MARGIN)
        started = time.time()
        agent, health = _life(tmp_path, server, make_broker(), "opc-old-stamp", lambda h: h.get("warm"))
    first_tick = next(line for line in (tmp_path / "agent.err").read_text().splitlines() if "first tick" in line)
    assert said(agent.events()) == [], (said(agent.events()), first_tick)
    assert health.get("rejected", {}).get("late", 0) == 0, health.get("rejected")
    assert started - HELD_S / 2 < _iso(first_tick.split("first tick ")[1].split(":", 3)[:3]), first_tick


def test_a_restart_from_a_checkpoint_on_held_values_reads_them_now_not_back_in_time(tmp_path, server, make_broker):
    """The agent runs on held values (source3's held records, stamped now), stops cleanly (its checkpoint holds
    the last tick), starts again: each first notification carries the stamp of the hold, before that tick. A
    re-subscribe after an outage takes the same path (a new session's first notifications)."""
    node = "opc-old-stamp-restart"
    with _held(server):
        _life(tmp_path, server, make_broker(), node, lambda h: h.get("warm"))
        # a broker of its own: the first life's retained health is not the second's; each sensor's first
        # notification is among its first records: four ticks of held records after them
        again, health = _life(tmp_path, server, make_broker(), node,
                              lambda h: h.get("records_in", 0) >= 4 * len(SENSORS))
    assert health["checkpoint_at_start"]["state"] == "resumed", health["checkpoint_at_start"]
    # at their old stamps (before the checkpoint's last tick, all in step) the time base moved back to them, then
    # on to now; a source fault raised and ended
    assert health["time_base_moves"]["back"] == 0, health["last_time_base_move"]
    assert health.get("rejected", {}).get("late", 0) == 0, health.get("rejected")
    assert said(again.events()) == []


@contextmanager
def _held(server):
    """Every sensor's node held at its value (no data change) inside, varying again after."""
    for name in SENSORS:
        server.command(f"hold {name}")
    try:
        yield
    finally:
        for name in SENSORS:
            server.command(f"vary {name}")


def _life(tmp_path, server, broker, node: str, until) -> tuple[Agent, dict]:
    """An agent's life in tmp_path, stopped (SIGTERM: its checkpoint written) once its health meets `until`;
    the agent and that health."""
    agent = Agent(tmp_path, server, broker, node=node)
    try:
        agent.wait(lambda: until(agent.last_health() or {}), f"{node}'s health", 30 * MARGIN)
        return agent, agent.last_health()
    finally:
        assert agent.stop() == 0


def _iso(parts) -> float:
    from datetime import datetime
    return datetime.fromisoformat(":".join(parts).replace("Z", "+00:00")).timestamp()
