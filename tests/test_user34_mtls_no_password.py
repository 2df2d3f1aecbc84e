"""user34: a broker that admits by client certificate alone (mutual TLS, no password file; the certificate's CN is the
user) — docs/deploying.md's paragraph, which user34 had to guess: the mqtt sink's `tls` with `ca_file`, `cert_file` and
`key_file` and no `username` / `password`. The real agent polling a real Modbus device reaches a real Mosquitto with
`require_certificate true` and `use_identity_as_username true`, and a SCADA-side client with a certificate of its own
reads the agent's retained health, valid against agent/schemas/health.schema.json; a client without a certificate is
refused."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from modbus_device import ModbusServer
from mqtt_broker import MOSQUITTO, make_broker  # noqa: F401 — make_broker: the fixture

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
              pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_sub") is None,
                                 reason="mosquitto / mosquitto_sub are not installed")]


def client_certificate(directory: Path, ca: Path, name: str) -> tuple[Path, Path]:
    """README's client-certificate recipe: a key and a certificate for CN `name`, signed by the broker's test CA."""
    key, csr, crt, ext = (directory / f"{name}.{x}" for x in ("key", "csr", "crt", "ext"))
    ext.write_text("extendedKeyUsage=clientAuth\n")
    for args in (["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr],
                 ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca.with_name("ca.key"), "-CAcreateserial",
                  "-days", "2", "-extfile", ext, "-out", crt]):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return crt, key


def test_an_agent_admitted_by_its_certificate_alone_publishes_what_a_scada_client_reads(tmp_path, make_broker):
    broker = make_broker(tls=True, conf=["require_certificate true", "use_identity_as_username true",
                                         "allow_anonymous false"])
    gw_crt, gw_key = client_certificate(tmp_path, broker.tls.ca, "ps7-gw-01")
    scada_crt, scada_key = client_certificate(tmp_path, broker.tls.ca, "scada")
    with ModbusServer({0: 420, 1: 800, 2: 4200}) as plc:
        cfg = {"node": {"id": "ps7-gw-01", "site": "ps7"}, "tick_s": 1,
               "sensors": [{"name": "PT201_downstream", "group": "station"}, {"name": "FT201_flow", "group": "station"},
                           {"name": "M1_current", "group": "station"}],
               "sources": [{"type": "modbus", "host": "127.0.0.1", "port": plc.port, "poll_s": 1,
                            "registers": {"PT201_downstream": 0, "FT201_flow": 1, "M1_current": 2},
                            "scale": {"PT201_downstream": 0.01, "FT201_flow": 0.1, "M1_current": 0.01}}],
               "scoring": {"chain": ["numpy"]}, "state_dir": str(tmp_path / "state"),
               "sinks": [{"type": "mqtt", "prefix": "water/stad",
                          "broker": {"host": "localhost", "port": broker.port,
                                     "tls": {"ca_file": str(broker.tls.ca), "cert_file": str(gw_crt),
                                             "key_file": str(gw_key)}}}]}
        path = tmp_path / "agent.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        env = {"PATH": "/usr/bin:/bin"}
        checked = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], cwd=REPO,
                                 capture_output=True, text=True, timeout=300, env=env)
        assert checked.returncode == 0, checked.stderr
        ran = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path), "--max-ticks", "3"], cwd=REPO,
                             capture_output=True, text=True, timeout=300, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "cannot use broker" not in ran.stderr, ran.stderr
    base = "water/stad/ps7/ps7-gw-01"
    sub = ["mosquitto_sub", "-h", "localhost", "-p", str(broker.port), "--cafile", str(broker.tls.ca), "-v", "-C", "2",
           "-W", "30", "-t", f"{base}/health", "-t", f"{base}/status"]
    retained = subprocess.run([*sub, "--cert", str(scada_crt), "--key", str(scada_key)], capture_output=True,
                              text=True, timeout=60)
    got = dict(line.split(" ", 1) for line in retained.stdout.splitlines())
    assert got.get(f"{base}/status") == "offline", retained
    schema = json.loads((REPO / "agent" / "schemas" / "health.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(got[f"{base}/health"]))
    anonymous = subprocess.run(sub, capture_output=True, text=True, timeout=60)
    assert anonymous.returncode != 0 and not anonymous.stdout, anonymous     # no certificate: not admitted
