"""mqttsrc6: an outage longer than `window.max_clock_skew_s` leaves its queue `outage backlog`, not `clock skew`.

A publisher's queue of a long outage (an RTU's store-and-forward through a broker down for an hour) holds readings
stamped further from this host's clock than `window.max_clock_skew_s` (300 s by default) allows a live reading: on
7b3e1fff the aligner refused those as `clock skew` before it looked at `Record.backlog` — the count that sends an
operator to a sender's clock, after every long outage. The queue's rule (agent/sources/outage_queue.py) already
bounds a backlog reading's stamp to the outage; the aligner's skew check now lets one through to be counted as what
it is. Here the bound is 2 s and the outage ~8 s, as a five-minute bound and an hour's outage would be.

A real Mosquitto killed and started again on its port, the real agent, a publisher that keeps what it could not send.
"""
from __future__ import annotations

from conftest import interrupt_agent, wait_for
from mqtt_broker import make_broker  # noqa: F401 — the fixture
from mqtt_store_forward import broker_back, rejected, start_rtu_outage


def test_a_queue_older_than_the_skew_bound_is_backlog_not_clock_skew(tmp_path, make_broker):
    broker = make_broker()
    proc, metrics, rtu = start_rtu_outage(tmp_path, broker, window={"max_clock_skew_s": 2})
    err = tmp_path / "agent.err"
    try:
        broker.kill()
        wait_for(lambda: len(rtu.kept) >= 16, "8 s of readings kept by the publisher", 90, proc)
        broker_back(tmp_path, broker, rtu, proc)
        wait_for(lambda: "kept through the broker's outage" in err.read_text()
                 or max(rejected(metrics, "clock skew"), 0) >= 10, "the queue's readings counted", 90, proc)
        skew, backlog = rejected(metrics, "clock skew"), rejected(metrics, "outage backlog")
    finally:
        rtu.close()
        interrupt_agent(proc)
    # on 7b3e1fff: `clock skew` for every reading of the queue more than 2 s old, `outage backlog` for a few
    assert skew <= 0 and backlog >= 10, (skew, backlog)
