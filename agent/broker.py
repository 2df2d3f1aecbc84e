"""The MQTT broker settings shared by the mqtt source, the mqtt sink and `stad-agent listen`.

Kept apart from mqtt_client.py (which imports paho) so that a config naming a broker loads on a
gateway without paho installed; the refusal then comes when the source or sink is opened.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .host_checks import Note, credential_problems, path_problems
from .typed import doc, rng

if TYPE_CHECKING:
    from .sources.opcua import OpcUaConfig


def topic_name_problem(part: object, levels: bool = False) -> str | None:
    """Why `part` cannot go into an MQTT topic as a name (None when it can): empty, a wildcard
    (`+`, `#`), a NUL, or — unless `levels` (the prefix may span levels) — a `/` that would add a
    level. node.id and node.site are checked by this at load even without an MQTT sink: they name
    the gateway in alert ids too, and the alert schema wants them non-empty."""
    if not isinstance(part, str):
        return None                     # a wrong type is reported by the typed loader already
    if not part:
        return "must not be empty"
    bad = sorted({c for c in part if c in "+#\0" or (c == "/" and not levels)})
    if bad:
        return f"{part!r} cannot be used in an MQTT topic (it contains {', '.join(repr(c) for c in bad)})"
    return None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether an MQTT topic filter (+ and # wildcards) matches a topic, as a broker matches them (a
    filter opening with a wildcard never matches a `$` topic; `a/#` matches `a` too). Here rather than
    paho's: the config's checks use it, and a config is read without paho."""
    levels, parts = topic_filter.split("/"), topic.split("/")
    if topic.startswith("$") and levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or level not in ("+", parts[i]):
            return False
    return len(levels) == len(parts)


def topic_filter_problem(topic: object) -> str | None:
    """Why `topic` is not a subscription filter a broker takes (None when it is): empty, longer than
    MQTT allows, or a wildcard that is not a whole level (`a/#/b`, `x/+y`). paho refuses such a
    filter only when it subscribes, on its network thread after the connect: the source would then
    stay blind for every topic, so the config's load refuses it."""
    if not isinstance(topic, str):
        return None
    if not topic:
        return "an empty topic filter"
    if len(topic.encode()) > 65535 or "\0" in topic:
        return "not a topic filter (longer than 65535 bytes, or a NUL)"
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"{topic!r}: '#' must be a whole level, and the last"
        if "+" in level and level != "+":
            return f"{topic!r}: '+' must be a whole level"
    return None


#: what a TLS file that cannot be found or read is, said after its path (user25: "…/ca.pem does not exist" left
#: an engineer to guess which CA; README's recipe calls it ca.crt)
BELONGS = {
    "ca_file": ": it is the CA certificate that signed the broker's server certificate (the broker's own `cafile`; "
               "ca.crt in README's TLS recipe), copied onto this gateway",
    "cert_file": ": it is this gateway's client certificate, signed by a CA the broker trusts (only for a broker "
                 "that authenticates clients by certificate: a password login needs no cert_file)",
}


@dataclass
class TlsConfig:
    ca_file: str | None = doc(
        "CA certificate file the broker's certificate is checked against (default: the system's)", default=None)
    cert_file: str | None = doc(
        "client certificate file, for brokers that authenticate clients by certificate", default=None)
    key_file: str | None = doc(
        "the client certificate's key: a path, or a systemd credential name (see `password`)", default=None)
    insecure_skip_verify: bool = doc(
        "do not check the broker's certificate and host name (testing only)", default=False)


@dataclass
class Secret:
    """A secret is never written in the YAML: it comes from a file, the environment or systemd."""
    file: str | None = doc("read the secret from this file", default=None)
    env: str | None = doc("read the secret from this environment variable", default=None)
    credential: str | None = doc(
        "read the secret from a systemd credential of this name (under `$CREDENTIALS_DIRECTORY`, "
        "`LoadCredential=`)", default=None)

    def validate(self) -> list[tuple[str, str]]:
        given = [k for k in ("file", "env", "credential") if getattr(self, k)]
        if len(given) != 1:
            return [("", "give exactly one of file, env, credential")]
        return []


