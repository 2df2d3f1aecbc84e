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
delay doubles from `reconnect_min_s` up to `reconnect_max_s`; the outage is logged once.
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
(_hold), else it would be told `missing`. A server that revises the publishing interval is asked our keep-alive
again (_keep_keepalive): asyncua would otherwise ask 45 min.
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

asyncio, like asyncua, is imported only when the source runs: plugin discovery imports this
module on every gateway, and the agent does not use asyncio otherwise.
"""
from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import ClassVar, Iterator, Literal

from ..broker import Secret
from ..preflight import path_problems
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
#: a subscription that has published nothing (no change, no keep-alive) for this many keep-alives, the
#: watchdog's re-made one included, is a server lost (a publishing engine hung while requests are served)
MUTE_KEEPALIVES = 3
#: the most silent nodes read in one request from a server that does not state its MaxNodesPerRead (few servers
#: allow fewer), and from one that states it has no limit
READ_BATCH_UNKNOWN = 100
READ_BATCH_MAX = 10_000


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
        return out

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
    pass


class SubscriptionEnded(Exception):
    """The server told the subscription it ended (a status change notification) while the session lived."""


class OpcUaSource(Source):
    TYPE = "opcua"
    live = True

    def __init__(self, cfg: OpcUaConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s)
        _probe()        # fails here, in one line, when the extra is missing or too old
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # asyncua 2.x logs every publish at INFO (a line of ~1 KB each publishing interval: 80 MB a
            # day in the journal at the default 1 s); its warnings and errors still show
            logging.getLogger("asyncua").setLevel(logging.WARNING)
        self.where = f"opcua {cfg.url}"
        self.password = None
        if cfg.password is not None:
            from ..mqtt_client import read_secret
            self.password = read_secret(cfg.password, self.resolve)
        self._stop = threading.Event()
        self._node_names: dict = {}             # asyncua NodeId -> sensor
        self._ended: str | None = None          # the status change that ended the subscription, set by _Handler
        self._out: queue.Queue = queue.Queue(maxsize=10_000)
        self.connected = threading.Event()      # set while the server publishes to our subscription (health, peer)
        self._why = ""                          # the last error that ended or refused a session (peer)
        self._heard = 0.0                       # monotonic time of the session's last change (the handler sets it)
        self._gone: set[str] = set()            # sensors whose node the server does not have: subscribed again
        self._handles: dict[str, int] = {}      # sensor -> its monitored item's handle, this session
        self._max_read = READ_BATCH_UNKNOWN     # the most nodes in one Read request, this session's server's
        self._changed: dict[str, float] = {}    # sensor -> monotonic time of its last notification, this session
        # a value that does not change (see _hold): the last usable value the server gave each sensor this session,
        # when the server last said it holds (a notification, a Good Read), the stamp of its last record, and the
        # server's clock less this host's (from the changes it stamps), for the stamps of the values held
        self._value: dict[str, float] = {}
        self._confirmed: dict[str, float] = {}
        self._stamped: dict[str, float] = {}
        self._offset = 0.0

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
            while not self._stop.is_set():
                try:
                    yield self._out.get(timeout=0.2)
                except queue.Empty:
                    if died:
                        raise died[0]
        finally:
            self._stop.set()
            worker.join(timeout=self.cfg.timeout_s + 2)

    async def _run(self) -> None:
        import asyncio
        backoff = self.cfg.reconnect_min_s
        outage = False
        while not self._stop.is_set():
            try:
                await self._session()
                backoff = self.cfg.reconnect_min_s
            except SubscriptionEnded as exc:
                self.rejects.counts["opcua subscription ended"] += 1
                log.warning("%s: the server ended the subscription (%s); subscribing again", self.where, exc)
                backoff = self.cfg.reconnect_min_s
                outage = False
            except (OpcUaUnreachable, OSError, asyncio.TimeoutError, ConnectionError) as exc:
                self._unreachable(exc, outage)
                outage = True
            except Exception as exc:  # noqa: BLE001 — asyncua raises its own types for a lost server
                if type(exc).__module__.split(".")[0] != "asyncua":
                    raise
                self._unreachable(exc, outage)
                outage = True
            else:
                continue
            finally:
                was = self.connected.is_set()
                self.connected.clear()
                if was:
                    outage = True
            await self._sleep(backoff)
            backoff = min(2 * backoff, self.cfg.reconnect_max_s)

    @property
    def peer(self) -> tuple[bool, str]:
        """Subscribed at the server, or why not (its last error)."""
        return (True, "") if self.connected.is_set() else (False, self._why or "not subscribed at the server")

    def _unreachable(self, exc: BaseException, logged: bool) -> None:
        self.rejects.counts["opcua unreachable"] += 1
        self._why = f"{type(exc).__name__}: {exc}"[:200]
        if not logged:
            log.warning("%s unreachable (%s); retrying with backoff up to %.0f s", self.where,
                        f"{type(exc).__name__}: {exc}"[:200], self.cfg.reconnect_max_s)

    async def _sleep(self, seconds: float) -> None:
        import asyncio
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, deadline - time.monotonic()))

    async def _session(self) -> None:
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
            self._max_read = await self._read_limit(client)
            names, nodes = await self._nodes(client)
            self._node_names = {node.nodeid: name for node, name in zip(nodes, names)}
            if not nodes:
                raise OpcUaUnreachable("none of the configured nodes is on the server")
            self._ended = None
            sub = await client.create_subscription(self._subscription_parameters(), _Handler(self))
            await self._keep_keepalive(sub)
            handles = await sub.subscribe_data_change(nodes, queuesize=1, sampling_interval=cfg.sampling_interval_ms)
            self._gone = {name for name in cfg.nodes if name not in names}     # a browse path not resolved
            self._handles, self._heard = {}, 0.0
            self._value, self._confirmed, self._stamped = {}, {}, {}    # nothing from an earlier session is held
            for name, handle in zip(names, handles if isinstance(handles, list) else [handles]):
                if isinstance(handle, int):
                    self._handles[name] = handle
                else:                                   # a node id the server does not have
                    self.rejects.add("opcua bad node", self.where, f"nodes.{name} {cfg.nodes[name]!r}: {handle}")
                    self._gone.add(name)
            log.info("%s: subscribed to %d node(s)", self.where, len(self._handles))
            await self._watch(client, sub)
        finally:
            await self._disconnect(client)

    async def _watch(self, client, sub) -> None:
        """The session's life: the server's state read every check_interval_s as a heartbeat (a server gone fails
        it within timeout_s); `connected` once the subscription published (a change or a keep-alive) and while it
        does; a subscription silent MUTE_KEEPALIVES keep-alives (asyncua's watchdog re-made it at 1.5 and the
        re-made one is as silent) is the server lost; a node silent a keep-alive is read (_probe_silent); the nodes the
        server does not have (self._gone) are subscribed again with the reconnect back-off, so a node a PLC program
        download dropped and put back is read again."""
        import asyncio
        cfg = self.cfg
        state = client.get_node("i=2259")
        start, heard = time.monotonic(), None        # heard: the last publish seen (None: none yet)
        sub_id, published = sub.subscription_id, sub.last_publish_at
        retry_wait = cfg.reconnect_min_s
        retry_at, probe_at = start + retry_wait, start + keepalive_s(cfg)
        self._changed = dict.fromkeys(self._handles, start)
        # the keep-alive the subscription has (asyncua puts its own in when the server revises the interval),
        # as asyncua's watchdog reads it: a server's longer one is never taken for a silence
        params = sub.parameters
        mute_s = MUTE_KEEPALIVES * max(keepalive_s(cfg), params.RequestedPublishingInterval / 1000
                                       * max(1, params.RequestedMaxKeepAliveCount or 1))
        while not self._stop.is_set():
            await self._sleep(cfg.check_interval_s)
            try:
                await asyncio.wait_for(state.read_value(), cfg.timeout_s)
            except Exception as exc:  # noqa: BLE001 — whatever asyncua raises for a lost server
                raise OpcUaUnreachable(f"lost the server: {type(exc).__name__} {exc}"[:200]) from None
            if self._ended is not None:
                raise SubscriptionEnded(f"status change {self._ended}")
            now = time.monotonic()
            if sub.subscription_id not in (None, sub_id):     # asyncua's watchdog made it again
                self.rejects.counts["opcua subscription ended"] += 1
                log.warning("%s: subscription %s went silent (the server dropped it); made again as %s",
                            self.where, sub_id, sub.subscription_id)
            elif sub.last_publish_at not in (None, published):  # a publish (a keep-alive, too) since the last check
                heard = now
            if self._heard:                                 # a change, read by the handler
                heard = max(heard or 0.0, self._heard)
            sub_id, published = sub.subscription_id, sub.last_publish_at
            if heard is not None:
                self.connected.set()
            if now - (heard or start) > mute_s:
                raise OpcUaUnreachable(f"the server published nothing (no change, no keep-alive) for "
                                       f"{now - (heard or start):.0f} s while it answered requests")
            if now >= probe_at:
                await self._probe_silent(client, now - keepalive_s(cfg))
                probe_at = now + keepalive_s(cfg)
            if heard is not None and now - heard <= mute_s / MUTE_KEEPALIVES + 2 * cfg.check_interval_s:
                self._hold(now, keepalive_s(cfg))
            if self._gone and now >= retry_at:
                await self._subscribe_again(client, sub)
                retry_wait = min(2 * retry_wait, cfg.reconnect_max_s) if self._gone else cfg.reconnect_min_s
                retry_at = time.monotonic() + retry_wait

    async def _probe_silent(self, client, since: float) -> None:
        """Each subscribed sensor without a notification since `since` read once: a node the server no longer has
        (BadNodeIdUnknown) joins self._gone — a server may drop a node's item without a word (asyncua 2.1 does),
        and a value that does not change is silent too, so silence alone says nothing. The silent nodes are read
        in one Read request (a plant of setpoints holds hundreds still: one round trip a keep-alive, not one each),
        at most the server's MaxNodesPerRead in each (self._max_read); each node's status is its own."""
        from asyncua import ua
        silent = [(node_id, name) for node_id, name in self._node_names.items()
                  if name not in self._gone and self._changed.get(name, since) <= since]
        values = []
        for at in range(0, len(silent), self._max_read):
            values += await client.read_attributes([client.get_node(node_id)
                                                    for node_id, _ in silent[at:at + self._max_read]])
        for (_, name), value in zip(silent, values):
            status = value.StatusCode
            if status is not None and status.value == ua.StatusCodes.BadNodeIdUnknown:
                self.rejects.add("opcua bad node", self.where, f"nodes.{name} {self.cfg.nodes[name]!r}: "
                                                               "BadNodeIdUnknown (the server dropped it)")
                self._gone.add(name)
            held = value.Value.Value if value.Value is not None else None
            if (status is None or not status.is_bad()) and _number(held) is not None:
                self._value[name], self._confirmed[name] = _number(held), time.monotonic()
            else:                           # the server no longer says it holds: not read as a reading
                self._value.pop(name, None)

    async def _read_limit(self, client) -> int:
        """The most nodes the server reads in one request (its OperationLimits.MaxNodesPerRead; 0 there is none):
        more in one is refused whole (BadTooManyOperations). READ_BATCH_UNKNOWN when the server does not say."""
        from asyncua import ua
        node = client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead))
        try:
            value = await node.read_data_value(raise_on_bad_status=False)
        except Exception as exc:  # noqa: BLE001 — asyncua's own types; a server lost fails the next request too
            if type(exc).__module__.split(".")[0] != "asyncua":
                raise
            return READ_BATCH_UNKNOWN
        bad = value.StatusCode is not None and value.StatusCode.is_bad()
        limit = value.Value.Value if value.Value is not None and not bad else None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            return READ_BATCH_UNKNOWN
        return limit or READ_BATCH_MAX

    def _hold(self, now: float, keepalive: float) -> None:
        """A record of each sensor whose value holds, once a tick: OPC UA reports changes only, and a setpoint, a
        valve at rest or a coarse quiet sensor would otherwise be told `missing` on a healthy plant. Called only
        while the server answers (the heartbeat just now) and the subscription publishes (a change or a keep-alive
        within its keep-alive: a change would have been sent); a value is held while its last word from the server
        (a notification, or the silent-node Read finding it Good) is at most two keep-alives old (the Read comes
        every keep-alive), never after a Bad status or the node gone. Stamped on the server's clock as its changes
        are (this host's + self._offset), never twice in one tick of a sensor."""
        host = time.time()
        ts = host + self._offset
        values = {name: value for name, value in self._value.items()
                  if name not in self._gone and now - self._confirmed.get(name, -math.inf) <= 2 * keepalive
                  + 2 * self.cfg.check_interval_s
                  and ts // self.tick_s > self._stamped.get(name, -math.inf) // self.tick_s}
        if not values:
            return
        self._stamped.update(dict.fromkeys(values, ts))
        try:
            self._out.put_nowait(Record(ts=ts, values=values, origin=f"{self.where} (held)"))
        except queue.Full:
            self.rejects.add("opcua queue full", self.where, "the agent is not keeping up")

    async def _subscribe_again(self, client, sub) -> None:
        """The sensors whose node the server did not have (self._gone), subscribed again: each one it has now is
        read from here on (its old monitored item, if any, deleted)."""
        for name in sorted(self._gone):
            _, nodes = await self._nodes(client, [name], count=False)
            if not nodes:                       # a browse path still not there
                continue
            node = nodes[0]
            [handle] = await sub.subscribe_data_change([node], queuesize=1,
                                                     sampling_interval=self.cfg.sampling_interval_ms)
            if not isinstance(handle, int):
                continue
            old = self._handles.pop(name, None)
            if old is not None:
                try:
                    await sub.unsubscribe(old)
                except Exception:  # noqa: BLE001 — the server dropped it with its node: nothing to delete
                    pass
            self._handles[name] = handle
            self._node_names[node.nodeid] = name
            self._stamped.pop(name, None)       # its first notification may carry an old stamp (see _data)
            self._gone.discard(name)
            log.info("%s: nodes.%s %r is on the server again; subscribed", self.where, name, self.cfg.nodes[name])

    async def _keep_keepalive(self, sub) -> None:
        """The server revised the publishing interval: asyncua then asks a keep-alive of three quarters of the session
        timeout (45 min) and believes it, whatever the server grants, so a server that stops publishing would be
        taken for lost only after hours (MUTE_KEEPALIVES of them). Ask our keep-alive again, in counts of the
        revised interval, and believe what the server grants (asyncua's server keeps what it granted at creation)."""
        from asyncua import ua
        wanted = self._subscription_parameters()
        params = sub.parameters
        if params.RequestedPublishingInterval == wanted.RequestedPublishingInterval:
            return                                      # not revised: asyncua left ours
        modify = ua.ModifySubscriptionParameters()
        modify.SubscriptionId = sub.subscription_id
        modify.RequestedPublishingInterval = params.RequestedPublishingInterval
        modify.RequestedMaxKeepAliveCount = max(1, math.ceil(1000 * keepalive_s(self.cfg)
                                                             / params.RequestedPublishingInterval))
        modify.RequestedLifetimeCount = max(params.RequestedLifetimeCount, 3 * modify.RequestedMaxKeepAliveCount)
        modify.MaxNotificationsPerPublish = wanted.MaxNotificationsPerPublish
        granted = await sub.server.update_subscription(modify)
        params.RequestedPublishingInterval = granted.RevisedPublishingInterval
        params.RequestedMaxKeepAliveCount = granted.RevisedMaxKeepAliveCount
        params.RequestedLifetimeCount = granted.RevisedLifetimeCount
        log.info("%s: the server revised the publishing interval to %g ms; keep-alive every %g s", self.where,
                 params.RequestedPublishingInterval,
                 params.RequestedPublishingInterval * params.RequestedMaxKeepAliveCount / 1000)

    def _subscription_parameters(self):
        """A keep-alive every keepalive_s() without changes (at least every publishing interval): asyncua's
        default, three quarters of the session timeout, would leave a dropped subscription unnoticed for
        45 minutes."""
        from asyncua import ua
        cfg = self.cfg
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = cfg.publishing_interval_ms
        params.RequestedMaxKeepAliveCount = max(1, math.ceil(1000 * keepalive_s(cfg) / cfg.publishing_interval_ms))
        params.RequestedLifetimeCount = max(10_000, 3 * params.RequestedMaxKeepAliveCount)
        params.MaxNotificationsPerPublish = 10_000
        params.PublishingEnabled = True
        return params

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

    async def _nodes(self, client, only: list[str] | None = None, count: bool = True) -> tuple[list[str], list]:
        """The configured sensors (`only` these) and their nodes; a browse path the server does not have is
        counted ('opcua bad node', unless not `count`) and its sensor left out (self._gone: tried again)."""
        names, nodes = [], []
        for name in only or self.cfg.nodes:
            ref = self.cfg.nodes[name]
            path = browse_path(ref)
            if path is None:
                node = client.get_node(ref)
            else:
                try:
                    node = await client.nodes.root.get_child(path)
                except Exception as exc:  # noqa: BLE001 — asyncua's BadNoMatch and kin
                    if type(exc).__module__.split(".")[0] != "asyncua":
                        raise
                    if count:
                        self.rejects.add("opcua bad node", self.where, f"nodes.{name} {ref!r}: {type(exc).__name__}")
                    continue
            names.append(name)
            nodes.append(node)
        return names, nodes

    async def _disconnect(self, client) -> None:
        import asyncio
        try:
            await asyncio.wait_for(client.disconnect(), self.cfg.timeout_s)
        except Exception:  # noqa: BLE001 — the server is gone already; nothing to tell it
            try:
                client.disconnect_socket()
            except Exception:  # noqa: BLE001
                pass

    def _data(self, node_id, value, source_ts, bad_status: str | None = None) -> None:
        sensor = self._node_names.get(node_id)
        if sensor is None:
            return
        now = time.monotonic()
        self._changed[sensor] = now
        self._value.pop(sensor, None)   # held again only as a usable number, below
        if bad_status is not None:      # the server says the value is not usable (a broken wire, a device down)
            self.rejects.add("opcua bad status", self.where, f"nodes.{sensor}: {bad_status}")
            if bad_status == "BadNodeIdUnknown":        # the node left the address space: try it again
                self._gone.add(sensor)
            return
        number = _number(value)
        if number is None:
            self.rejects.add("opcua non-numeric", self.where, f"nodes.{sensor}: {short_repr(value)}")
            return
        host = time.time()
        ts = source_ts.timestamp() if source_ts is not None else host
        origin = self.where
        if sensor in self._stamped:     # not the item's first notification: a change, stamped when it happened
            self._offset = ts - host
        elif ts < host + self._offset - self.tick_s:
            # a first one gives the stored value with the stamp of its last change (an hour ago, for a setpoint
            # held an hour): the value holds now, so it is read now, as _hold reads it. At its old stamp it would
            # start a fresh time base in the past (the gap closed into the warm-up, the sensors told `missing`)
            # or be `late` after a checkpoint or a re-subscribe (review23). No backlog hides behind it: each item
            # has a queue of 1.
            ts, origin = host + self._offset, f"{self.where} (held)"
        self._value[sensor], self._confirmed[sensor], self._stamped[sensor] = number, now, ts
        try:
            self._out.put(Record(ts=ts, values={sensor: number}, origin=origin), timeout=1.0)
        except queue.Full:
            self.rejects.add("opcua queue full", self.where, "the agent is not keeping up")

    def close(self) -> None:
        self._stop.set()


def _number(value) -> float | None:
    """An OPC UA value as a reading (a bool as 0 / 1), or None when it is not a finite number."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return None
    return float(value)


class _Handler:
    """asyncua's subscription handler: data changes to the source."""

    def __init__(self, source: OpcUaSource):
        self.source = source

    def datachange_notification(self, node, val, data) -> None:
        self.source._heard = time.monotonic()
        if not self.source.connected.is_set():      # here, not at the next check: a backlog is read at once
            self.source.connected.set()
        value = data.monitored_item.Value
        ts = value.SourceTimestamp
        if ts is not None and ts.tzinfo is None:
            from datetime import timezone
            ts = ts.replace(tzinfo=timezone.utc)
        status = value.StatusCode
        bad = status is not None and status.is_bad()
        self.source._data(node.nodeid, val, ts, (getattr(status, "name", None) or str(status)) if bad else None)

    def status_change_notification(self, status) -> None:
        """The server ended the subscription (BadTimeout: its lifetime ran out; GoodSubscriptionTransferred;
        BadShutdown, also asyncua's word for a lost connection): the session's loop makes it again."""
        code = getattr(status, "Status", status)
        self.source._ended = getattr(code, "name", None) or str(code)


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
