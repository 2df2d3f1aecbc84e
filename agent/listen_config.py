"""`stad-agent listen -c agent.yaml`: the broker, topics and credentials of a gateway config's MQTT sink.

Why: whoever checks a gateway's alerts from the gateway itself otherwise retypes what its config already
holds — host, port, CA, client certificate, user and password — and guesses the rest: user13's first
`listen --ca-file …` retried localhost:8883 (listen's TLS default) for ever while the broker listened on
28883, the port in the config. With `-c`, listen follows the config's node (its site and id) at its broker,
under its prefix, as the agent publishes them; every option given on the command line overrides the
config's. The config is read as `check-config --static` reads it: the machine checks of a running gateway
(its UDP port is in use: by the agent) are not listen's business; the files listen needs are checked by
listen (`file_problems`).

Paths are made absolute from the config file's directory, as the agent resolves them. A password or client
key given as a systemd credential is read where systemd would take it from: `$CREDENTIALS_DIRECTORY` when set
(a unit running listen), else the credential stores LoadCredential= searches (/etc/credstore, … : a root
shell on the gateway).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .broker import BrokerConfig, Secret
from .host_checks import CREDSTORE_DIRS, find_credential
from .typed import ConfigError


@dataclass
class GatewayBroker:
    """What listen takes from a gateway config: the MQTT sink's broker (paths absolute, credentials as
    files), its topic prefix, and the node's site and id."""
    broker: BrokerConfig
    prefix: str
    site: str
    node: str
    where: str          # "agent.yaml's mqtt sink (sinks[1])", for the log line


def gateway_broker(path: str, *, own_password: bool = False, own_key: bool = False) -> GatewayBroker:
    """The MQTT sink of the config at `path`. Raises ConfigError (its problems, each a line) when the config
    cannot be loaded, has no mqtt sink, or names a credential that cannot be found from here — but not one the
    command line replaces: `own_password` (--username or --password-file given: listen does not send the
    gateway's password), `own_key` (--key-file given). user27: a centre's operator with their own user and
    client certificate, following a gateway by its config, was refused for the gateway's credentials, the
    message asking for the very options given."""
    from . import config
    from .sinks.mqtt import MqttSinkConfig
    cfg = config.load(path)
    sinks = [(i, s) for i, s in enumerate(cfg.sinks) if isinstance(s, MqttSinkConfig)]
    if not sinks:
        kinds = ", ".join(s.TYPE for s in cfg.sinks) or "none"
        raise ConfigError(path, [f"sinks: no mqtt sink (it has: {kinds}): listen -c takes the broker from the "
                                 "config's mqtt sink; give --host and --port (and --ca-file, --username, "
                                 "--password-file) instead"])
    i, sink = sinks[0]                  # one per agent (MqttSinkConfig.ONE_PER_AGENT)
    b = sink.broker
    problems: list[str] = []
    password = None
    if b.password is not None and not own_password:
        password, problem = _secret_as_file(b.password, cfg.resolve)
        if problem:
            problems.append(f"sinks[{i}].broker.password: {problem}")
    tls = None
    if b.tls is not None:
        key = None
        if b.tls.key_file and not own_key:
            key, problem = _key_file(b.tls.key_file, cfg.resolve)
            if problem:
                problems.append(f"sinks[{i}].broker.tls.key_file: {problem}")
        tls = replace(b.tls, ca_file=_absolute(b.tls.ca_file, cfg.resolve),
                      cert_file=_absolute(b.tls.cert_file, cfg.resolve), key_file=key)
    if problems:
        raise ConfigError(path, problems)
    # The sink's broker as it is but for its paths and credentials: a key added to BrokerConfig is carried too
    # (before, each key was copied by hand and `stable_s` was not: mqttsrc5)
    broker = replace(b, password=password, tls=tls)
    return GatewayBroker(broker=broker, prefix=sink.prefix, site=cfg.node.site, node=cfg.node.id,
                         where=f"{path}'s mqtt sink (sinks[{i}])")


def _absolute(path: str | None, resolve) -> str | None:
    return None if path is None else str(resolve(path))


def _secret_as_file(secret: Secret, resolve) -> tuple[Secret | None, str | None]:
    """The config's secret for listen: a file (absolute), an environment variable (as it is: listen's own
    environment), a credential (the file systemd would hand the service); (None, why) when not found."""
    if secret.file:
        return Secret(file=str(resolve(secret.file))), None
    if secret.env:
        return Secret(env=secret.env), None
    found, _ = find_credential(secret.credential)
    if found is None:
        return None, _no_credential(secret.credential, "--username and --password-file")
    return Secret(file=str(found)), None


def _key_file(key: str, resolve) -> tuple[str | None, str | None]:
    """The client key: a path from the config's directory, else a systemd credential of that name (as the
    agent's MQTT client takes it: broker.key_path)."""
    path = resolve(key)
    if path.is_file():
        return str(path), None
    found, _ = find_credential(key)
    if found is None:
        return None, f"{path} does not exist, and " + _no_credential(key, "--key-file")
    return str(found), None


def _no_credential(name: str, option: str) -> str:
    where = os.environ.get("CREDENTIALS_DIRECTORY") or ", ".join(CREDSTORE_DIRS)
    return (f"credential {name!r} is in none of {where} that this user (uid {os.geteuid()}) can read: run listen "
            f"as root on the gateway, or give {option}")


__all__ = ["GatewayBroker", "gateway_broker"]
