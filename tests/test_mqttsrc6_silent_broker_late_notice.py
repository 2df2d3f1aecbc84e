"""mqttsrc6: a broker gone silent that the source notices late still leaves its outage's queue `outage backlog`.

qa53 dated a silent broker's outage from its last delivery only when paho noticed within 3 × keepalive_s of it; on a
gateway too loaded to run paho's loop on time the notice comes later, and the publisher's readings from the
broker's last delivery to the notice — sent once it was back — were `late`, the first ones, further back than the
aligner reaches, a step back of the data (`time base moved back`, the window refilled, an open alert ended
`restart`). Now the queue is told by what the source read before the outage and after the reconnect
(agent/sources/outage_queue.py), not by when the outage was noticed.

A real Mosquitto paused (SIGSTOP: the connection stays open, nothing answers), then killed and started again on its
port; the real agent, itself stopped (SIGSTOP) for 20 s while the broker is silent — a gateway too loaded to run,
so paho's keep-alive gives up long after 3 × keepalive_s; a publisher that keeps what it could not send.
"""
from __future__ import annotations

import re
import signal

from conftest import interrupt_agent, wait_for
from mqtt_broker import make_broker, process_stopped  # noqa: F401 — make_broker: the fixture
from mqtt_store_forward import broker_back, rejected, start_rtu_outage


def test_a_silent_broker_noticed_late_leaves_its_queue_backlog_not_a_step_back(tmp_path, make_broker):
    broker = make_broker()
    proc, metrics, rtu = start_rtu_outage(tmp_path, broker, keepalive_s=5)
    err = tmp_path / "agent.err"
    try:
        broker.pause()
        wait_for(broker.paused, "the broker paused", 30, proc)
        proc.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: process_stopped(proc.pid), "the agent stopped", 30)
            # 20 s of readings kept by the publisher (2 a second): the agent's notice comes > 15 s (3 × keepalive_s)
            # after the broker's last delivery
            wait_for(lambda: len(rtu.kept) >= 40, "the publisher keeping 20 s of readings", 90)
        finally:
            proc.send_signal(signal.SIGCONT)
        wait_for(lambda: "MQTT source: cannot use broker" in err.read_text(), "the source noticing the outage", 90,
                 proc)
        broker.kill()
        broker_back(tmp_path, broker, rtu, proc)
        # the publisher's queue, from the pause on (over 20 s, 2 a second), counted — or taken for the data's time
        # stepping back (7b3e1fff: the queue's readings then refill the window, the count stays low)
        counted = ("outage backlog", "late", "clock skew")
        wait_for(lambda: sum(max(rejected(metrics, reason), 0) for reason in counted) >= 40
                 or "time base moved" in err.read_text(), "the queue's readings counted", 90, proc)
        # and said once, when it has drained (7b3e1fff said nothing)
        wait_for(lambda: "kept through the broker's outage" in err.read_text() or "time base moved" in err.read_text(),
                 "the queue said once it drained", 90, proc)
    finally:
        rtu.close()
        interrupt_agent(proc)
    text = err.read_text()
    summary = [line for line in text.splitlines() if line.startswith("summary:")]
    # on 7b3e1fff: `late` for those stamped from the pause to the notice, and the queue's first readings taken for a
    # step back of the data ("time base moved back … the window refills")
    assert "time base moved" not in text, [line for line in text.splitlines() if "time base" in line]
    assert summary and "outage backlog: " in summary[0] and "late" not in summary[0], summary
    backlog = int(summary[0].split("outage backlog: ")[1].split(",")[0].split(")")[0])
    assert backlog >= 40, summary
    # what the operator read: the broker went silent (not "disconnected us"), a reconnect it accepted and did not
    # answer said as a broker hung (it answered before), and how long it was away once back
    lost = [line for line in text.splitlines() if "MQTT source: cannot use broker" in line]
    assert len(lost) == 1, lost
    assert f"127.0.0.1:{broker.port}" in lost[0] and "into the session: the broker went silent" in lost[0], lost
    assert "disconnected us" not in lost[0], lost
    back = [line for line in text.splitlines() if "MQTT source: connected to" in line]
    assert back and "(back " in back[-1] and "after the loss noticed at " in back[-1], back
    # the queue said once: as many readings as were counted, and those whose ticks were still open (scored)
    said = [line for line in text.splitlines() if "kept through the broker's outage" in line]
    assert len(said) == 1 and int(re.search(r": (\d+) readings kept", said[0])[1]) >= backlog, said
