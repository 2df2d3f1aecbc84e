"""qa53 (user34's left item): a broker that stops answering without closing the connection (its host hung, a cable
pulled) is noticed by the MQTT source only when paho's keep-alive gives up — 2 × keepalive_s later at best, 3 × on a
loaded gateway. A controller that kept its readings through the outage sends them once the broker is back: user34
counted those stamped inside the outage as the source knew it `outage backlog`, but the ones stamped between the
broker's last delivery and the source's notice were still `late` — one queue, two reasons, and the `late` count an
operator watches for a feed's lag or clock went up after every such outage. Decided: the outage begins at the
broker's last delivery (when that is within the 3 × keepalive_s it may take to notice), so the whole queue is
`outage backlog`.

A real Mosquitto paused (SIGSTOP: the connection stays open, nothing answers), killed and started again on its port;
the real agent; a publisher that keeps what it could not send."""
from __future__ import annotations

from conftest import interrupt_agent, wait_for
from mqtt_broker import make_broker  # noqa: F401 — the fixture
from mqtt_store_forward import broker_back, rejected, start_rtu_outage


def test_a_queue_from_before_the_source_noticed_a_silent_broker_is_backlog_not_late(tmp_path, make_broker):
    broker = make_broker()
    proc, metrics, rtu = start_rtu_outage(tmp_path, broker, keepalive_s=5)
    err = tmp_path / "agent.err"
    try:
        broker.pause()
        wait_for(broker.paused, "the broker paused", 30, proc)
        # the source notices by its keep-alive (5 s, up to 10 s); the publisher keeps its readings meanwhile
        wait_for(lambda: "MQTT source: cannot use broker" in err.read_text(), "the source noticing the outage", 90,
                 proc)
        broker.kill()
        broker_back(tmp_path, broker, rtu, proc)
        # the queue's first readings, stamped from the pause to the notice (5 s or more, 2 a second), counted
        wait_for(lambda: max(rejected(metrics, "outage backlog"), 0) + max(rejected(metrics, "late"), 0) >= 6,
                 "the queue's readings counted", 90, proc)
    finally:
        rtu.close()
        interrupt_agent(proc)
    summary = [line for line in err.read_text().splitlines() if line.startswith("summary:")]
    # on 7279aaa8 those stamped between the pause and the notice were `late` (`late: 10`, `outage backlog` none): the
    # outage began, as the source knew it, when it noticed
    assert summary and "outage backlog: " in summary[0] and "late" not in summary[0], summary
    backlog = int(summary[0].split("outage backlog: ")[1].split(",")[0].split(")")[0])
    assert backlog >= 6, summary
