"""One session of the OPC UA source (agent/sources/opcua.py) at its server: subscribe, watch, read, hold.

Why it is a module of its own: the plugin module holds what every gateway loads (the config, its checks, the
source's thread and reconnect loop); this is what runs once the source has connected — the subscription, the
heartbeat and the watch of it, the silent nodes' Read, the values that hold, the nodes dropped and subscribed
again, each notification turned into a record. A Session lives as long as its connection; what outlives it (the
records' queue, `connected`, each node's clock offset) is the source's. Not a plugin (no PLUGIN): discovery
imports it and passes over it; like the plugin it imports asyncio and asyncua only when it runs.
"""
from __future__ import annotations

import logging
import math
import queue
import time
from typing import TYPE_CHECKING

from ..records import Record, short_repr
from ..window import MAX_TS
from .opcua import OpcUaUnreachable, SubscriptionEnded, browse_path, keepalive_s

if TYPE_CHECKING:
    from .opcua import OpcUaSource

log = logging.getLogger("stad.opcua")

#: a subscription that has published nothing (no change, no keep-alive) for this many keep-alives, the
#: watchdog's re-made one included, is a server lost (a publishing engine hung while requests are served)
MUTE_KEEPALIVES = 3
#: the most silent nodes read in one request from a server that does not state its MaxNodesPerRead (few servers
#: allow fewer), and from one that states it has no limit
READ_BATCH_UNKNOWN = 100
READ_BATCH_MAX = 10_000
#: a node whose status flaps Bad / Good is named as it goes Bad at most this often (Session._say_bad)
BAD_REPEAT_S = 60.0


