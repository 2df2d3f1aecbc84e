"""An MQTT source whose topic filter matches the agent's own sink topics at the same broker is refused
by check-config and run with its key path (review20's finding: `plant3/#` beside the sink's prefix
`plant3/stad` read the agent's own status, health and alert payloads as samples — every one a counted
reject, and a JSON payload naming a sensor could have been taken as a reading)."""
from __future__ import annotations

import pytest
import yaml

from agent.cli import main


def config(tmp_path, source_broker, topics, prefix="plant3/stad"):
    cfg = {"node": {"id": "gw-1", "site": "skid1"}, "tick_s": 1, "sensors": ["a", "b"],
           "sources": [{"type": "mqtt", "broker": source_broker, "topics": topics}],
           "state_dir": str(tmp_path / "state"),
           "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 1883}, "prefix": prefix}]}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("topic", ["plant3/#", "plant3/stad/+/+/health", "#", "+/stad/skid1/gw-1/alerts",
                                   "plant3/stad/skid1/gw-1/feedback/result"])
def test_a_filter_that_reads_the_agents_own_topics_is_refused(tmp_path, capsys, topic):
    path = config(tmp_path, {"host": "127.0.0.1", "port": 1883}, {topic: "*", "plant3/pump/a": "a"})
    assert main(["check-config", "--static", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if f"sources[0].topics.{topic}" in l)
    assert "plant3/stad/skid1/gw-1/" in line and "sinks[0]" in line, line
    assert main(["run", "-c", str(path), "--max-ticks", "1"]) == 2
    assert f"sources[0].topics.{topic}" in capsys.readouterr().err


@pytest.mark.parametrize("broker,topics", [
    ({"host": "127.0.0.1", "port": 1883}, {"plant3/pump/#": "*", "plant3/json": "*"}),   # beside, not over
    ({"host": "127.0.0.1", "port": 1884}, {"plant3/#": "*"}),                           # another broker
    ({"host": "127.0.0.1", "port": 1883}, {"plant3/stad/skid1/gw-1/feedback": "a"}),     # not a sink topic it publishes
])
def test_filters_beside_the_agents_own_topics_pass(tmp_path, capsys, broker, topics):
    assert main(["check-config", "--static", "-c", str(config(tmp_path, broker, topics))]) == 0, \
        capsys.readouterr().err


@pytest.mark.parametrize("topic_filter,topic,matches", [
    ("a/b", "a/b", True), ("a/b", "a/c", False), ("a/+", "a/b", True), ("a/+", "a/b/c", False),
    ("a/#", "a", True), ("a/#", "a/b/c", True), ("#", "a/b", True), ("+/+", "a/b", True), ("+", "a/b", False),
    ("#", "$SYS/broker", False), ("+/broker", "$SYS/broker", False), ("$SYS/#", "$SYS/broker", True),
    ("a/+/c", "a//c", True), ("a/b/", "a/b", False)])
def test_topic_matching_follows_the_broker(topic_filter, topic, matches):
    """The source routes each message by this matcher and the config check uses it: a broker's rules,
    checked against paho's own when paho is there."""
    from agent.broker import topic_matches
    assert topic_matches(topic_filter, topic) is matches
    paho = pytest.importorskip("paho.mqtt.client")
    assert paho.topic_matches_sub(topic_filter, topic) is matches
