"""Sensor samples from an MQTT broker.

`topics` maps a topic filter (may use + and #) to a sensor name, or to '*' when the payload
names the sensor itself. A payload for a named sensor is a plain number (`42.1`), a JSON number,
or a JSON object with "value" and optional "ts". A '*' payload is a JSON line as the udp source
takes it: `{"ts": .., "sensor": .., "value": ..}`, `{"ts": .., "values": {..}}` or a flat dict
of values. A sample without "ts" is stamped on arrival — unless the broker kept it (a retained
message): the broker hands one to a subscriber at every (re)subscribe, sent by its publisher minutes or
days before, and stamped "now" it entered the window as this tick's reading after each reconnect. A
retained reading without "ts" is counted as `missing time` (origin `mqtt <topic> (retained)`); one with
its own "ts" is taken at that time. Subscriptions are renewed on every connect; bad payloads are counted
in the rejects as "mqtt <topic>".

The broker going away, refusing the connection (a password it no longer takes) or coming back is
said once per outage (agent/mqtt_client.py's ConnectionReporter), and counted per attempt in the
rejects — `mqtt unreachable` (no connection, or an established one lost), `mqtt refused` (the broker
answered no) — so health and /metrics show an outage the log said once: before, nothing counted it.
No record is made while it lasts: its ticks are missing, or carried for `window.carry_forward_s`.

A subscription the broker refuses (its ACL does not let this user read the filter: SUBACK 0x87 with
MQTT 5, 0x80 with 3.1.1) is said once per filter and reason (an error naming the source, the filter, its
sensor and the broker's reason), counted per refusal as `mqtt subscribe refused` (origin `mqtt <filter>`),
and asked again with the connection's back-off (reconnect_min_s doubling to reconnect_max_s) — an ACL
can change while the agent runs; its grant is said too. Every filter refused: the source's peer is down
(faults/source.py tells one `source` fault naming the refusal). Mosquitto's `acl_file` never refuses a
SUBSCRIBE (it grants it and delivers nothing the user may not read): no client can see that; its
dynamic-security plugin does refuse. check-config cannot know a broker's ACL.

A payload longer than `max_payload_bytes` (1 MiB by default, as stdin's line) is counted and not
read: a broker passes messages up to 256 MB, and one 36 MB JSON object of two million readings
held ~300 MB and took seven seconds of parsing before its unknown sensors were refused.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator

from ..broker import BrokerConfig, topic_filter_problem, topic_matches
from ..plugins import Plugin
from ..records import Record, Rejects
from ..typed import doc, rng
from .base import Source, SourceConfig
from .lines import DuplicateKey, loads_object, parse_json_line, parse_number, parse_time

log = logging.getLogger("stad.source.mqtt")

QUEUE_LIMIT = 10_000        # samples waiting for the agent; beyond, they are rejected, not buffered
POLL_S = 0.2                # how long close() may wait for records() to notice

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt


@dataclass
class MqttSourceConfig(SourceConfig):
    TYPE: ClassVar[str] = "mqtt"
    endless: ClassVar[bool] = True
    broker: BrokerConfig = doc("the broker to subscribe at", default_factory=BrokerConfig)
    topics: dict[str, str] = doc(
        "topic filter (may use `+` / `#`) → sensor, or `'*'` when the JSON payload names the sensor",
        default_factory=dict)
    qos: int = rng(0, 1, default=0, doc="subscription QoS (0 or 1)")
    max_payload_bytes: int = rng(64, 64 * 2**20, default=2**20,
        doc="a longer payload is counted as `payload too long` and not read")

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"topics.{topic}", sensor) for topic, sensor in self.topics.items() if sensor != "*"]

    def label(self) -> str:
        b = self.broker
        return f"mqtt {b.host}:{b.port}" if isinstance(b, BrokerConfig) else "mqtt"

    def carried(self) -> tuple[list[str], bool]:
        named, _ = super().carried()
        return named, isinstance(self.topics, dict) and "*" in self.topics.values()

    def mqtt_client(self) -> tuple[str, int, str] | None:
        b = self.broker
        return (b.host, b.port, b.client_id) if isinstance(b, BrokerConfig) and b.client_id else None

    def mqtt_filters(self) -> tuple[str, int, list[str]] | None:
        b = self.broker
        if not isinstance(b, BrokerConfig) or not isinstance(self.topics, dict):
            return None                 # already reported
        return b.host, b.port, [t for t in self.topics if isinstance(t, str) and not topic_filter_problem(t)]

    def validate(self) -> list[tuple[str, str]]:
        if isinstance(self.topics, dict) and not self.topics:
            return [("topics", "at least one topic filter is required")]
        return [(f"topics.{topic}", problem) for topic in self.topics if (problem := topic_filter_problem(topic))]

    def preflight(self, resolve) -> list[tuple[str, str]]:
        return [(f"broker.{key}", m) for key, m in self.broker.preflight(resolve)]


class MqttSource(Source):
    TYPE = "mqtt"
    live = True

    def __init__(self, cfg: MqttSourceConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s)
        if not cfg.topics:
            raise ValueError("mqtt source: no topics configured")
        # paho is imported when the source is opened: a config naming it loads without paho.
        from ..mqtt_client import ConnectionReporter, build_client, connect
        self._stop = threading.Event()
        self._samples: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        broker = cfg.broker
        import uuid
        client_id = broker.client_id or f"stad-source-{uuid.uuid4().hex[:8]}"
        self.client = build_client(broker, client_id, resolve=self.resolve)
        self.reporter = ConnectionReporter(broker, "source", log, consequence="no samples until it is back")
        self._outages_kept = 0     # the reporter's outages up to the last one kept as peer_outage
        self.reporter.on_connected = self._subscribe
        self.reporter.on_failure = self._count_failure
        self.reporter.install(self.client)
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        # Subscriptions: paho message id -> its filters; refused filters -> (the broker's reason, the
        # next retry on the monotonic clock, the back-off). paho's thread writes, records() retries.
        self._lock = threading.Lock()
        self._asked: dict[int, list[str]] = {}
        self._refused: dict[str, tuple[str, float, float]] = {}
        self._said_refused: dict[str, str] = {}     # filter -> the refusal last said (paho's thread only)
        connect(self.client, broker)
        self.client.loop_start()


    @property
    def peer(self) -> tuple[bool, str]:
        """Connected to the broker, or why not (as the reporter said it once)."""
        r = self.reporter
        if not r.connected:
            return False, r.problem or "not connected to the broker"
        with self._lock:
            if self._refused and len(self._refused) == len(self.cfg.topics):
                return False, "the broker refuses every subscription: " + "; ".join(
                    f"{t} ({why})" for t, (why, _, _) in sorted(self._refused.items()))
        return True, ""

    def _count_failure(self, refused: bool) -> None:
        # Counted per attempt (as the modbus and opcua sources count theirs), said once per outage by the reporter.
        if refused:
            self.rejects.counts["mqtt refused"] += 1
        else:
            self.rejects.counts["mqtt unreachable"] += 1

    def _subscribe(self, client: mqtt.Client) -> None:
        """On every connect: every filter, a refused one too (the session is new, the ACL may be too).
        A connection lost before it is kept as the broker's outage (Source.peer_outage)."""
        lost, outages = self.reporter.last_outage, self.reporter.outages
        if lost is not None and lost["seconds"] is not None and outages != self._outages_kept:
            self._outages_kept, self._lost_at = outages, time.time() - lost["seconds"]
            self.outage_over(f"the connection to the broker was lost at {lost['from']}")
        with self._lock:
            self._asked.clear()
            self._refused.clear()
        self._ask(client, list(self.cfg.topics))

    def _ask(self, client: mqtt.Client, topics: list[str]) -> None:
        # Under the lock across the call: the SUBACK (paho's thread) may come before subscribe() returns.
        with self._lock:
            rc, mid = client.subscribe([(topic, self.cfg.qos) for topic in topics])
            if rc == 0:
                self._asked[mid] = topics

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        """The SUBACK: a refused filter is said (once per reason), counted and asked again later."""
        from ..mqtt_client import suback_reason
        with self._lock:
            topics = self._asked.pop(mid, [])
        broker = self.cfg.broker
        for topic, code in zip(topics, reason_codes):
            if not code.is_failure:
                with self._lock:
                    self._refused.pop(topic, None)
                if self._said_refused.pop(topic, None) is not None:
                    log.info("MQTT source %s: the broker now grants the subscription to %s", self.cfg.label(), topic)
                continue
            why = suback_reason(code, client.protocol)
            self.rejects.counts["mqtt subscribe refused"] += 1
            self.rejects.first.setdefault("mqtt subscribe refused", (f"mqtt {topic}", why))
            with self._lock:
                _, _, backoff = self._refused.get(topic, ("", 0.0, broker.reconnect_min_s / 2))
                backoff = min(max(backoff * 2, broker.reconnect_min_s), broker.reconnect_max_s)
                self._refused[topic] = (why, time.monotonic() + backoff, backoff)
            if self._said_refused.get(topic) != why:
                self._said_refused[topic] = why
                user = f"user {broker.username!r}" if broker.username is not None else "an anonymous client"
                log.error("MQTT source %s: the broker refuses the subscription to %s (sensor %s): %s; no samples "
                          "from it — does the broker's ACL let %s read it? Asked again every %g–%g s "
                          "(counted as `mqtt subscribe refused`)", self.cfg.label(), topic, self.cfg.topics[topic],
                          why, user, broker.reconnect_min_s, broker.reconnect_max_s)

    def _ask_again(self) -> None:
        """records()' loop: the refused filters whose back-off has passed, asked again."""
        now = time.monotonic()
        with self._lock:
            due = [t for t, (_, at, _) in self._refused.items() if at <= now]
            for t in due:
                why, _, backoff = self._refused[t]
                self._refused[t] = (why, float("inf"), backoff)     # until its SUBACK says again
        if due and self.reporter.connected:
            self._ask(self.client, due)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        where = f"mqtt {msg.topic}" + (" (retained)" if msg.retain else "")
        sensor = self._sensor_for(msg.topic)
        if sensor is None:
            return          # a retained or stray message outside the configured filters
        if len(msg.payload) > self.cfg.max_payload_bytes:       # before it costs a decode and a parse
            self.rejects.add("payload too long", where, f"{len(msg.payload)} bytes, more than "
                             f"max_payload_bytes {self.cfg.max_payload_bytes}; not read")
            return
        try:
            text = msg.payload.decode("utf-8-sig")      # a byte-order mark ahead is no part of the reading
        except UnicodeDecodeError:
            self.rejects.add("bad payload", where, "not UTF-8")
            return
        # live: a reading without "ts" is stamped on arrival; a retained one has an unknown age
        rec = parse_json_line(text, where, self.rejects, live=not msg.retain) if sensor == "*" \
            else self._parse_reading(sensor, text, where, live=not msg.retain)
        if rec is None:
            return
        try:
            self._samples.put_nowait(rec)
        except queue.Full:
            self.rejects.add("queue full", where, f"more than {QUEUE_LIMIT} samples waiting")

    def _sensor_for(self, topic: str) -> str | None:
        for topic_filter, sensor in self.cfg.topics.items():
            if topic_matches(topic_filter, topic):
                return sensor
        return None

    def _parse_reading(self, sensor: str, text: str, where: str, live: bool = True) -> Record | None:
        """A plain number, or {"value": .., "ts": ..}; without "ts" stamped now when `live`, else refused."""
        ts = None
        try:
            value = parse_number(text)
        except ValueError:
            try:
                obj = loads_object(text)
            except DuplicateKey as exc:
                self.rejects.add("duplicate key", where, str(exc))
                return None
            except (ValueError, RecursionError):
                self.rejects.add("bad payload", where, f"not a number or JSON: {text[:60]!r}")
                return None
            if isinstance(obj, dict):
                if "value" not in obj:
                    self.rejects.add("bad payload", where, "JSON object without 'value'")
                    return None
                try:
                    ts = parse_time(obj["ts"]) if "ts" in obj else None
                except ValueError as exc:
                    self.rejects.add("bad time", where, f"field 'ts': {exc}")
                    return None
                obj = obj["value"]
            value = obj
        if ts is None:
            if not live:
                self.rejects.add("missing time", where, "a retained reading without 'ts': the broker kept it, its "
                                                        "age is unknown (publish it with \"ts\", or not retained)")
                return None
            ts = time.time()
        try:
            return Record(ts=ts, values={sensor: parse_number(value)}, origin=where)
        except ValueError as exc:
            self.rejects.add("bad number", where, str(exc))
            return None

    def records(self) -> Iterator[Record]:
        try:
            while not self._stop.is_set():
                self.reporter.settle()          # the end of a flap, said once it holds
                self._ask_again()
                try:
                    yield self._samples.get(timeout=POLL_S)
                except queue.Empty:
                    continue
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def close(self) -> None:
        self._stop.set()


PLUGIN = Plugin(config=MqttSourceConfig, create=MqttSource)
