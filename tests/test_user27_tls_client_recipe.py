"""README's recipe for a gateway's client certificate (user27: roadside.yaml and its deploy steps name
`rs-gw-a10-k012.crt` and `gateway.key`, and nothing said how to make them) works as written.

README's `tls-recipe` block then its `tls-client-recipe` block are run as they stand in an empty directory (the
broker's name `broker.example` read as `localhost`); a real Mosquitto is started with the files they made and
`require_certificate true`, as README says; `stad-agent listen --timeout` (the agent's own MQTT client) connects
with the recipe's certificate, key, user and password. The control — the same without the certificate — is refused."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env
from mqtt_broker import MOSQUITTO, TlsFiles, make_broker, start_fresh  # noqa: F401 — make_broker: the fixture
from tls_recipe import README, recipe

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
              pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_passwd") is None,
                                 reason="mosquitto / mosquitto_passwd are not installed")]


def client_recipe() -> str:
    m = re.search(r"<!-- tls-client-recipe[^>]*-->\s*```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert m, "README has no tls-client-recipe block"
    return m.group(1)


def listen(made: Path, port: int, *tls: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "listen", "--host", "localhost", "--port", str(port),
                           "--ca-file", str(made / "ca.crt"), *tls, "--username", "gateway-01", "--password-file",
                           str(made / "gateway-01.password"), "--timeout", "8"],
                          capture_output=True, text=True, timeout=180, env=agent_env())


def test_the_readme_client_certificate_recipe_makes_a_gateway_a_broker_requiring_one_admits(make_broker):
    broker = make_broker(start=False, conf=["require_certificate true"])
    made = broker.dir
    script = recipe().replace("broker.example", "localhost") + client_recipe()
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=made, check=True, capture_output=True)
    assert (made / "rs-gw-a10-k012.crt").is_file() and (made / "gateway.key").is_file()
    broker.password_file = made / "passwd"
    broker.tls = TlsFiles(ca=made / "ca.crt", cert=made / "broker.crt", key=made / "broker.key")
    start_fresh(broker)
    admitted = listen(made, broker.port, "--cert-file", str(made / "rs-gw-a10-k012.crt"),
                      "--key-file", str(made / "gateway.key"))
    assert admitted.returncode == 0, admitted.stderr
    assert "following" in admitted.stderr, admitted.stderr
    refused = listen(made, broker.port)
    assert refused.returncode != 0, refused.stderr
