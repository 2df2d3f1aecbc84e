"""Subscribe to OPC UA variables (needs the `opcua` extra: asyncua, imported when the source is
opened, so a config naming it loads without asyncua).

The plant's own protocol: one subscription with a data-change monitored item per configured
node, sampled by the server every `sampling_interval_ms`; each change becomes a record of
one sensor stamped with the server's source timestamp (the host clock when the server gives
none). A node is a node id (`ns=2;s=Skid1.Pressure`) or a browse path from the root
(`/0:Objects/2:Skid1/2:Pressure`), resolved on every connect: PLC programs renumber ids, not
names. asyncua is asyncio: its loop runs in a thread of this source and hands records over a
queue to the agent's source thread.

While the server is unreachable, or goes away (the connection is checked every
`check_interval_s`), each failed attempt is counted as 'opcua unreachable' and the reconnect
delay doubles from `reconnect_min_s` up to `reconnect_max_s`; each outage is logged once.
A subscription the server ends while the session lives on (its lifetime ran out, it was
transferred, the server deleted it) is no outage but would leave the source connected and
silent. A status change notification ends the session, and the client connects and subscribes
afresh after `reconnect_min_s`; a subscription deleted without a word (the server answers the
next publish BadNoSubscription) is re-made by asyncua's stale-subscription watchdog, which the
keep-alive asked of the server (every KEEPALIVE_S when nothing changes) lets act within
seconds rather than after three quarters of the session timeout. Either way it is logged and
counted as 'opcua subscription ended'.
Subscriptions report changes only: a value that holds (a setpoint, a valve at rest) is given to the agent once a
tick while the server answers, the subscription publishes and the server vouched for it within two keep-alives
(Session._hold), else it would be told `missing`; the nodes silent a keep-alive are read for it in one Read request
(at most the server's MaxNodesPerRead nodes each). A server that revises the publishing interval is asked our
keep-alive again (Session._keep_keepalive): asyncua would otherwise ask 45 min.
A value that is not a number (a string, an array) is counted as 'opcua non-numeric'; a value whose
status the server marks Bad (BadSensorFailure, BadNotConnected, …) as 'opcua bad status', never used
(Uncertain ones are used).

Security: `security` signs (and encrypts) every message with the agent's application
certificate and key (files, like the MQTT sink's TLS files) under one of the policies OPC UA
still recommends (Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss); a server that
accepts clients by certificate admits the agent by it. The server's certificate is pinned with
`server_certificate`, else taken from its endpoint. User authentication: anonymous, or
`username` with a `password` secret (file, env or systemd credential, as for MQTT) — with
`security` the password crosses the wire encrypted.

This module is the plugin (agent/plugins.py): the config and its checks, and the source — its thread, its
reconnect loop and the connection (security, connect, disconnect). What one connected session does (subscribe,
watch, read the silent nodes, hold, turn notifications into records) is agent/sources/opcua_session.py's Session,
imported when a session starts. asyncio, like asyncua, is imported only when the source runs: plugin discovery
imports both modules on every gateway, and the agent does not use asyncio otherwise.
"""
from __future__ import annotations

import itertools
import logging
import queue
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, Literal

from ..broker import Secret, reconnect_order_problems
from ..host_checks import path_problems
from ..plugins import Plugin
from ..records import Record, Rejects, short_repr
from ..typed import doc, rng
from .base import Source, SourceConfig

log = logging.getLogger("stad.opcua")


#: policy name in the config -> asyncua's class name (asyncua.crypto.security_policies)
POLICIES = {"Basic256Sha256": "SecurityPolicyBasic256Sha256",
            "Aes128_Sha256_RsaOaep": "SecurityPolicyAes128Sha256RsaOaep",
            "Aes256_Sha256_RsaPss": "SecurityPolicyAes256Sha256RsaPss"}
DEFAULT_APPLICATION_URI = "urn:stad-edge:agent"
#: the longest the server waits without a change before it sends a keep-alive (keepalive_s): asyncua
#: re-makes a subscription silent for 1.5 times as long (its watchdog)
KEEPALIVE_S = 10.0


@dataclass
class OpcUaSecurity:
    policy: Literal["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] = doc(
        "security policy", default="Basic256Sha256")
    mode: Literal["Sign", "SignAndEncrypt"] = doc("message security mode", default="SignAndEncrypt")
    certificate: str = doc("the agent's application certificate file (DER or PEM); its URI (subject alt name) "
                           "is the agent's application URI", default="")
    private_key: str = doc("the certificate's private key file (PEM, unencrypted; readable by the agent only)",
                           default="")
    server_certificate: str | None = doc(
        "the server's certificate file, pinned; null: the one the server's endpoint presents", default=None)

    def validate(self) -> list[tuple[str, str]]:
        return [(key, "required with security") for key in ("certificate", "private_key")
                if isinstance(getattr(self, key), str) and not getattr(self, key)]

    def preflight(self, resolve) -> list[tuple[str, str]]:
        return [(key, m) for key in ("certificate", "private_key", "server_certificate") if getattr(self, key)
                for m in path_problems(resolve(getattr(self, key)), want_file=True)]


