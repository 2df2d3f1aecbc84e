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
        self.reporter.on_connected = self._subscribe
        self.reporter.on_failure = self._count_failure
        self.reporter.install(self.client)
        self.client.on_message = self._on_message
        connect(self.client, broker)
        self.client.loop_start()


    @property
    def peer(self) -> tuple[bool, str]:
        """Connected to the broker, or why not (as the reporter said it once)."""
        r = self.reporter
        return (True, "") if r.connected else (False, r.problem or "not connected to the broker")

    def _count_failure(self, refused: bool) -> None:
        # Counted per attempt (as the modbus and opcua sources count theirs), said once per outage by the reporter.
        if refused:
            self.rejects.counts["mqtt refused"] += 1
        else:
            self.rejects.counts["mqtt unreachable"] += 1

    def _subscribe(self, client: mqtt.Client) -> None:
        client.subscribe([(topic, self.cfg.qos) for topic in self.cfg.topics])

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