class Session:
    """The subscription of one connected session (`client`) of `source`, and its per-session state."""

    def __init__(self, source: OpcUaSource, client):
        self.source, self.client = source, client
        self.cfg, self.rejects, self.where, self.tick_s = source.cfg, source.rejects, source.where, source.tick_s
        self._node_names: dict = {}             # asyncua NodeId -> sensor
        self._ended: str | None = None          # the status change that ended the subscription, set by _Handler
        self._heard = 0.0                       # monotonic time of the session's last change (the handler sets it)
        self._gone: set[str] = set()            # sensors whose node the server does not have: subscribed again
        self._handles: dict[str, int] = {}      # sensor -> its monitored item's handle
        self._max_read = READ_BATCH_UNKNOWN     # the most nodes in one Read request, the server's
        self._changed: dict[str, float] = {}    # sensor -> monotonic time of its last notification
        # a value that does not change (see _hold): the last usable value the server gave each sensor this session,
        # when the server last said it holds (a notification, a Good Read), and the stamp of its last record;
        # nothing from an earlier session is held
        self._value: dict[str, float] = {}
        self._confirmed: dict[str, float] = {}
        self._stamped: dict[str, float] = {}
        self._change_due_s = 0.0                # the publishing interval granted + the sampling interval (run)

    async def run(self) -> None:
        """Subscribed to the configured nodes, then watched until the server is lost or the source stops (raises
        OpcUaUnreachable, SubscriptionEnded or asyncua's own errors for the source's reconnect loop)."""
        cfg = self.cfg
        self._max_read = await self._read_limit(self.client)
        names, nodes = await self._nodes(self.client)
        self._node_names = {node.nodeid: name for node, name in zip(nodes, names)}
        if not nodes:
            raise OpcUaUnreachable("none of the configured nodes is on the server")
        sub = await self.client.create_subscription(self._subscription_parameters(), _Handler(self))
        await self._keep_keepalive(sub)
        self._say_slow_publishing(sub.parameters.RequestedPublishingInterval)
        # how long a change may take to reach us: sampled, then published (the interval the server granted)
        self._change_due_s = (sub.parameters.RequestedPublishingInterval + cfg.sampling_interval_ms) / 1000
        handles = await sub.subscribe_data_change(nodes, queuesize=1, sampling_interval=cfg.sampling_interval_ms)
        self._gone = {name for name in cfg.nodes if name not in names}     # a browse path not resolved
        for name, handle in zip(names, handles if isinstance(handles, list) else [handles]):
            if isinstance(handle, int):
                self._handles[name] = handle
            else:                                   # a node id the server does not have
                self.rejects.add("opcua bad node", self.where, f"nodes.{name} {cfg.nodes[name]!r}: {_status_name(handle)}")
                self._gone.add(name)
        # the nodes left out named here too: a node renamed in the PLC program made `subscribed to 7 node(s)` and a
        # status code in digits (StatusCode(value=2150891520)), which an operator could not read as it (user23)
        gone = sorted(self._gone, key=list(cfg.nodes).index)
        log.info("%s: subscribed to %d node(s)%s", self.where, len(self._handles),
                 f"; not on the server, subscribed again when it is: {', '.join(f'{n} {cfg.nodes[n]!r}' for n in gone)}"
                 if gone else "")
        await self._watch(self.client, sub)

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
        while not self.source.stopping.is_set():
            await self.source.sleep(cfg.check_interval_s)
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
                self.source.subscribed()
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
        every keep-alive), never after a Bad status or the node gone. Stamped on its node's clock as its changes
        are (this host's + OpcUaSource.offset_of the sensor: one record for the sensors in one tick), never twice in
        one tick of a sensor. A sensor whose last change came
        within twice the time a change takes to arrive (sampled, published), and a check, is not held: its next change may
        be on its way for this tick. Before (user23), a value written once a second under publishing 1000 ms was
        held into the tick its change was stamped for; the change, second, was rejected `duplicate` and the tick
        scored on the stale value."""
        host = time.time()
        quiet_s = 2 * self._change_due_s + self.cfg.check_interval_s     # twice: a publish late under load
        # one record for the sensors whose clocks put them in one tick, at the earliest of their stamps (a server's
        # nodes differ by their changes' latencies only): not one record a sensor
        by_tick: dict[float, tuple[float, dict[str, float]]] = {}
        default = self.source.default_offset()
        for name, value in self._value.items():
            ts = host + self.source.offset_of(name, default)
            if name not in self._gone and now - self._confirmed.get(name, -math.inf) <= 2 * keepalive \
                    + 2 * self.cfg.check_interval_s and now - self._changed.get(name, -math.inf) > quiet_s \
                    and ts // self.tick_s > self._stamped.get(name, -math.inf) // self.tick_s:
                first, values = by_tick.get(ts // self.tick_s, (ts, {}))
                values[name] = value
                by_tick[ts // self.tick_s] = (min(first, ts), values)
        for ts, values in by_tick.values():
            self._stamped.update(dict.fromkeys(values, ts))
            try:
                self.source.out.put_nowait(Record(ts=ts, values=values, origin=f"{self.where} (held)", held=True))
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

    def _say_slow_publishing(self, granted_ms: float) -> None:
        """A publishing interval granted longer than a tick, said once (again only if the server grants another): each
        sensor's value then reaches the agent once a publish, the last one sampled (a queue of one), and the ticks
        between carry it forward, past window.carry_forward_s told `missing` and, all at once, a `source` fault that
        blames the server and the network. Before (qa46), only INFO `revised the publishing interval to 8000 ms`: at
        8 s under a 1-s tick the warm-up read flat steps (threshold 0.000) and a `source` fault opened with the
        server up."""
        if granted_ms <= 1000 * self.tick_s or self.source.slow_granted_ms == granted_ms:
            return
        self.source.slow_granted_ms = granted_ms
        log.warning("%s: the server publishes every %g ms (asked %g ms), slower than a tick (%g s): each sensor gets "
                    "a reading once every %g s only, the last the server sampled, and the ticks between carry it "
                    "forward (window.carry_forward_s) or, past that, are told missing; set tick_s to %g s or more, "
                    "or lower the server's shortest publishing interval", self.where, granted_ms,
                    self.cfg.publishing_interval_ms, self.tick_s, granted_ms / 1000, math.ceil(granted_ms / 1000))

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

    def _data(self, node_id, value, source_ts, bad_status: str | None = None) -> None:
        sensor = self._node_names.get(node_id)
        if sensor is None:
            return
        now = time.monotonic()
        self._changed[sensor] = now
        self._value.pop(sensor, None)   # held again only as a usable number, below
        if bad_status is not None:      # the server says the value is not usable (a broken wire, a device down)
            self.rejects.add("opcua bad status", self.where, f"nodes.{sensor}: {bad_status}")
            self._say_bad(sensor, bad_status)
            if bad_status == "BadNodeIdUnknown":        # the node left the address space: try it again
                self._gone.add(sensor)
            return
        if self.source.bad_now.pop(sensor, (None, False))[1]:     # its going Bad was said: its return is too
            log.info("%s: nodes.%s %r is Good again; read from here on", self.where, sensor, self.cfg.nodes[sensor])
        number = _number(value)
        if number is None:
            self.rejects.add("opcua non-numeric", self.where, f"nodes.{sensor}: {short_repr(value)}")
            return
        host = time.time()
        ts = self._stamp(sensor, source_ts, host)
        held = False
        if ts is None:                  # no usable stamp: read at its arrival, on its node's clock as last learned
            ts = host + self.source.offset_of(sensor)
        elif sensor not in self._stamped and ts < host + self.source.offset_of(sensor) - self.tick_s:
            # a first one gives the stored value with the stamp of its last change (an hour ago, for a setpoint
            # held an hour): the value holds now, so it is read now, as _hold reads it. At its old stamp it would
            # start a fresh time base in the past (the gap closed into the warm-up, the sensors told `missing`)
            # or be `late` after a checkpoint or a re-subscribe (review23). No backlog hides behind it: each item
            # has a queue of 1.
            ts, held = host + self.source.offset_of(sensor), True
        else:       # a change, stamped when it happened (or a first one as fresh): its node's clock learned from it
            self.source.offsets[sensor] = ts - host
        self._value[sensor], self._confirmed[sensor], self._stamped[sensor] = number, now, ts
        try:
            self.source.out.put(Record(ts=ts, values={sensor: number}, origin=f"{self.where} (held)" if held
                                       else self.where, held=held), timeout=1.0)
        except queue.Full:
            self.rejects.add("opcua queue full", self.where, "the agent is not keeping up")

    def _stamp(self, sensor: str, source_ts, host: float) -> float | None:
        """A change's SourceTimestamp as a time, or None when it gives none that can be a reading's (the server sent
        none; OPC UA's unset DateTime 0, 1601-01-01, or any stamp before 1970 or past 2100): such a stamp is said once a
        node, named, and the change read at its arrival. Before (review38), it set the clock offset of every sensor's
        held values: a server that left one node's stamp unset put them all in 1601."""
        if source_ts is None:
            return None
        try:
            ts = source_ts.timestamp()
        except (OverflowError, OSError, ValueError):
            ts = math.nan
        if 0.0 <= ts < MAX_TS:
            return ts
        if sensor not in self.source.unstamped:
            self.source.unstamped.add(sensor)
            log.warning("%s: nodes.%s %r: the server stamps its changes %s, no time a reading was taken (OPC UA's unset "
                        "SourceTimestamp is 1601-01-01); read at their arrival on this host's clock", self.where,
                        sensor, self.cfg.nodes[sensor], source_ts.isoformat())
        return None

    def _say_bad(self, sensor: str, status: str) -> None:
        """A node the server marks Bad, named as it goes Bad: at its first Bad notification since a Good one, at most
        once every BAD_REPEAT_S of a node that flaps (its return to Good said only after a said Bad). The rejects'
        lines (first 5 of a reason, then one a minute, whichever comes then) left a node that went Bad while another
        flapped unnamed for good (qa46): its sensor was only `missing`, with no word of why."""
        if self.source.bad_now.get(sensor, (None,))[0] == status:
            return
        now = time.monotonic()
        said_at, since = self.source.bad_said.get(sensor, (None, 0))
        if said_at is not None and now - said_at < BAD_REPEAT_S:
            self.source.bad_now[sensor] = (status, False)      # unsaid: nor is its return
            self.source.bad_said[sensor] = (said_at, since + 1)
            return
        self.source.bad_now[sensor] = (status, True)
        self.source.bad_said[sensor] = (now, 0)
        log.warning("%s: nodes.%s %r: the server marks its value %s; not used until it is Good again (the sensor is "
                    "told missing past window.carry_forward_s)%s", self.where, sensor, self.cfg.nodes[sensor], status,
                    f"; it went Bad {since} more time(s) in the {now - said_at:.0f} s since this was last said"
                    if since else "")


def _number(value) -> float | None:
    """An OPC UA value as a reading (a bool as 0 / 1), or None when it is not a finite number."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return None
    return float(value)


class _Handler:
    """asyncua's subscription handler: data changes to the source."""

    def __init__(self, session: Session):
        self.session = session

    def datachange_notification(self, node, val, data) -> None:
        self.session._heard = time.monotonic()
        self.session.source.subscribed()        # here, not at the next check: a backlog is read at once
        value = data.monitored_item.Value
        ts = value.SourceTimestamp
        if ts is not None and ts.tzinfo is None:
            from datetime import timezone
            ts = ts.replace(tzinfo=timezone.utc)
        status = value.StatusCode
        bad = status is not None and status.is_bad()
        self.session._data(node.nodeid, val, ts, (getattr(status, "name", None) or str(status)) if bad else None)

    def status_change_notification(self, status) -> None:
        """The server ended the subscription (BadTimeout: its lifetime ran out; GoodSubscriptionTransferred;
        BadShutdown, also asyncua's word for a lost connection): the session's loop makes it again."""
        code = getattr(status, "Status", status)
        self.session._ended = getattr(code, "name", None) or str(code)


def _status_name(status) -> str:
    """An OPC UA status code by its name and meaning (`BadNodeIdUnknown: The node id refers to a node that does not
    exist in the server address space.`), not asyncua's `StatusCode(value=2150891520)`."""
    name = getattr(status, "name", None)
    doc = getattr(status, "doc", "")
    return f"{name}: {doc}" if name and doc else (name or str(status))
