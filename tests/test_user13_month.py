"""user13, an OT engineer's month on three gateways: what a user met and could not act on, fixed.

- A broker password changed (at the broker and in the gateway's credential file): the running agent
  read its password once, at start, and went on being refused with `not authorised (wrong user name or
  password, …)` — nothing said that the new password is only used after a restart, and a SIGHUP (the
  one reload the agent has) does not read it. The refusal line now says so (agent/mqtt_client.py).
- Upgraded from an agent of 3 Dec 2026, each gateway said an ERROR that its active-bundle.json was lost,
  though models_dir held no bundle: nothing was lost (agent/active_bundle.py).
"""
from __future__ import annotations

import logging
from pathlib import Path

from conftest import HOTSWAP_WARMUP as WARMUP, NO_DEMO, REPO, demo_dict, wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from swap_life import checkpointed_life, close

from agent.broker import BrokerConfig, Secret
from agent.config import from_dict
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


@NO_DEMO
def test_an_upgrade_over_an_empty_models_dir_is_not_a_lost_record(tmp_path, caplog):
    """An agent from before 3 Dec 2026 wrote no active-bundle.json at its first start. Upgraded, the new one
    said `ERROR … active-bundle.json is missing: the bundle a hot swap made active and the models_dir bundles
    already decided on are lost` and counted a state-read failure, though models_dir held nothing (user13's
    three gateways, each upgraded). With no bundle there nothing is lost: a first start's record is written."""
    from agent.service import Agent
    d = demo_dict(tmp_path / "state", chain=["numpy"], models_dir=str(tmp_path / "models"))
    d["warmup"]["ticks"] = WARMUP
    cfg = from_dict(d, base_dir=str(REPO))
    checkpointed_life(cfg)
    record = tmp_path / "state" / "active-bundle.json"
    record.unlink()                             # as the agent before 3 Dec 2026 left its state_dir
    with caplog.at_level(logging.ERROR, logger="stad.hotswap"):
        agent = Agent(cfg)
    try:
        assert agent.checkpoint_start["state"] == "resumed"
        assert agent.health_snapshot()["state_reads"]["active_bundle"] is None
        assert not [r.getMessage() for r in caplog.records if "is missing" in r.getMessage()]
        assert record.exists(), "the first start's record is written"
    finally:
        close(agent)