@dataclass
class OpcUaConfig(SourceConfig):
    TYPE: ClassVar[str] = "opcua"
    endless: ClassVar[bool] = True
    url: str = doc("the server, `opc.tcp://host:port[/path]`", default="opc.tcp://127.0.0.1:4840")
    nodes: dict[str, str] = doc("sensor → node id (`ns=2;s=Skid1.Pressure`, `ns=3;i=1042`) or browse path "
                                "from the root (`/0:Objects/2:Skid1/2:Pressure`)", default_factory=dict)
    sampling_interval_ms: float = rng(0, None, default=1000.0, doc="how often the server samples each node")
    publishing_interval_ms: float = rng(10, None, default=1000.0, doc="how often the server sends the changes")
    username: str | None = doc("user name (with `password`); null: anonymous", default=None)
    password: Secret | None = doc("the password: `{file}`, `{env}` or `{credential}`, never in the YAML",
                                  default=None)
    timeout_s: float = rng(0.5, 60, default=4.0, doc="connect and request timeout")
    check_interval_s: float = rng(0.1, 60, default=1.0,
                                  doc="the server's state is read this often: a server gone is noticed")
    reconnect_min_s: float = rng(0.1, None, default=1.0, doc="first reconnect delay; doubles on each failure")
    reconnect_max_s: float = rng(1, None, default=60.0, doc="longest reconnect delay")
    security: OpcUaSecurity | None = doc("sign / encrypt with the agent's certificate; null: no security",
                                         default=None)

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"nodes.{sensor}", sensor) for sensor in self.nodes]

    def label(self) -> str:
        return f"opcua {self.url}"

    def validate(self) -> list[tuple[str, str]]:
        out = []
        if isinstance(self.url, str) and not self.url.startswith("opc.tcp://"):
            out.append(("url", f"expected opc.tcp://host:port[/path], got {short_repr(self.url)}"))
        if isinstance(self.nodes, dict) and not self.nodes:
            out.append(("nodes", "at least one sensor -> node id is required"))
        if isinstance(self.nodes, dict):
            out += [(f"nodes.{s}", "expected a node id such as 'ns=2;s=Name' or 'i=2258', or a browse path such "
                                   f"as '/0:Objects/2:Skid1/2:Pressure', got {short_repr(n)}")
                    for s, n in self.nodes.items() if isinstance(n, str) and not _looks_like_node_id(n)
                    and browse_path(n) is None]
        if (self.password is None) != (self.username is None):
            out.append(("password" if self.password is None else "username",
                        "username and password go together"))
        return out + reconnect_order_problems(self)

    def tick_notes(self, tick_s: float) -> list[tuple[str, str]]:
        """An interval asked longer than a tick: each node's value then arrives once an interval and the ticks
        between carry it forward (or, past window.carry_forward_s, are told missing). Session._say_slow_publishing
        says the same of an interval the server grants slower than asked; this is the one the config asks (qa46)."""
        return [(key, f"{ms:g} ms is slower than a tick ({tick_s:g} s): each sensor gets a new value only once "
                      f"every {ms / 1000:g} s and the ticks between carry the last one forward (window.carry_forward_s) "
                      f"or, past that, are told missing; set it to {1000 * tick_s:g} ms or less, or tick_s to "
                      f"{ms / 1000:g} s or more")
                for key, ms in (("sampling_interval_ms", self.sampling_interval_ms),
                                ("publishing_interval_ms", self.publishing_interval_ms))
                if isinstance(ms, (int, float)) and ms > 1000 * tick_s]

    def preflight(self, resolve) -> list[tuple[str, str]]:
        out = [] if self.security is None else [(f"security.{k}", m) for k, m in self.security.preflight(resolve)]
        if self.password is None:
            return out
        from ..broker import BrokerConfig
        return out + BrokerConfig(password=self.password).preflight(resolve)


def keepalive_s(cfg: OpcUaConfig) -> float:
    """The keep-alive asked of the server: 10 × check_interval_s (the config's word for how soon a server gone
    is noticed), at most KEEPALIVE_S (the default check interval, 1 s, gives it) and at least the publishing
    interval."""
    return max(cfg.publishing_interval_ms / 1000, min(KEEPALIVE_S, 10 * cfg.check_interval_s))


def _looks_like_node_id(text: str) -> bool:
    last = text.rsplit(";", 1)[-1]
    return last[:2] in ("i=", "s=", "g=", "b=") and len(last) > 2


