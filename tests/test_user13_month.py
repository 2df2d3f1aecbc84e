"""user13, an OT engineer's month on three gateways: what a user met and could not act on, fixed.

- A broker password changed (at the broker and in the gateway's credential file): the running agent
  read its password once, at start, and went on being refused with `not authorised (wrong user name or
  password, …)` — nothing said that the new password is only used after a restart, and a SIGHUP (the
  one reload the agent has) does not read it. The refusal line now says so (agent/mqtt_client.py).
"""
from __future__ import annotations

import logging
from pathlib import Path

from conftest import wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture

from agent.broker import BrokerConfig, Secret
from agent.mqtt_client import RESTART_FOR_PASSWORD, ConnectionReporter, build_client, connect


def _refused_line(broker_port: int, tmp_path: Path, caplog, **broker) -> str:
    """The line a client using `broker`'s settings logs when the real mosquitto refuses its CONNECT."""
    cfg = BrokerConfig(host="127.0.0.1", port=broker_port, reconnect_min_s=0.1, reconnect_max_s=0.5, **broker)
    client = build_client(cfg, "user13-gw", resolve=lambda p: tmp_path / p)
    reporter = ConnectionReporter(cfg, "alerts", logging.getLogger("stad.test.user13"),
                                  consequence="alert events are kept in the outbox until it is back")
    reporter.install(client)
    client.loop_start()
    try:
        with caplog.at_level(logging.WARNING, logger="stad.test.user13"):
            connect(client, cfg)
            got = wait_until(lambda: [r.getMessage() for r in caplog.records if "connection refused" in r.getMessage()],
                             timeout=30)
    finally:
        client.disconnect()
        client.loop_stop()
    assert got, "the refusal was never said"
    return got[0]


def test_a_refused_password_says_it_is_read_at_start(make_broker, tmp_path, caplog):  # noqa: F811
    broker = make_broker(users={"gw2": "the-new-password"})
    (tmp_path / "gw2.pw").write_text("the-old-password\n")
    line = _refused_line(broker.port, tmp_path, caplog, username="gw2", password=Secret(file="gw2.pw"))
    assert "not authorised" in line, line
    assert RESTART_FOR_PASSWORD in line, line
    assert "restart the agent" in line, line


def test_a_refusal_without_a_password_does_not_talk_of_one(make_broker, tmp_path, caplog):  # noqa: F811
    broker = make_broker(users={"gw2": "the-new-password"})
    line = _refused_line(broker.port, tmp_path, caplog, username="gw2")
    assert "not authorised" in line, line
    assert RESTART_FOR_PASSWORD not in line, line