def host_problem(host: str) -> str | None:
    """Why the MQTT client cannot use `host` as a host name, or None. An empty one ended `run` at start
    with paho's bare "Invalid host." after check-config said ok; a URL or "host:port" (as most MQTT
    tools take a broker) was looked up as a name no resolver knows, and the sink retried it forever
    with each outage said as "unreachable"."""
    if not host.strip():
        return "empty: the broker's host name or address (e.g. localhost)"
    if "://" in host:
        scheme, rest = host.split("://", 1)
        netloc = rest.split("/", 1)[0]
        name, port = netloc.split(":") if netloc.count(":") == 1 else (netloc, "")
        fix = f"host: {name}" + (f", port: {port}" if port else "")
        if scheme.lower() in ("mqtts", "ssl", "tls", "wss"):
            fix += ", and a tls block"
        return f"{host!r} is a URL: give the host name alone ({fix})"
    if host.count(":") == 1:
        name, port = host.split(":")
        if port.isdigit():
            return f"{host!r} holds a port: give host: {name} and port: {port}"
    if any(c.isspace() for c in host) or "/" in host:
        return f"{host!r} is no host name: it has a {'space' if any(c.isspace() for c in host) else '/'}"
    return None


def reconnect_order_problems(cfg: BrokerConfig | OpcUaConfig) -> list[tuple[str, str]]:
    """`reconnect_min_s` longer than `reconnect_max_s` (a broker block, an OPC UA source): the delays were taken as they
    came (the first wait min, then max), the config's intent unsaid. One rule for every block with the pair."""
    low, high = cfg.reconnect_min_s, cfg.reconnect_max_s
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if numbers and low > high:
        return [("reconnect_min_s", f"{low:g} s is longer than reconnect_max_s ({high:g} s): the first delay doubles "
                                    "up to the longest, so give min ≤ max")]
    return []


@dataclass
class BrokerConfig:
    host: str = doc("the broker's host name (checked against its TLS certificate)", default="localhost")
    port: int = rng(1, 65535, default=1883, doc="the broker's port")
    protocol: Literal["5", "3.1.1"] = doc("MQTT protocol version, `5` or `3.1.1`", default="5")
    client_id: str | None = doc(
        "MQTT client id (default: derived from site and node, or random for a source)", default=None)
    username: str | None = doc(
        "user name (required with `password`: the client sends one only with the other)", default=None)
    password: Secret | None = doc(
        "the password, never in the YAML: exactly one of `file`, `env`, `credential`; needs `username`",
        default=None)
    tls: TlsConfig | None = doc("TLS settings; absent: no TLS", default=None)
    keepalive_s: int = rng(5, 3600, default=30, doc="MQTT keep-alive interval")
    reconnect_min_s: float = rng(0.1, None, default=1.0,
        doc="first reconnect delay; doubles after each failure")
    reconnect_max_s: float = rng(1, None, default=60.0, doc="longest reconnect delay")
    stable_s: float = rng(0.5, 3600, default=10.0,
        doc="a connection lost within this long of its CONNACK, 3 times in a row, is a flap (another client with "
            "the same client id, a proxy resetting it), said once with its likely cause, not every reconnect; after a "
            "flap the connection is said back once it has held this long (longer for a broker or proxy that drops "
            "connections later than 10 s after accepting them)")

    def validate(self) -> list[tuple[str, str]]:
        out = [("host", problem)] if isinstance(self.host, str) and (problem := host_problem(self.host)) else []
        # The client sends a password only with a user name: without one it was dropped without a word,
        # and the broker saw an anonymous client (refused, or worse, admitted with anonymous rights).
        if isinstance(self.password, Secret) and self.username is None:
            out.append(("password", "given without username: the client sends a password only with a user name "
                                    "(set username too)"))
        out += [(key, problem) for key in ("client_id", "username") if isinstance(getattr(self, key), str)
                and (problem := mqtt_string_problem(getattr(self, key), key))]
        return out + reconnect_order_problems(self)

    def preflight(self, resolve) -> list[tuple[str, str]]:
        """The secret and TLS files this broker needs, as `run` will look for them."""
        out: list[tuple[str, str]] = []
        secret = self.password
        if secret is not None:
            if secret.env and os.environ.get(secret.env) is None:
                out.append(("password.env", f"environment variable {secret.env} is not set"))
            elif secret.env and (problem := mqtt_string_problem(os.environ[secret.env], f"${secret.env}")):
                out.append(("password.env", problem))
            if secret.file:
                path = resolve(secret.file)
                out += [("password.file", m) for m in path_problems(path, want_file=True) or secret_text_problems(path)]
            if secret.credential:
                out += [("password.credential", m) for m in credential_problems(secret.credential)]
        tls = self.tls
        if tls is not None:
            for key in ("ca_file", "cert_file"):
                if getattr(tls, key):
                    out += [(f"tls.{key}", m if isinstance(m, Note) else f"{m}{BELONGS[key]}")
                            for m in path_problems(resolve(getattr(tls, key)), want_file=True)]
            if tls.key_file:
                path = resolve(tls.key_file)
                # A path, else the name of a systemd credential (as mqtt_client reads it).
                # A credential store this shell cannot search is no problem here: tls_load_problems
                # then notes that the key was not checked.
                if not path.is_file() and (os.sep in tls.key_file or any(
                        not isinstance(m, Note) for m in credential_problems(tls.key_file))):
                    out.append(("tls.key_file", f"{path} does not exist, and no credential of that name was found"))
            if all(isinstance(m, Note) for _, m in out):
                out += tls_load_problems(tls, resolve)
        return out