def browse_path(text: str) -> list[str] | None:
    """`/0:Objects/2:Skid1/2:Pressure` as asyncua's get_child takes it, or None when it is not one."""
    if not text.startswith("/"):
        return None
    parts = text[1:].split("/")
    ok = all(ns.isdigit() and name for ns, sep, name in (p.partition(":") for p in parts) if sep) \
        and all(":" in p for p in parts)
    return parts if ok and parts != [""] else None


class OpcUaUnreachable(Exception):
    """The server is lost to this session (raised by the Session): reconnect with the back-off."""


class SubscriptionEnded(Exception):
    """The server told the subscription it ended (a status change notification) while the session lived."""


class OpcUaSource(Source):
    TYPE = "opcua"
    live = True

    def __init__(self, cfg: OpcUaConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s, clock)
        _probe()        # fails here, in one line, when the extra is missing or too old
        from .opcua_log import quiet_asyncua
        quiet_asyncua()         # its per-publish INFO lines, and its lines of an outage this source says once
        self.where = f"opcua {cfg.url}"
        self.password = None
        if cfg.password is not None:
            from ..mqtt_client import read_secret
            self.password = read_secret(cfg.password, self.resolve)
        # what outlives a session (agent/sources/opcua_session.py Session: the rest)
        self.stopping = threading.Event()       # close() sets it
        self.out: queue.Queue = queue.Queue(maxsize=10_000)     # the sessions' records, to records()
        self.connected = threading.Event()      # set while the server publishes to our subscription (health, peer)
        self._why = ""                          # the last error that ended or refused a session (peer)
        # each sensor's node's clock less this host's (learned from the changes it stamps), for the stamps of values
        # held (offset_of); the nodes whose stamps were found unusable, said once (Session._stamp)
        self.offsets: dict[str, float] = {}
        self.unstamped: set[str] = set()
        # the publishing interval the server granted longer than a tick, once said (Session._say_slow_publishing)
        self.slow_granted_ms: float | None = None
        # the sensors whose node the server marks Bad now (sensor -> its status, and whether that was said), and when
        # each was last said to go Bad with the Bad notifications unsaid since (Session._say_bad)
        self.bad_now: dict[str, tuple[str, bool]] = {}
        self.bad_said: dict[str, tuple[float, int]] = {}

    def records(self) -> Iterator[Record]:
        """The worker's records; its error raised here once it died of one (an error that is no
        outage, or none at all: a loop that could not start with no file descriptor left). The worker
        died alone before, and this polled an empty queue for ever — a source that looked up and was
        blind, nothing counted (qa21); raised, it stops the agent for systemd to restart (exit 3)."""
        import asyncio
        died: list[Exception] = []

        def work() -> None:
            run = self._run()
            try:
                asyncio.run(run)
            except Exception as exc:  # noqa: BLE001 — raised again below, in the agent's source thread
                run.close()         # never started, if the loop could not be made
                died.append(exc)

        worker = threading.Thread(target=work, name="opcua", daemon=True)
        worker.start()
        try:
            while not self.stopping.is_set():
                try:
                    yield self.out.get(timeout=0.2)
                except queue.Empty:
                    if died:
                        raise died[0]
        finally:
            self.stopping.set()
            worker.join(timeout=self.cfg.timeout_s + 2)

    async def _run(self) -> None:
        import asyncio
        backoff = self.cfg.reconnect_min_s
        outage = False
        while not self.stopping.is_set():
            try:
                await self._session()
                backoff = self.cfg.reconnect_min_s
            except SubscriptionEnded as exc:
                self.rejects.counts["opcua subscription ended"] += 1
                log.warning("%s: the server ended the subscription (%s); subscribing again", self.where, exc)
                backoff = self.cfg.reconnect_min_s
                outage = False
            except (OpcUaUnreachable, OSError, asyncio.TimeoutError, ConnectionError) as exc:
                # a session that was subscribed ends an outage: its loss is a new one, logged (before, only the
                # first outage of the agent's life was: user23's second server restart left no line at all)
                self._unreachable(exc, outage and not self.connected.is_set())
                outage = True
            except Exception as exc:  # noqa: BLE001 — asyncua raises its own types for a lost server
                if type(exc).__module__.split(".")[0] != "asyncua":
                    raise
                self._unreachable(exc, outage and not self.connected.is_set())
                outage = True
            else:
                continue
            finally:
                was = self.connected.is_set()
                self.connected.clear()
                if was:
                    outage = True
                    self._lost_at = time.time()     # (Source.outage_over, when subscribed again)
            await self.sleep(backoff)
            backoff = min(2 * backoff, self.cfg.reconnect_max_s)

    def offset_of(self, sensor: str, default: float | None = None) -> float:
        """The clock of `sensor`'s node less this host's: its own changes' (a server may relay devices with clocks of
        their own), else `default` or the median of the other nodes' (a node that has not changed yet: a setpoint),
        else 0. One node never moves another's (review39: one offset for all, any node's last change set it)."""
        if sensor in self.offsets:
            return self.offsets[sensor]
        return self.default_offset() if default is None else default

    def default_offset(self) -> float:
        """The median of the nodes' offsets, 0 before any: once for many sensors (Session._hold), not once each."""
        return statistics.median(self.offsets.values()) if self.offsets else 0.0

    @property
    def peer(self) -> tuple[bool, str]:
        """Subscribed at the server, or why not (its last error)."""
        return (True, "") if self.connected.is_set() else (False, self._why or "not subscribed at the server")

    def subscribed(self) -> None:
        """The server publishes to our subscription (again): an outage before it is kept (Source.peer_outage)."""
        if not self.connected.is_set():
            self.outage_over(self._why or "not subscribed at the server")
            self.connected.set()

    def _unreachable(self, exc: BaseException, logged: bool) -> None:
        self.rejects.counts["opcua unreachable"] += 1
        self._why = f"{type(exc).__name__}: {exc}"[:200]
        if not logged:
            log.warning("%s unreachable (%s); retrying with backoff up to %.0f s", self.where,
                        f"{type(exc).__name__}: {exc}"[:200], self.cfg.reconnect_max_s)

    async def sleep(self, seconds: float) -> None:
        """`seconds` asleep, or less when the source stops."""
        import asyncio
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, deadline - time.monotonic()))

    async def _session(self) -> None:
        """One connection: connected (and secured), its Session run until it ends, disconnected."""
        import asyncio
        from asyncua import Client
        cfg = self.cfg
        client = Client(cfg.url, timeout=cfg.timeout_s)
        if cfg.username is not None:
            client.set_user(cfg.username)
            client.set_password(self.password)
        try:
            if cfg.security is not None:
                await self._secure(client, cfg.security)
            await asyncio.wait_for(client.connect(), cfg.timeout_s)
        except Exception:
            await self._disconnect(client)
            raise
        try:
            from .opcua_session import Session
            await Session(self, client).run()
        finally:
            await self._disconnect(client)

    async def _secure(self, client, sec: OpcUaSecurity) -> None:
        """Sign / encrypt with the agent's certificate; the application URI is the certificate's."""
        import asyncio

        from asyncua import ua
        from asyncua.crypto import security_policies, uacrypto
        from cryptography import x509
        cert = await uacrypto.load_certificate(self.resolve(sec.certificate))
        try:
            uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
                .get_values_for_type(x509.UniformResourceIdentifier)
        except x509.ExtensionNotFound:
            uris = []
        client.application_uri = uris[0] if uris else DEFAULT_APPLICATION_URI
        server_cert = str(self.resolve(sec.server_certificate)) if sec.server_certificate else None
        await asyncio.wait_for(client.set_security(
            getattr(security_policies, POLICIES[sec.policy]), str(self.resolve(sec.certificate)),
            str(self.resolve(sec.private_key)), server_certificate=server_cert,
            mode=getattr(ua.MessageSecurityMode, sec.mode)), self.cfg.timeout_s)

    async def _disconnect(self, client) -> None:
        import asyncio
        try:
            await asyncio.wait_for(client.disconnect(), self.cfg.timeout_s)
        except Exception:  # noqa: BLE001 — the server is gone already; nothing to tell it
            try:
                client.disconnect_socket()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        self.stopping.set()


#: the first asyncua with the stale-subscription watchdog this source relies on (above)
ASYNCUA_MIN = (2, 0)


def _probe() -> None:
    """Imports asyncua, or raises ImportError (missing, or older than ASYNCUA_MIN): check-config asks
    before run would open the source."""
    import asyncua  # noqa: F401
    from importlib.metadata import PackageNotFoundError, version
    try:
        installed = version("asyncua")
    except PackageNotFoundError:        # importable but not installed as a distribution: cannot tell
        return
    if _release(installed) < ASYNCUA_MIN:
        need = ".".join(map(str, ASYNCUA_MIN))
        raise ImportError(f"asyncua {installed} is installed; the opcua source needs {need} or later (its "
                          "stale-subscription watchdog re-makes a subscription the server deleted)")


def _release(text: str) -> tuple[int, ...]:
    """'2.0.1' -> (2, 0, 1); '1.1.8rc1' -> (1, 1, 8): the leading numbers of each part."""
    out = []
    for part in text.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


PLUGIN = Plugin(config=OpcUaConfig, create=OpcUaSource, probe=_probe)
