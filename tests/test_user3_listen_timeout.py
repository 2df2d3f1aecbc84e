"""`stad-agent listen --timeout S` as the connectivity check the README's troubleshooting makes of it
(`Check with stad-agent listen --host H --port P`): a run that never reached the broker — nothing
listening, a TLS port spoken to without --ca-file — exited 0 as if all were well; it exits 1 now,
naming the broker. Reached and followed until the timeout, it still exits 0."""
from __future__ import annotations

from agent.cli import main
from conftest import free_port
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture


def test_a_timeout_that_never_reached_the_broker_exits_1(caplog):
    port = free_port()          # nothing listens there
    assert main(["listen", "--host", "127.0.0.1", "--port", str(port), "--timeout", "2"]) == 1
    assert f"without reaching the broker at 127.0.0.1:{port}" in caplog.text


def test_a_timeout_after_following_a_real_broker_exits_0(make_broker):
    broker = make_broker()
    assert main(["listen", "--host", "127.0.0.1", "--port", str(broker.port), "--timeout", "5"]) == 0
