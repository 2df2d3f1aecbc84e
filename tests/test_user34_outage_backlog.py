"""user34 (user33's left item): a controller that queues its readings while the broker an `mqtt` source reads is away
sends them when it is back, after the agent closed those ticks (`window.idle_flush_s`) and told the outage as the
source's fault. They cannot be scored (the ticks are gone, the alerts of their time could only come late) — but on
19acb1bf they were counted `late`, the count that says a feed's stamps or delivery lag (`lateness_ticks`, a clock):
an operator who watches `stad_records_rejected_total{reason="late"}` was paged after every broker restart for a
controller doing what it should — and the queue's first readings, further back than the aligner reaches, were taken
for a step back of the data's time: `time base moved back`, the window refilled unscored, an open alert ended
`restart`. Now they are counted as `outage backlog`, said as what they are, and never move the time base; a reading
late for another reason is still `late`.

A real Mosquitto killed and started again on its port, the real agent, a publisher that keeps what it could not
send and sends it when the broker is back (as RTUs' store-and-forward does)."""
from __future__ import annotations

from conftest import interrupt_agent, wait_for
from mqtt_broker import make_broker  # noqa: F401 — the fixture
from mqtt_store_forward import StoreAndForward, rejected, start_rtu_agent, value


def test_a_publishers_queue_of_a_broker_outage_is_counted_as_such_not_late(tmp_path, make_broker):
    broker = make_broker()
    proc, metrics = start_rtu_agent(tmp_path, broker.port)
    rtu = StoreAndForward(broker.port)
    rtu.start()
    try:
        wait_for(lambda: value(metrics, "stad_records_total") >= 10, "the readings before the outage", 90, proc)
        ticks = value(metrics, "stad_ticks_total")
        rtu.away.set()
        broker.kill()
        # the agent has closed 4 s of the outage's ticks (idle_flush_s), and the publisher holds those readings
        wait_for(lambda: value(metrics, "stad_ticks_total") >= ticks + 8 and len(rtu.kept) >= 8,
                 "ticks of the outage closed", 90, proc)
        broker.start()
        wait_for(lambda: rtu.client.is_connected() and "MQTT source: connected" in (tmp_path / "agent.err").read_text(),
                 "the RTU and the agent back on the broker", 90, proc)
        rtu.away.clear()
        wait_for(lambda: rtu.forwarded >= 8, "the publisher's queue sent", 90, proc)
        wait_for(lambda: max(rejected(metrics, "outage backlog"), 0) + max(rejected(metrics, "late"), 0) >= 3,
                 "the queue's readings counted", 90, proc)
        backlog, late = rejected(metrics, "outage backlog"), rejected(metrics, "late")
    finally:
        rtu.close()
        interrupt_agent(proc)
    assert backlog >= 3 and late == 0, (backlog, late)
    said = [line for line in (tmp_path / "agent.err").read_text().splitlines() if "outage backlog" in line]
    assert said and "the broker was away" in said[0] and "not scored" in said[0], said
    # nor a step back of the data: on 19acb1bf the queue's first readings, further back than the aligner reaches, were
    # taken for one ("time base moved back: the data stepped -4 s … the window refills"; an open alert ends `restart`)
    assert "time base moved" not in (tmp_path / "agent.err").read_text()
