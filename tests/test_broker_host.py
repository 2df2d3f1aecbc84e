"""A broker's `host` that the MQTT client cannot use is refused by check-config with its key path, as
`run` refuses it: an empty host passed check-config and then ended `run` at start with paho's bare
"ValueError: Invalid host." (tests/test_qa20_check_vs_run drew it from industrial.yaml); a URL or a
"host:port" written where the host name goes (`mqtt://broker`, `broker:8883`, the way most MQTT tools
take it) passed both and left the sink retrying a name no resolver knows, each outage said as
"unreachable"."""
from __future__ import annotations

import pytest
import yaml

from agent.cli import main


def config(tmp_path, host, where="sink"):
    broker = {"host": host, "port": 1883}
    cfg = {"node": {"id": "gw-1", "site": "lab"}, "tick_s": 1, "sensors": ["a", "b"],
           "sources": [{"type": "stdin"}], "state_dir": str(tmp_path / "state"),
           "sinks": [{"type": "mqtt", "broker": broker} if where == "sink" else {"type": "jsonl",
                                                                               "path": str(tmp_path / "a.jsonl")}]}
    if where == "source":
        cfg["sources"] = [{"type": "mqtt", "broker": broker, "topics": {"plant/a": "a"}}]
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("where,key", [("sink", "sinks[0].broker.host"), ("source", "sources[0].broker.host")])
@pytest.mark.parametrize("host,says", [("", "empty"), ("  ", "empty"),
                                       ("mqtt://broker.example", "broker.example"),
                                       ("mqtts://broker.example:8883", "tls"),
                                       ("broker.example:1883", "port"),
                                       ("broker example", "space")])
def test_a_host_the_client_cannot_use_is_refused_with_its_key_path(tmp_path, capsys, where, key, host, says):
    path = config(tmp_path, host, where)
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if key in l)
    assert says in line, line
    # run refuses the same, before anything starts (it loads the file with the same function)
    assert main(["run", "-c", str(path), "--max-ticks", "1"]) == 2
    assert key in capsys.readouterr().err


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "broker.example", "::1", "fe80::1%eth0",
                                  "gw-07.plant-a.internal"])
def test_host_names_and_addresses_pass(tmp_path, capsys, host):
    assert main(["check-config", "--static", "-c", str(config(tmp_path, host))]) == 0, capsys.readouterr().err
