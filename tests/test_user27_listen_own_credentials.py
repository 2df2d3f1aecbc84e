"""`stad-agent listen -c agent.yaml` with the operator's own user, password and client certificate follows the
gateway without the gateway's credentials (user27: a traffic centre's operator, given the roadside unit's config,
ran `listen -c agent.yaml --username tmc-ops --password-file … --cert-file … --key-file …` and was refused, exit
2, for the gateway's `stad-edge.mqtt-password` and `stad-edge.tls-key` credentials — "give --username and
--password-file", "give --key-file": the options given).

A real Mosquitto with a TLS listener that requires a client certificate and a password file; the operator's
certificate signed by the broker's CA; a real `listen` process; an alert published on the gateway's topic."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env, alert_event, wait_until
from mqtt_broker import make_broker  # noqa: F401 — fixture

pytestmark = pytest.mark.skipif(shutil.which("mosquitto_pub") is None or shutil.which("openssl") is None,
                                reason="mosquitto_pub / openssl are not installed")

OPS_PASSWORD = "tmc-ops-secret-27"


def client_certificate(ca_dir: Path, out: Path, name: str) -> tuple[Path, Path]:
    """A client certificate for `name`, signed by the CA make_broker made in `ca_dir`."""
    key, csr, cert = out / f"{name}.key", out / f"{name}.csr", out / f"{name}.crt"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key),
                    "-out", str(csr)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_dir / "ca.crt"), "-CAkey",
                    str(ca_dir / "ca.key"), "-CAcreateserial", "-days", "2", "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def roadside_config(directory: Path, port: int, ca: Path, gateway_cert: Path) -> Path:
    """configs/roadside.yaml's mqtt sink: the password and the client key as systemd credentials."""
    path = directory / "agent.yaml"
    path.write_text(f"""node: {{id: rs-gw-a10-k012, site: a10-northbound}}
tick_s: 30
topology: corridor
sensors: [K012_flow, K012_occ, K012_speed, K014_flow, K014_occ, K014_speed]
sources:
  - {{type: udp, bind: 127.0.0.1, port: 29927}}
sinks:
  - type: mqtt
    prefix: stad/a10
    broker:
      host: localhost
      port: {port}
      username: rs-gw-a10-k012
      password: {{credential: stad-edge.mqtt-password}}
      tls: {{ca_file: {ca}, cert_file: {gateway_cert}, key_file: stad-edge.tls-key}}
""")
    return path


def test_listen_c_with_the_operators_own_user_and_certificate_needs_no_gateway_credential(tmp_path, make_broker):
    broker = make_broker(users={"tmc-ops": OPS_PASSWORD}, tls=True, conf=["require_certificate true"])
    ca = broker.tls.ca
    gateway_cert, _ = client_certificate(ca.parent, tmp_path, "rs-gw-a10-k012")
    ops_cert, ops_key = client_certificate(ca.parent, tmp_path, "tmc-ops")
    (tmp_path / "ops.pw").write_text(OPS_PASSWORD + "\n")
    cfg = roadside_config(tmp_path, broker.port, ca, gateway_cert)
    env = agent_env(CREDENTIALS_DIRECTORY=str(tmp_path / "not-the-gateway"))    # an operator's machine
    err = tmp_path / "listen.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "listen", "-c", str(cfg), "--username", "tmc-ops",
                             "--password-file", str(tmp_path / "ops.pw"), "--cert-file", str(ops_cert),
                             "--key-file", str(ops_key), "--count", "1", "--timeout", "120"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=err.open("w"), text=True, env=env)
    try:
        assert wait_until(lambda: "following" in err.read_text(), timeout=120, proc=proc), err.read_text()
        said = err.read_text()
        assert "following stad/a10/a10-northbound/rs-gw-a10-k012/alerts" in said, said
        assert "user tmc-ops" in said, said
        event = alert_event("rs-a", 0, "new", node="rs-gw-a10-k012", site="a10-northbound").to_dict()
        subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(broker.port), "--cafile", str(ca),
                        "--cert", str(ops_cert), "--key", str(ops_key), "-u", "tmc-ops", "-P", OPS_PASSWORD,
                        "-q", "1", "-t", "stad/a10/a10-northbound/rs-gw-a10-k012/alerts", "-s"],
                       input=json.dumps(event).encode(), check=True, timeout=60)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.read_text()
    assert "rs-a #0" in out, out
    assert "stad-edge.mqtt-password" not in err.read_text() and "stad-edge.tls-key" not in err.read_text()


def test_without_the_options_the_gateways_missing_credentials_are_still_named(tmp_path, make_broker):
    broker = make_broker(users={"tmc-ops": OPS_PASSWORD}, tls=True, conf=["require_certificate true"])
    gateway_cert, _ = client_certificate(broker.tls.ca.parent, tmp_path, "rs-gw-a10-k012")
    cfg = roadside_config(tmp_path, broker.port, broker.tls.ca, gateway_cert)
    done = subprocess.run([sys.executable, "-m", "agent", "listen", "-c", str(cfg), "--timeout", "5"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env=agent_env(CREDENTIALS_DIRECTORY=str(tmp_path / "not-the-gateway")))
    assert done.returncode == 2, done.stderr
    assert "sinks[0].broker.password: credential 'stad-edge.mqtt-password' is in none of" in done.stderr
    assert "sinks[0].broker.tls.key_file:" in done.stderr and "give --key-file" in done.stderr
