"""Two MQTT clients of one config that cannot both work, refused by check-config and `run` (exit 2, the
key path named) instead of running wrong (review20, an integrator's first week):

- **Two `mqtt` sinks** (the plant's broker and the centre's, say) shared one outbox file,
  `state_dir/mqtt-outbox.sqlite`: each sink sent every row in it and deleted what its broker acknowledged. Seen
  on main with one broker up and the other's port closed: the alert's `new` reached the up broker twice
  (its own row and the other sink's), the outbox was empty, so the down broker never got it — not on
  reconnect, not after a restart — and the stop said `-1 alert event(s) stay in the outbox`. Health
  and /metrics key each sink by its type, so the two also hid each other's counts. check-config said ok.
- **A source and a sink with one client id at one broker** (industrial.yaml's sink names
  `client_id: plant3-gw-skid1`, and README says the MQTT source's broker block takes "the same options as the
  sink's broker": copied as it is): the broker gives the session to the newer connection, so the agent's
  own two clients took it from each other every second — no sample ever read, no alert delivered —
  while the log guessed at "two agents with the same node.id". check-config said ok. The sink's own
  default id (`stad-<site>-<node>`) given to the source does the same.
Real processes for the command line; the rule itself on configs built as `load` builds them."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from agent.config import from_dict
from agent.typed import ConfigError


def _config(sinks: list[dict], source_broker: dict | None = None) -> dict:
    source = ({"type": "mqtt", "broker": source_broker, "topics": {"plant/pressure": "pressure"}}
              if source_broker is not None else {"type": "stdin"})
    return {"node": {"id": "gw1", "site": "plant"}, "sensors": ["pressure", "flow"], "sources": [source],
            "warmup": {"ticks": 40}, "sinks": sinks, "state_dir": "state"}


def _problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        from_dict(data)
    return exc.value.problems


def _cli(tmp_path, data: dict, command: str) -> subprocess.CompletedProcess:
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(data))
    return subprocess.run([sys.executable, "-m", "agent", command, "-c", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


LOCAL = {"host": "127.0.0.1", "port": 1883}
CENTRAL = {"host": "central.example.net", "port": 8883}


def test_a_second_mqtt_sink_is_refused_naming_the_outbox_and_the_bridge():
    problems = _problems(_config([{"type": "terminal"}, {"type": "mqtt", "broker": LOCAL},
                                  {"type": "mqtt", "broker": CENTRAL, "prefix": "fleet"}]))
    assert len(problems) == 1, problems
    assert problems[0].startswith("sinks[2]: a second mqtt sink (sinks[1] is one)"), problems
    assert "mqtt-outbox.sqlite" in problems[0] and "bridge" in problems[0], problems


def test_check_config_and_run_refuse_two_mqtt_sinks_before_starting(tmp_path):
    data = _config([{"type": "mqtt", "broker": LOCAL}, {"type": "mqtt", "broker": {**LOCAL, "port": 1}}])
    for command in ("check-config", "run"):
        res = _cli(tmp_path, data, command)
        assert res.returncode == 2, (command, res.stdout, res.stderr)
        assert "sinks[1]: a second mqtt sink (sinks[0] is one)" in res.stderr, (command, res.stderr)
    assert not (tmp_path / "state" / "mqtt-outbox.sqlite").exists()      # nothing started


def test_a_source_with_the_sinks_client_id_at_the_same_broker_is_refused():
    broker = {**LOCAL, "client_id": "plant3-gw-skid1"}
    problems = _problems(_config([{"type": "mqtt", "broker": broker}], source_broker=broker))
    assert problems == ["sources[0].broker.client_id: 'plant3-gw-skid1' is sinks[0]'s client id at 127.0.0.1:1883 too: "
                        "the broker keeps one connection per id, so the two would take it from each other "
                        "(no sample read, no alert sent); change one"], problems


def test_the_sinks_default_client_id_given_to_the_source_is_refused_too():
    problems = _problems(_config([{"type": "mqtt", "broker": LOCAL}],
                                 source_broker={**LOCAL, "client_id": "stad-plant-gw1"}))
    assert len(problems) == 1 and problems[0].startswith(
        "sources[0].broker.client_id: 'stad-plant-gw1' is sinks[0]'s client id at 127.0.0.1:1883 too"), problems


@pytest.mark.parametrize("source_broker", [
    {**LOCAL, "port": 1884, "client_id": "plant3-gw-skid1"},       # another broker: ids are per broker
    {**LOCAL, "client_id": "plant3-gw-skid1-in"},                  # another id
    LOCAL,                                                         # no id: a random one
], ids=["other-port", "other-id", "random-id"])
def test_clients_that_do_not_meet_are_taken(source_broker):
    cfg = from_dict(_config([{"type": "mqtt", "broker": {**LOCAL, "client_id": "plant3-gw-skid1"}}],
                            source_broker=source_broker))
    assert cfg.sources[0].TYPE == "mqtt" and cfg.sinks[0].TYPE == "mqtt"


def test_check_config_names_the_shared_client_id(tmp_path):
    broker = {**LOCAL, "client_id": "plant3-gw-skid1"}
    res = _cli(tmp_path, _config([{"type": "mqtt", "broker": broker}], source_broker=broker), "check-config")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "sources[0].broker.client_id: 'plant3-gw-skid1' is sinks[0]'s client id at 127.0.0.1:1883 too" in res.stderr
