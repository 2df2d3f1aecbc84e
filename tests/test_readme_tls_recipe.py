"""README's recipe for a CA, a broker certificate and a password (user12 had to guess one) works as written.

The `sh` block after README's `tls-recipe` marker is run as it stands in an empty directory — the broker's name
`broker.example` read as `localhost`, the one name a test may reach — then a real Mosquitto is started with the
files it made (listener with cafile / certfile / keyfile, password_file, no anonymous) on a free 127.0.0.1 port,
and a client that trusts only the recipe's `ca.crt` connects by that name with the recipe's user and password:
the chain, the name and the password are all checked (a wrong password is refused, as a control)."""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_broker import MOSQUITTO, TlsFiles, make_broker, start_fresh  # noqa: F401 — make_broker: the fixture

README = Path(__file__).resolve().parent.parent / "README.md"

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
              pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_passwd") is None,
                                 reason="mosquitto / mosquitto_passwd are not installed")]


def recipe() -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- tls-recipe[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert m, "README has no tls-recipe block"
    return m.group(1)


def connects(port: int, ca: Path, user: str, password: str) -> int:
    """The CONNACK's reason code of a TLS connection to localhost:port trusting `ca` alone (0: accepted)."""
    answered, code = threading.Event(), []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"recipe-{user}")
    client.tls_set(ca_certs=str(ca))
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, flags, rc, props=None: (code.append(rc.value), answered.set())
    client.connect("localhost", port, keepalive=30)
    client.loop_start()
    try:
        assert answered.wait(60), "no CONNACK in 60 s"
    finally:
        client.loop_stop()
        client.disconnect()
    return code[0]


def test_the_readme_tls_recipe_makes_a_broker_a_gateway_can_trust(make_broker):
    broker = make_broker(start=False)           # its own directory, which the mosquitto user may read
    made = broker.dir
    subprocess.run(["bash", "-euo", "pipefail", "-c", recipe().replace("broker.example", "localhost")],
                   cwd=made, check=True, capture_output=True)
    password = (made / "gateway-01.password").read_text().strip()
    assert len(password) >= 24
    broker.password_file = made / "passwd"
    broker.tls = TlsFiles(ca=made / "ca.crt", cert=made / "broker.crt", key=made / "broker.key")
    start_fresh(broker)
    assert connects(broker.port, made / "ca.crt", "gateway-01", password) == 0
    assert connects(broker.port, made / "ca.crt", "gateway-01", password + "x") != 0
