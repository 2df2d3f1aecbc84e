"""README's recipe for a CA, a broker certificate and a password (user12 had to guess one) works as written.

The `sh` block after README's `tls-recipe` marker is run as it stands in an empty directory — the broker's name
`broker.example` read as `localhost`, the one name a test may reach — then a real Mosquitto is started with the
files it made (listener with cafile / certfile / keyfile, password_file, no anonymous) on a free 127.0.0.1 port,
and a client that trusts only the recipe's `ca.crt` connects by that name with the recipe's user and password:
the chain, the name and the password are all checked (a wrong password is refused, as a control)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from mqtt_broker import MOSQUITTO, TlsFiles, make_broker, start_fresh  # noqa: F401 — make_broker: the fixture
from tls_recipe import connects, recipe

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
              pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_passwd") is None,
                                 reason="mosquitto / mosquitto_passwd are not installed")]


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
