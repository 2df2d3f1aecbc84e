"""The shipped gateway configs against the shipped systemd unit: what a config needs from the
service must be something the unit gives it. A credential the unit does not load passes
`check-config` from a root shell (it looks in /etc/credstore) and then stops the service at
start (exit 2: not in $CREDENTIALS_DIRECTORY); a private key in the config directory is either
readable by everyone or by no one the service runs as (DynamicUser=yes: there is no fixed user
to own it)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "stad-agent.service"
# The configs meant for a gateway under the unit (demo, skab and nab are workstation configs).
GATEWAY_CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml")
                         if p.name not in ("demo.yaml", "skab.yaml", "nab.yaml"))


def unit_values(key: str) -> list[str]:
    out = []
    for line in UNIT.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name == key:
            out.append(value)
    return out


def walk(node, path=""):
    """(key path, value) of every scalar in a YAML document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")
    else:
        yield path, node


def test_there_are_gateway_configs():
    assert {p.name for p in GATEWAY_CONFIGS} >= {"roadside.yaml", "industrial.yaml", "industrial-opcua.yaml"}


@pytest.mark.parametrize("config", GATEWAY_CONFIGS, ids=lambda p: p.name)
def test_every_credential_a_gateway_config_names_is_loaded_by_the_unit(config):
    loaded = {v.split(":", 1)[0] for v in unit_values("LoadCredential")}
    doc = yaml.safe_load(config.read_text())
    named = {(path, value) for path, value in walk(doc) if path.endswith(".credential")}
    assert named, f"{config.name} names no credential"
    for path, value in sorted(named):
        assert value in loaded, f"{config.name}: {path}: credential {value!r} is not loaded by the unit"


@pytest.mark.parametrize("config", GATEWAY_CONFIGS, ids=lambda p: p.name)
def test_no_private_key_of_a_gateway_config_lies_where_the_service_user_cannot_own_it(config):
    assert unit_values("DynamicUser") == ["yes"] and unit_values("ConfigurationDirectory") == ["stad-edge"]
    state = "/var/lib/" + unit_values("StateDirectory")[0] + "/"
    doc = yaml.safe_load(config.read_text())
    for path, value in walk(doc):
        if path.endswith((".private_key", ".key_file")) and isinstance(value, str) and value.startswith("/"):
            assert value.startswith(state), (
                f"{config.name}: {path}: {value} — a key file must be in the state directory ({state}), "
                "which systemd gives to the service's dynamic user, or a credential")
