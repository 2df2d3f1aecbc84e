"""`reconnect_min_s` longer than `reconnect_max_s` is refused at its key path by check-config and `run` alike
(review38's left item): the OPC UA source and an MQTT broker block (the MQTT sink's, the MQTT source's) took it
silently, the first delay min and every later one max. Modbus has no such pair (poll_s, then a fixed longest)."""
from __future__ import annotations

import subprocess
import sys

import yaml

from config_mutants import check_config
from conftest import REPO, agent_env
from small_config import small_config

BROKER = {"host": "127.0.0.1", "port": 1883, "reconnect_min_s": 30, "reconnect_max_s": 5}
OPCUA = {"type": "opcua", "url": "opc.tcp://127.0.0.1:4840", "nodes": {"a": "ns=2;s=A"}, "reconnect_min_s": 30,
         "reconnect_max_s": 5}


def _refused_alike(f, key: str) -> None:
    code, err = check_config(f)
    assert code == 2 and key in err and "reconnect_max_s (5 s)" in err, err
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(f)], cwd=REPO, env=agent_env(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and key in run.stderr, run.stderr[-2000:]


def test_an_opcua_source_with_min_over_max_is_refused_at_its_key(tmp_path):
    _refused_alike(small_config(tmp_path, OPCUA, ["a"]), "sources[0].reconnect_min_s")


def test_the_mqtt_sinks_broker_with_min_over_max_is_refused_at_its_key(tmp_path):
    f = small_config(tmp_path, {"type": "simulate", "duration_s": 60}, ["a"])
    data = yaml.safe_load(f.read_text())
    data["sinks"] = [{"type": "mqtt", "broker": BROKER}]
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    _refused_alike(f, "sinks[0].broker.reconnect_min_s")


def test_min_equal_to_max_is_taken(tmp_path):
    f = small_config(tmp_path, {**OPCUA, "reconnect_min_s": 5}, ["a"])
    code, err = check_config(f)
    assert "reconnect_min_s" not in err, err
