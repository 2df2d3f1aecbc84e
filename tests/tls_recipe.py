"""README's TLS recipe block and a TLS client that trusts its CA alone: shared by the tests that run the recipe
(test_readme_tls_recipe.py, test_user14_broker_files.py)."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

README = Path(__file__).resolve().parent.parent / "README.md"


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
