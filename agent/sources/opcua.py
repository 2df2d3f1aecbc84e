"""Subscribe to OPC UA variables (needs the `opcua` extra: asyncua, imported when the source is
opened, so a config naming it loads without asyncua).

The plant's own protocol: one subscription with a data-change monitored item per configured
node id, sampled by the server every `sampling_interval_ms`; each change becomes a record of
one sensor stamped with the server's source timestamp (the host clock when the server gives
none). asyncua is asyncio: its loop runs in a thread of this source and hands records over a
queue to the agent's source thread.

While the server is unreachable, or goes away (the connection is checked every
`check_interval_s`), each failed attempt is counted as 'opcua unreachable' and the reconnect
delay doubles from `reconnect_min_s` up to `reconnect_max_s`; the outage is logged once.
A value that is not a number (a string, an array) is counted as 'opcua non-numeric'.

Authentication: anonymous, or `username` with a `password` secret (file, env or systemd
credential, as for MQTT). Certificate security policies are not supported yet.

asyncio, like asyncua, is imported only when the source runs: plugin discovery imports this
module on every gateway, and the agent does not use asyncio otherwise.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

from ..broker import Secret
from ..plugins import Plugin
from ..records import Record, Rejects, short_repr
from ..typed import doc, rng
from .base import Source, SourceConfig

log = logging.getLogger("stad.opcua")


@dataclass
class OpcUaConfig(SourceConfig):
    TYPE: ClassVar[str] = "opcua"
    url: str = doc("the server, `opc.tcp://host:port[/path]`", default="opc.tcp://127.0.0.1:4840")
    nodes: dict[str, str] = doc("sensor → node id, e.g. `ns=2;s=Skid1.Pressure` or `ns=3;i=1042`",
                                default_factory=dict)
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

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"nodes.{sensor}", sensor) for sensor in self.nodes]

    def validate(self) -> list[tuple[str, str]]:
        out = []
        if isinstance(self.url, str) and not self.url.startswith("opc.tcp://"):
            out.append(("url", f"expected opc.tcp://host:port[/path], got {short_repr(self.url)}"))
        if isinstance(self.nodes, dict) and not self.nodes:
            out.append(("nodes", "at least one sensor -> node id is required"))
        if isinstance(self.nodes, dict):
            out += [(f"nodes.{s}", f"expected a node id such as 'ns=2;s=Name' or 'i=2258', got {short_repr(n)}")
                    for s, n in self.nodes.items() if isinstance(n, str) and not _looks_like_node_id(n)]
        if (self.password is None) != (self.username is None):
            out.append(("password" if self.password is None else "username",
                        "username and password go together"))
        return out

    def preflight(self, resolve) -> list[tuple[str, str]]:
        if self.password is None:
            return []
        from ..broker import BrokerConfig
        return BrokerConfig(password=self.password).preflight(resolve)


def _looks_like_node_id(text: str) -> bool:
    last = text.rsplit(";", 1)[-1]
    return last[:2] in ("i=", "s=", "g=", "b=") and len(last) > 2


class OpcUaUnreachable(Exception):
    pass


class OpcUaSource(Source):
    TYPE = "opcua"
    live = True

    def __init__(self, cfg: OpcUaConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s)
        import asyncua  # noqa: F401 — fails here, in one line, when the extra is missing
        self.where = f"opcua {cfg.url}"
        self.password = None
        if cfg.password is not None:
            from ..mqtt_client import read_secret
            self.password = read_secret(cfg.password, self.resolve)
        self._stop = threading.Event()
        self._node_names: dict = {}             # asyncua NodeId -> sensor
        self._out: queue.Queue = queue.Queue(maxsize=10_000)
        self.connected = threading.Event()      # set while subscribed (tests and health wait on it)

    def records(self) -> Iterator[Record]:
        import asyncio
        worker = threading.Thread(target=lambda: asyncio.run(self._run()), name="opcua", daemon=True)
        worker.start()
        try:
            while not self._stop.is_set():
                try:
                    yield self._out.get(timeout=0.2)
                except queue.Empty:
                    continue
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

    def _unreachable(self, exc: BaseException, logged: bool) -> None:
        self.rejects.counts["opcua unreachable"] += 1
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
            await asyncio.wait_for(client.connect(), cfg.timeout_s)
        except Exception:
            await self._disconnect(client)
            raise
        try:
            names = list(cfg.nodes)
            nodes = [client.get_node(cfg.nodes[n]) for n in names]
            self._node_names = {node.nodeid: name for node, name in zip(nodes, names)}
            sub = await client.create_subscription(cfg.publishing_interval_ms, _Handler(self))
            handles = await sub.subscribe_data_change(nodes, sampling_interval=cfg.sampling_interval_ms)
            for name, handle in zip(names, handles if isinstance(handles, list) else [handles]):
                if not isinstance(handle, int):       # a node id the server does not have
                    self.rejects.add("opcua bad node", self.where, f"nodes.{name} {cfg.nodes[name]!r}: {handle}")
            log.info("%s: subscribed to %d node(s)", self.where, len(names))
            self.connected.set()
            # The server's state variable (i=2259), read as a heartbeat: a server that went away
            # fails it within timeout_s.
            state = client.get_node("i=2259")
            while not self._stop.is_set():
                await self._sleep(cfg.check_interval_s)
                try:
                    await asyncio.wait_for(state.read_value(), cfg.timeout_s)
                except Exception as exc:  # noqa: BLE001 — whatever asyncua raises for a lost server
                    raise OpcUaUnreachable(f"lost the server: {type(exc).__name__} {exc}"[:200]) from None
        finally:
            await self._disconnect(client)

    async def _disconnect(self, client) -> None:
        import asyncio
        try:
            await asyncio.wait_for(client.disconnect(), self.cfg.timeout_s)
        except Exception:  # noqa: BLE001 — the server is gone already; nothing to tell it
            try:
                client.disconnect_socket()
            except Exception:  # noqa: BLE001
                pass

    def _data(self, node_id, value, source_ts) -> None:
        sensor = self._node_names.get(node_id)
        if sensor is None:
            return
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            self.rejects.add("opcua non-numeric", self.where, f"nodes.{sensor}: {short_repr(value)}")
            return
        ts = source_ts.timestamp() if source_ts is not None else time.time()
        try:
            self._out.put(Record(ts=ts, values={sensor: float(value)}, origin=self.where), timeout=1.0)
        except queue.Full:
            self.rejects.add("opcua queue full", self.where, "the agent is not keeping up")

    def close(self) -> None:
        self._stop.set()


class _Handler:
    """asyncua's subscription handler: data changes to the source."""

    def __init__(self, source: OpcUaSource):
        self.source = source

    def datachange_notification(self, node, val, data) -> None:
        value = data.monitored_item.Value
        ts = value.SourceTimestamp
        if ts is not None and ts.tzinfo is None:
            from datetime import timezone
            ts = ts.replace(tzinfo=timezone.utc)
        self.source._data(node.nodeid, val, ts)

    def status_change_notification(self, status) -> None:
        log.debug("opcua subscription status: %s", status)


def _probe() -> None:
    """Imports asyncua, or raises ImportError: check-config asks before run would open the source."""
    import asyncua  # noqa: F401


PLUGIN = Plugin(config=OpcUaConfig, create=OpcUaSource, probe=_probe)
