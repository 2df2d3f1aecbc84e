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
from pathlib import Path

import pytest

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
