"""A `tls.ca_file` check-config cannot find says which CA belongs there (user25): "…/ca.pem does not exist"
left a plant engineer to guess between the plant's CA, the gateway's own certificate and the system bundle.
The line now names it — the CA certificate that signed the broker's server certificate — for an MQTT sink and
an MQTT source alike (one broker block, one check). Real config files; check-config as the CLI runs it."""
from __future__ import annotations

import yaml

from agent.cli import main
from conftest import tls_sink_config

WHICH = "the CA certificate that signed the broker's server certificate"


def test_a_sinks_missing_ca_file_says_which_ca_belongs_there(tmp_path, capsys):
    path = tls_sink_config(tmp_path, {"ca_file": "/etc/plant/ca.pem"})
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if "sinks[0].broker.tls.ca_file: " in l)
    assert "/etc/plant/ca.pem does not exist" in line and WHICH in line, err


def test_a_sources_missing_ca_file_says_which_ca_belongs_there(tmp_path, capsys):
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "node": {"id": "gw-7", "site": "plant-a"}, "sensors": ["pressure", "flow"], "state_dir": str(tmp_path / "s"),
        "sources": [{"type": "mqtt", "broker": {"host": "localhost", "port": 8883, "tls": {"ca_file": "plant-ca.pem"}},
                     "topics": {"plant/pressure": "pressure", "plant/flow": "flow"}}],
        "sinks": [{"type": "terminal"}]}))
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if "sources[0].broker.tls.ca_file: " in l)
    assert f"{tmp_path / 'plant-ca.pem'} does not exist" in line and WHICH in line, err
