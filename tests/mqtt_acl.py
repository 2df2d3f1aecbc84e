"""A real Mosquitto that refuses by ACL, per user, as a gateway's broker does (qa27).

Mosquitto's `acl_file` (tests/mqtt_broker.py's `acl=`) never refuses a SUBSCRIBE: 2.0.11 grants every
filter and then delivers nothing the user may not read — a subscriber cannot see it. Its dynamic-security
plugin (in Debian's mosquitto package) checks subscriptions and answers a denied one in the SUBACK: 0x87
(MQTT 5) or 0x80 (3.1.1). So this broker runs that plugin with a config file written here: users with a
password and roles; every topic a role does not allow is denied (no default publish or subscribe).

    broker = make_acl_broker({"gw": {"read": ["plant/a"], "write": ["stad/#"]}})
    broker.allow("gw", read=["plant/b"])       # while it runs, through the plugin's $CONTROL topic

Every user's password is PASSWORD. Skipped, saying why, without mosquitto or the plugin.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_broker import MOSQUITTO, Mosquitto, free_port, start_fresh

PLUGIN = next((p for p in ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                           "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
                           "/usr/lib/mosquitto_dynamic_security.so") if os.path.exists(p)), None)
PASSWORD = "acl-pw"
ADMIN = "dynsec-admin"


def _client(user: str, roles: list[str]) -> dict:
    """A dynamic-security client entry: PBKDF2-SHA512, 101 iterations, as `mosquitto_ctrl dynsec` writes it."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 101, 64)
    return {"username": user, "password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": 101, "roles": [{"rolename": r} for r in roles]}


def _acls(read=(), write=()) -> list[dict]:
    return ([{"acltype": "subscribePattern", "topic": t, "allow": True} for t in read]
            + [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in write])


class AclMosquitto(Mosquitto):
    """Mosquitto with the dynamic-security plugin: `users` maps a user to {"read": [...], "write": [...]}."""
    users: dict

    def write_config(self) -> None:
        security = self.dir / "dynsec.json"
        if not security.exists():       # the plugin saves its changes there: a restart keeps them
            admin = [{"acltype": k, "topic": "$CONTROL/dynamic-security/#", "allow": True}
                     for k in ("publishClientSend", "publishClientReceive", "subscribePattern")]
            security.write_text(json.dumps({
                "clients": [_client(ADMIN, ["admin"])] + [_client(u, [u]) for u in self.users],
                "roles": [{"rolename": "admin", "acls": admin}]
                         + [{"rolename": u, "acls": _acls(**rights)} for u, rights in self.users.items()],
                "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True,
                                     "subscribe": False, "unsubscribe": True}}))
        self.conf.write_text("\n".join([
            f"listener {self.port} 127.0.0.1", f"log_dest file {self.log_file}", "log_type error",
            "log_type warning", "log_type notice", "log_type information", "allow_anonymous false",
            f"plugin {PLUGIN}", f"plugin_opt_config_file {security}"]) + "\n")

    def allow(self, user: str, read=(), write=()) -> None:
        """Add to the user's role while the broker runs (`mosquitto_ctrl dynsec addRoleACL`)."""
        for acl in _acls(read, write):
            subprocess.run(["mosquitto_ctrl", "-h", "127.0.0.1", "-p", str(self.port), "-u", ADMIN, "-P", PASSWORD,
                            "dynsec", "addRoleACL", user, acl["acltype"], acl["topic"], "allow"],
                           check=True, capture_output=True, timeout=30)


@pytest.fixture
def make_acl_broker():
    """Factory: make_acl_broker(users) → a started AclMosquitto; killed at teardown."""
    if MOSQUITTO is None or PLUGIN is None or shutil.which("mosquitto_ctrl") is None:
        pytest.skip("mosquitto with its dynamic-security plugin is not installed (apt-get install mosquitto "
                    "mosquitto-clients)")
    started: list[AclMosquitto] = []

    def make(users: dict[str, dict]) -> AclMosquitto:
        broker = AclMosquitto(dir=Path(tempfile.mkdtemp(prefix="stad-acl-mosquitto-")), port=free_port())
        broker.users = users
        started.append(broker)
        start_fresh(broker)
        return broker

    yield make
    for broker in started:
        broker.kill()
        shutil.rmtree(broker.dir, ignore_errors=True)


class Watcher:
    """User `watch` subscribed to `topics` (a filter) and `marker`: what arrives, in order."""

    def __init__(self, port: int, topics: str):
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{free_port()}")
        self.client.username_pw_set("watch", PASSWORD)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._note("(subscribed)", b"")
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(topics, 1), ("marker", 1)])
        self.client.loop_start()
        assert self.wait(lambda ms: ("(subscribed)", b"") in ms)

    def _note(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.messages.append((topic, payload))
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg) -> None:
        self._note(msg.topic, msg.payload)

    def wait(self, predicate, timeout: float = 30.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(list(self.messages)), timeout)

    def after_marker(self, n: int) -> list[tuple[str, bytes]]:
        """Publish marker `n` and wait for it: what the broker routed before it has arrived before it."""
        self.client.publish("marker", str(n), qos=1)
        assert self.wait(lambda ms: ("marker", str(n).encode()) in ms)
        with self.cond:
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def gateway_sink(tmp_path: Path, port: int, node: str, site: str, protocol: str = "5"):
    """The agent's MQTT sink as user `gw` (password PASSWORD), its state in tmp_path/state."""
    from agent import config
    from agent.sinks.mqtt import MqttSink
    (tmp_path / "gw.pw").write_text(PASSWORD + "\n")
    broker = {"host": "127.0.0.1", "port": port, "protocol": protocol, "username": "gw",
              "password": {"file": str(tmp_path / "gw.pw")}, "reconnect_min_s": 0.1, "reconnect_max_s": 1.0}
    cfg = config.from_dict({"node": {"id": node, "site": site}, "sensors": ["pressure", "flow"],
                            "sources": [{"type": "stdin"}], "state_dir": str(tmp_path / "state"),
                            "sinks": [{"type": "mqtt", "broker": broker, "health_interval_s": 1}]})
    return MqttSink(cfg.sinks[0], cfg.sink_context())
