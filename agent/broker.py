"""The MQTT broker settings shared by the mqtt source, the mqtt sink and `stad-agent listen`.

Kept apart from mqtt_client.py (which imports paho) so that a config naming a broker loads on a
gateway without paho installed; the refusal then comes when the source or sink is opened.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from .preflight import credential_problems, path_problems
from .typed import rng


@dataclass
class TlsConfig:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None       # a path, or a credential name (see Secret)
    insecure_skip_verify: bool = False


@dataclass
class Secret:
    """A secret is never written in the YAML: it comes from a file, the environment or systemd."""
    file: str | None = None
    env: str | None = None
    credential: str | None = None     # a name under $CREDENTIALS_DIRECTORY (systemd LoadCredential=)

    def validate(self) -> list[tuple[str, str]]:
        given = [k for k in ("file", "env", "credential") if getattr(self, k)]
        if len(given) != 1:
            return [("", "give exactly one of file, env, credential")]
        return []


@dataclass
class BrokerConfig:
    host: str = "localhost"
    port: int = rng(1, 65535, default=1883)
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str | None = None
    username: str | None = None
    password: Secret | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = rng(5, 3600, default=30)
    reconnect_min_s: float = rng(0.1, None, default=1.0)
    reconnect_max_s: float = rng(1, None, default=60.0)

    def preflight(self, resolve) -> list[tuple[str, str]]:
        """The secret and TLS files this broker needs, as `run` will look for them."""
        out: list[tuple[str, str]] = []
        secret = self.password
        if secret is not None:
            if secret.env and os.environ.get(secret.env) is None:
                out.append(("password.env", f"environment variable {secret.env} is not set"))
            if secret.file:
                out += [("password.file", m) for m in path_problems(resolve(secret.file), want_file=True)]
            if secret.credential:
                out += [("password.credential", m) for m in credential_problems(secret.credential)]
        tls = self.tls
        if tls is not None:
            for key in ("ca_file", "cert_file"):
                if getattr(tls, key):
                    out += [(f"tls.{key}", m) for m in path_problems(resolve(getattr(tls, key)), want_file=True)]
            if tls.key_file:
                path = resolve(tls.key_file)
                # A path, else the name of a systemd credential (as mqtt_client reads it).
                if not path.is_file() and (os.sep in tls.key_file or credential_problems(tls.key_file)):
                    out.append(("tls.key_file", f"{path} does not exist, and no credential of that name was found"))
        return out


__all__ = ["BrokerConfig", "Secret", "TlsConfig"]
