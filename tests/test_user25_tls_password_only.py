"""user25: a site broker with server TLS and a user name and password, no client certificate — the case
configs/industrial.yaml now shows in a commented block under its mqtt sink (README, "Deploying on a gateway").

Before, every deploy step and shipped config assumed either plain MQTT on loopback (industrial.yaml) or mutual
TLS (roadside.yaml: a client certificate and key), and an operator whose broker takes a password over TLS had to
guess which lines to drop (user24) or add (user25). The block's lines, uncommented as its comment says (the
broker's name, port and CA file put in), go into industrial.yaml; check-config passes with the password from a
systemd credential directory, and the agent — polling a real Modbus TCP server — connects to a real Mosquitto
listening with TLS and a password file only, where it leaves its retained health and status."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modbus_device import ModbusServer
from mqtt_broker import MOSQUITTO, make_broker  # noqa: F401 — make_broker: the fixture

REPO = Path(__file__).resolve().parent.parent
MARKER = "# A site broker elsewhere, over TLS"

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
              pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_sub") is None,
                                 reason="mosquitto / mosquitto_sub are not installed")]


def documented_tls_lines() -> dict:
    """The commented block under industrial.yaml's mqtt sink, uncommented and read as YAML."""
    lines = (REPO / "configs" / "industrial.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if MARKER in line)
    block = []
    for line in lines[at + 1:]:
        if not line.lstrip().startswith("# ") or ":" not in line:
            break
        block.append(line.lstrip()[2:])
    return yaml.safe_load("\n".join(block))


def _agent(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env)


def test_industrial_yaml_with_its_password_only_tls_lines_reaches_a_tls_broker(tmp_path, make_broker):
    documented = documented_tls_lines()
    assert set(documented) == {"host", "port", "tls"}
    assert set(documented["tls"]) == {"ca_file"}                 # no client certificate, no key
    broker = make_broker(users={"stad-agent": "pump-secret", "ops": "look"}, tls=True)
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "stad-edge.mqtt-password").write_text("pump-secret\n")
    cfg = yaml.safe_load((REPO / "configs" / "industrial.yaml").read_text())
    sink = next(s for s in cfg["sinks"] if s["type"] == "mqtt")
    sink["broker"].update(documented)
    sink["broker"].update(host="localhost", port=broker.port, tls={"ca_file": str(broker.tls.ca)})
    cfg["sinks"] = [sink]
    cfg["state_dir"] = str(tmp_path / "state")
    cfg["scoring"]["models_dir"] = str(tmp_path / "models")
    registers = {100 + i: 1000 + 37 * i for i in range(8)}
    env = {"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(creds)}
    with ModbusServer(registers) as plc:
        cfg["sources"][0].update(host="127.0.0.1", port=plc.port)
        path = tmp_path / "agent.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        checked = _agent("check-config", "-c", str(path), env=env)
        assert checked.returncode == 0, checked.stderr
        ran = _agent("run", "-c", str(path), "--max-ticks", "3", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "cannot use broker" not in ran.stderr, ran.stderr
    base = f"plant3/stad/{cfg['node']['site']}/{cfg['node']['id']}"
    retained = subprocess.run(["mosquitto_sub", "-h", "localhost", "-p", str(broker.port), "--cafile", str(broker.tls.ca),
                               "-u", "ops", "-P", "look", "-v", "-C", "2", "-W", "30",
                               "-t", f"{base}/health", "-t", f"{base}/status"],
                              capture_output=True, text=True, timeout=60)
    got = dict(line.split(" ", 1) for line in retained.stdout.splitlines())
    assert got.get(f"{base}/status") == "offline", retained        # a clean stop says so itself
    assert json.loads(got[f"{base}/health"])["node"] == cfg["node"]["id"], retained
