"""The stop summary's dropped events are this run's, each reason in words (user13/user14: `events sinks could not
write: mqtt 2` at every stop of a gateway whose broker had once refused two events — the MQTT outbox persists its
drop counts across lives for health, and the summary printed them as this run's, as "could not write").

A real Agent on the demo config with an MQTT sink whose broker is away (a free port nothing listens on), on a
state_dir whose outbox a previous life left with 2 events dropped (the real Outbox over its max_events)."""
from __future__ import annotations

from conftest import NO_DEMO, REPO, alert_event, demo_dict, free_port

from agent.config import from_dict
from agent.outbox import Outbox
from agent.service import Agent
from agent.stop_summary import format_summary
from agent.sinks.mqtt import OUTBOX_FILE

pytestmark = NO_DEMO


def gateway(state):
    d = demo_dict(state)
    d["warmup"]["ticks"] = 300
    d["sinks"].append({"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port()},
                       "outbox": {"max_events": 10}})
    return from_dict(d, base_dir=str(REPO))


def previous_life(state) -> None:
    """The outbox as a previous life left it: 12 events while the broker was away, 2 dropped over max_events."""
    state.mkdir(parents=True, exist_ok=True)
    box = Outbox(state / OUTBOX_FILE, 10, 7 * 86400.0)
    for seq in range(12):
        event = alert_event("old-a", seq, "new" if seq == 0 else "update")
        box.add(event.alert_id, event.seq, event.event, b"{}")
    assert box.stats()["dropped"] == {"max_events": 2}
    box.close()


def test_drops_of_an_earlier_life_are_not_this_run_s(tmp_path):
    state = tmp_path / "state"
    previous_life(state)
    agent = Agent(gateway(state), max_ticks=320)
    summary = agent.run()
    assert summary["sinks"]["mqtt"]["dropped"] == {"max_events": 2}      # health: since the outbox was made
    line = format_summary(summary)
    assert "mqtt" not in line and "dropped this run" not in line, line


def test_this_run_s_drops_say_what_became_of_the_events(tmp_path):
    state = tmp_path / "state"
    previous_life(state)
    agent = Agent(gateway(state), max_ticks=320)
    [mqtt] = [s for s in agent.sinks if s.TYPE == "mqtt"]
    for seq in range(3):                    # the outbox holds 10 already: each new one drops the oldest
        mqtt.emit(alert_event("new-a", seq, "new" if seq == 0 else "update"))
    summary = agent.run()
    assert summary["sinks"]["mqtt"]["dropped"] == {"max_events": 5}
    line = format_summary(summary)
    assert "events dropped this run: mqtt: 3 dropped over outbox.max_events while the broker was away; " in line, line
