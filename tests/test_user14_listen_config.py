"""`stad-agent listen -c agent.yaml` takes the broker, prefix, site, node, TLS files and credentials from the
gateway config's mqtt sink (user13: `listen --ca-file` retried localhost:8883 for ever, the broker being on the
config's 28883). A real Mosquitto with a TLS listener on a free port and a password file; a real `listen`
process; the alert events published with mosquitto_pub as the gateway's user, on the config's topics."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env, alert_event, wait_until
from mqtt_broker import make_broker  # noqa: F401 — fixture

PASSWORD = "pump-skid-secret-14"

pytestmark = pytest.mark.skipif(shutil.which("mosquitto_pub") is None or shutil.which("openssl") is None,
                                reason="mosquitto_pub / openssl are not installed")


def gateway_config(directory: Path, port: int, ca: Path, password: dict, sinks_extra: str = "") -> Path:
    """A gateway config as README's example has it, the mqtt sink on `port` with TLS and a user; relative
    paths (the CA file, a password file) from the config's directory, as the agent resolves them."""
    shutil.copy(ca, directory / "ca.crt")
    secret = ", ".join(f"{k}: {v}" for k, v in password.items())
    path = directory / "agent.yaml"
    path.write_text(f"""node: {{id: skid14-gw, site: pumphouse}}
sensors:
  - {{name: pressure, group: pump}}
  - {{name: flow, group: pump}}
sources:
  - {{type: udp, bind: 127.0.0.1, port: 29914}}
sinks:
  - type: terminal{sinks_extra}
  - type: mqtt
    prefix: plant14/stad
    broker:
      host: localhost
      port: {port}
      username: gateway-14
      password: {{{secret}}}
      tls: {{ca_file: ca.crt}}
""")
    return path


def publish(port: int, ca: Path, topic: str, payload: dict) -> None:
    subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(port), "--cafile", str(ca), "-u", "gateway-14",
                    "-P", PASSWORD, "-q", "1", "-t", topic, "-s"], input=json.dumps(payload).encode(), check=True,
                   timeout=60)


def listen(cwd: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    err = cwd / "listen.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "listen", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=err.open("w"), text=True, env=env or agent_env())
    return proc, err


def wait_following(proc, err: Path) -> str:
    assert wait_until(lambda: "following" in err.read_text(), timeout=120, proc=proc), err.read_text()
    return err.read_text()


@pytest.fixture
def tls_broker(make_broker):
    return make_broker(users={"gateway-14": PASSWORD}, tls=True)


def test_listen_c_follows_the_gateway_at_its_broker_with_its_tls_and_password(tmp_path, tls_broker):
    (tmp_path / "gateway-14.pw").write_text(PASSWORD + "\n")
    cfg = gateway_config(tmp_path, tls_broker.port, tls_broker.tls.ca, {"file": "gateway-14.pw"})
    elsewhere = tmp_path / "elsewhere"          # run from another directory: the config's paths are its own
    elsewhere.mkdir()
    proc, err = listen(elsewhere, "-c", str(cfg), "--count", "1", "--timeout", "120")
    try:
        said = wait_following(proc, err)
        assert f"from {cfg}'s mqtt sink (sinks[1]) and the options given: localhost:{tls_broker.port}, TLS, user " \
               "gateway-14, prefix plant14/stad, site pumphouse, node skid14-gw" in said, said
        assert "following plant14/stad/pumphouse/skid14-gw/alerts" in said, said
        # another node's alert is not this gateway's; then the gateway's own
        publish(tls_broker.port, tls_broker.tls.ca, "plant14/stad/pumphouse/other-gw/alerts",
                alert_event("other-gw-a", 0, "new", node="other-gw", site="pumphouse").to_dict())
        publish(tls_broker.port, tls_broker.tls.ca, "plant14/stad/pumphouse/skid14-gw/alerts",
                alert_event("skid14-gw-a", 0, "new", node="skid14-gw", site="pumphouse").to_dict())
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.read_text()
    assert "skid14-gw-a #0" in out and "other-gw" not in out, out


def test_options_override_the_config_and_a_credential_is_read_where_systemd_keeps_it(tmp_path, tls_broker):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "stad-edge.mqtt-password").write_text(PASSWORD)
    cfg = gateway_config(tmp_path, tls_broker.port, tls_broker.tls.ca, {"credential": "stad-edge.mqtt-password"})
    env = agent_env(CREDENTIALS_DIRECTORY=str(creds))
    proc, err = listen(tmp_path, "-c", str(cfg), "--node", "+", "--count", "2", "--timeout", "120", env=env)
    try:
        said = wait_following(proc, err)
        assert "following plant14/stad/pumphouse/+/alerts" in said, said
        for node in ("other-gw", "skid14-gw"):
            publish(tls_broker.port, tls_broker.tls.ca, f"plant14/stad/pumphouse/{node}/alerts",
                    alert_event(f"{node}-a", 0, "new", node=node, site="pumphouse").to_dict())
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.read_text()
    assert "other-gw-a #0" in out and "skid14-gw-a #0" in out, out
    # A port given overrides the config's: nothing listens there, so a short timeout is a failed connectivity check.
    wrong = str(tls_broker.port + 1 if tls_broker.port < 65535 else tls_broker.port - 1)
    done = subprocess.run([sys.executable, "-m", "agent", "listen", "-c", str(cfg), "--port", wrong, "--timeout", "3"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and f"localhost:{wrong}" in done.stderr, done.stderr


def test_a_config_without_an_mqtt_sink_or_its_credential_is_a_clear_error(tmp_path, tls_broker):
    cfg = gateway_config(tmp_path, tls_broker.port, tls_broker.tls.ca, {"credential": "stad-edge.mqtt-password"})
    env = agent_env(CREDENTIALS_DIRECTORY=str(tmp_path / "no-creds"))
    done = subprocess.run([sys.executable, "-m", "agent", "listen", "-c", str(cfg), "--timeout", "5"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "sinks[1].broker.password: credential 'stad-edge.mqtt-password' is in none of" in done.stderr, done.stderr
    text = cfg.read_text()
    cfg.write_text(text[:text.index("  - type: mqtt")])
    done = subprocess.run([sys.executable, "-m", "agent", "listen", "-c", str(cfg), "--timeout", "5"], cwd=tmp_path,
                          capture_output=True, text=True, env=agent_env(), timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"{cfg}: sinks: no mqtt sink (it has: terminal): listen -c takes the broker from the config's mqtt " \
           "sink" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