def not_text(path: Path, exc: UnicodeDecodeError) -> str:
    return (f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}): the password is "
            "read as text")


def secret_text_problems(path: Path) -> list[str]:
    """A secret file the client reads as UTF-8 text (agent/mqtt_client.py read_secret): one that is not text
    passed check-config and `run` ended at its start, exit 1 (chaos3); one longer than an MQTT password can be
    (mqtt_string_problem)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return [not_text(path, exc)]
    except OSError:
        return []                       # path_problems said what it could
    problem = mqtt_string_problem(text.rstrip("\r\n"), f"the password in {path}")
    return [problem] if problem else []


#: the longest string MQTT carries (a client id, a user name, a password, a topic): its length is two bytes
MQTT_STRING_BYTES = 65_535


def mqtt_string_problem(text: str, what: str) -> str | None:
    """Why `text` cannot go into an MQTT CONNECT, or None. paho packs a longer one with a struct error raised in its
    network thread, which then ends without a word: the client never connects, no outage is said, and every alert
    waits in the outbox for good (review39: a password file pointed at a CA bundle, 200 kB)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= MQTT_STRING_BYTES:
        return None
    return f"{what} is {size:,} bytes: MQTT carries at most {MQTT_STRING_BYTES:,} (is it the right file?)"


def tls_load_problems(tls: TlsConfig, resolve) -> list[tuple[str, str]]:
    """Load the CA and the client certificate and key as the MQTT client will (files that exist but
    are not PEM, a key that does not match its certificate, a key that needs a pass phrase): the
    client would raise at start with OpenSSL's words and no key path."""
    import ssl                          # only with TLS configured
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    out: list[tuple[str, str]] = []
    if tls.ca_file:
        path = resolve(tls.ca_file)
        try:
            context.load_verify_locations(str(path))
        except (ssl.SSLError, OSError) as exc:
            out.append(("tls.ca_file", f"{path}: not a usable PEM CA certificate ({_ssl_words(exc)})"))
    if tls.cert_file:
        cert = resolve(tls.cert_file)
        key = key_path(tls.key_file, resolve) if tls.key_file else None
        if key is not None and not os.access(key, os.R_OK):
            # A key this shell cannot read (check-config run outside the service: a systemd credential
            # in /etc/credstore, a file only the service's user may read): the certificate alone can
            # be checked, and check-config says the key was not.
            try:
                context.load_verify_locations(str(cert))
            except (ssl.SSLError, OSError) as exc:
                out.append(("tls.cert_file", f"{cert}: not a usable PEM certificate ({_ssl_words(exc)})"))
            why = (f"{key} is not readable by this shell (uid {os.geteuid()})" if Path(key).exists() else
                   f"credential {tls.key_file!r} is handed to the service by systemd ($CREDENTIALS_DIRECTORY is "
                   "not set here)")
            out.append(("tls.key_file", Note(
                f"{why}: only tls.cert_file was checked, not the key with it; run check-config as the "
                "service's user, with its credentials, to check the key too")))
            return out
        try:
            context.load_cert_chain(str(cert), key, password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            where = "tls.cert_file" if key is None else "tls.key_file"
            out.append((where, f"{cert}{f' with key {key}' if key else ''}: not a usable PEM certificate and "
                               f"unencrypted key that belong together ({_ssl_words(exc)})"))
    elif tls.key_file:
        out.append(("tls.key_file", "a client key without tls.cert_file is never used: give both or neither"))
    return out


def key_path(key_file: str, resolve) -> str:
    """The TLS client key: a path, else the systemd credential of that name."""
    path = Path(resolve(key_file))
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    return str(path if path.is_file() or not directory else Path(directory) / key_file)


def _ssl_words(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else (getattr(exc, "strerror", None) or str(exc))


__all__ = ["BrokerConfig", "Secret", "TlsConfig", "key_path"]
