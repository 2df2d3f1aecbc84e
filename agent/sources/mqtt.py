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
in the rejects as "mqtt <topic>". That origin knows its sender, the source's broker connection (records.Origin): a
reason rejected steadily from a broker or a bridge repeating on every topic of a plant is one steady condition, said
once with its topics, not a line a minute per topic (qa56).

The broker going away, refusing the connection (a password it no longer takes) or coming back is
said once per outage (agent/mqtt_client.py's ConnectionReporter), and counted per attempt in the
rejects — `mqtt unreachable` (no connection, or an established one lost), `mqtt refused` (the broker
answered no) — so health and /metrics show an outage the log said once: before, nothing counted it.
No record is made while it lasts: its ticks are missing, or carried for `window.carry_forward_s`. What publishers
kept through it (store-and-forward) and the broker held for the session come once it is back: they are the outage's
queue (outage_queue.py: `Record.backlog`, never a step back of the data's time, however late the outage was
noticed), said once drained — how many readings, and the stamps they span.

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

A live reading's arrival (`received`) is stamped here, with the agent's clock, as it comes from the broker: the
agent's pump stamped it when it took it off this source's queue (up to QUEUE_LIMIT samples), after a flood's backlog.

Subscribed at QoS 1, the source watches that the broker still delivers to it. Under a publisher flood faster than
this process reads, Mosquitto (2.0.11) frees the packets past `max_queued_messages` waiting on our socket — QoS 1
PUBLISHes it already counts in flight too — and never sends them again in that session: each holds one of the
client's in-flight slots (20) for good, and once all are held no QoS 1 message reached the source again until it
reconnected, with nothing counted (chaos2, mqttsrc1, mqttsrc2: docs/measured/mqtt-and-feedback.md). No later
message reveals a stall of the whole window, and a broker's packet ids are its own, so the source asks the broker
itself, as any client can: at each connect, and after `probe_s` without a QoS 1 message, it publishes a QoS 1 probe
to `probe_topic`, which it reads too, and expects it back within `probe_s`. Still not back while nothing waits
unread on its socket (a backlog only delays it) is a stalled delivery: the source disconnects and connects again
resuming its session (MQTT 5: clean start off; the session outlives a disconnect by SESSION_KEEP_S, and the last
DISCONNECT at stop ends it), and the broker sends again what it held — the messages in flight (as DUP) and those
queued. Every reconnect resumes it that way, one after an outage too (QoS 1 readings published meanwhile then
come; one without "ts" is stamped on arrival). A message read as a renewal begins is read once: the source
acknowledges each QoS 1 message after reading it, and the renewal waits for the broker to have taken the last PUBACK
(`_fence`; before, such messages were sent again on the resumed session and counted twice). What a renewal cannot
recover is counted: a broker that kept no
session (MQTT 3.1.1, whose persistent session would outlive the agent under its random client id; a broker that
dropped it) loses what it held — `mqtt session lost`, once per renewal (how many messages is not known). A
probe is numbered, and only the one out answers: one the broker held from before a renewal, re-sent after it,
says nothing of the one sent since (mqttsrc3; chaos soaks saw it taken for the answer). A
probe is judged only if one came back since the last renewal: a broker whose ACL does not let this user publish
or read `probe_topic` costs one renewal at start, then is said once (the source then unwatched until a probe
comes back). What a resumed session delivers first — a DUP message, or any ahead of the probe sent at that connect —
the broker held: the reading is flagged `resent`, and the aligner counts it `late` if its tick is closed, never a
step back of the data (20 held readings 14 s old stepped a chaos soak's time base back). QoS 0 messages a broker
drops cannot be seen by any client.
"""
from __future__ import annotations

import fcntl
import json
import logging
import queue
import struct
import termios
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator

from ..broker import BrokerConfig, topic_filter_problem, topic_matches
from ..plugins import Plugin
from ..records import TOPICS_KEPT, Origin, Record, Rejects
from ..typed import doc, rng
from .base import Source, SourceConfig
from .outage_queue import OutageQueue
from ..json_read import MAX_DEPTH, NESTED_TOO_DEEP
from ..alert_events import iso
from ..records import sensors_said, short_repr
from .lines import (ASCII_BLANKS, SEND_UTF8, DuplicateKey, byte_not_utf8_said, json_error_said, loads_object,
                    number_hint, parse_json_line, parse_number, parse_stamp, said_with_value)

log = logging.getLogger("stad.source.mqtt")

QUEUE_LIMIT = 10_000        # samples waiting for the agent; beyond, they are rejected, not buffered
POLL_S = 0.2                # how long close() may wait for records() to notice
#: A named sensor's payload forms, said with a payload that is none of them.
READING_FORMS = 'a reading is a number, 42.1, or a JSON object {"value": 42.1, "ts": …}'

PROBE_PAYLOAD = "stad delivery probe {}"     # numbered: the one sent at a connect is told from those held before
FENCE_PAYLOAD = b"stad renewal fence"   # published before a renewal: its answer says the broker took every PUBACK
FENCE_S = 5.0               # how long a renewal waits for that answer
SESSION_KEEP_S = 60         # MQTT 5: the broker keeps the source's session this long after a disconnect, to resume it
NOTICE_KEEPALIVES = 3       # a silent broker is noticed within this many keepalive_s of its last delivery

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt


@dataclass
class MqttSourceConfig(SourceConfig):
    TYPE: ClassVar[str] = "mqtt"
    endless: ClassVar[bool] = True
    broker: BrokerConfig = doc("the broker to subscribe at", default_factory=BrokerConfig)
    topics: dict[str, str] = doc(
        "topic filter (may use `+` / `#`) → sensor, or `'*'` when the JSON payload names the sensor, or a name with "
        "one `*` (`K012_*`) when a JSON object holds one device's readings under names of its own: `{\"flow\": 12}` "
        "on that topic is sensor `K012_flow`", default_factory=dict)
    qos: int = rng(0, 1, default=0, doc="subscription QoS (0 or 1)")
    max_payload_bytes: int = rng(64, 64 * 2**20, default=2**20,
        doc="a longer payload is counted as `payload too long` and not read")
    probe_s: float = rng(0, 3600, default=15.0, doc=(
        "with `qos: 1`: after this long without a QoS 1 message the source publishes one to `probe_topic` and "
        "expects it back within as long; not back (and nothing unread): the broker's QoS 1 delivery to it is "
        "stalled, and it reconnects resuming its session. 0: no probe"))
    probe_topic: str = doc(
        "the probe's topic (`{client_id}`: the source's client id); with `qos: 1` and `probe_s` the broker must "
        "let this user publish and read it", default="stad/probe/{client_id}")

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"topics.{topic}", sensor) for topic, sensor in self.topics.items() if not names_in_payload(sensor)]

    def sensor_problems(self, sensors: list[str]) -> list[tuple[str, str]]:
        """A name pattern (`K012_*`) that names no sensor of `sensors`: every reading on its topic would be
        refused as an unknown sensor, so the config is (user33)."""
        if not isinstance(self.topics, dict):
            return []                       # already reported
        out = []
        for topic, pattern in self.topics.items():
            if isinstance(pattern, str) and pattern != "*" and "*" in pattern:
                if pattern.count("*") > 1:
                    out.append((f"topics.{topic}", f"{pattern!r}: one `*` at most (the name of a reading in the "
                                                   "payload goes in its place)"))
                elif not any(pattern_names(pattern, name) for name in sensors):
                    out.append((f"topics.{topic}", f"{pattern!r} names no sensor of `sensors` (a reading `flow` in "
                                f"a payload on this topic is sensor {pattern.replace('*', 'flow')!r}): every reading "
                                "there would be refused as an unknown sensor"))
        return out

    def label(self) -> str:
        b = self.broker
        return f"mqtt {b.host}:{b.port}" if isinstance(b, BrokerConfig) else "mqtt"

    def carried(self) -> tuple[list[str], bool]:
        named, _ = super().carried()
        return named, isinstance(self.topics, dict) and any(map(names_in_payload, self.topics.values()))

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
        out = [(f"topics.{topic}", problem) for topic in self.topics if (problem := topic_filter_problem(topic))]
        if isinstance(self.probe_topic, str):
            topic = self.probe_topic.replace("{client_id}", "x")
            problem = topic_filter_problem(topic) or (
                "a topic to publish to cannot hold `+` or `#`" if "+" in topic or "#" in topic else None)
            if problem:
                out.append(("probe_topic", problem))
        return out

    def probe_topic_for(self, client_id: str) -> str | None:
        """The probe's topic for this client; None when the source sends none (QoS 0, or probe_s 0)."""
        return self.probe_topic.replace("{client_id}", client_id) if self.qos == 1 and self.probe_s > 0 else None

    def preflight(self, resolve) -> list[tuple[str, str]]:
        return [(f"broker.{key}", m) for key, m in self.broker.preflight(resolve)]


def names_in_payload(sensor: object) -> bool:
    """A topic's sensor that the payload names: `*` (the payload's names are the sensors') or a pattern such as
    `K012_*` (each name in the payload put in the place of its `*`)."""
    return isinstance(sensor, str) and "*" in sensor


def pattern_names(pattern: str, sensor: str) -> bool:
    """Whether `sensor` is a name the pattern `K012_*` makes: its text before and after the `*` around a name."""
    head, _, tail = pattern.partition("*")
    return len(sensor) > len(head) + len(tail) and sensor.startswith(head) and sensor.endswith(tail)


class MqttSource(Source):
    TYPE = "mqtt"
    live = True

    def __init__(self, cfg: MqttSourceConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s, clock)
        if not cfg.topics:
            raise ValueError("mqtt source: no topics configured")
        # paho is imported when the source is opened: a config naming it loads without paho.
        from ..mqtt_client import ConnectionReporter, build_client, connect
        self._stop = threading.Event()
        self._samples: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        broker = cfg.broker
        import uuid
        client_id = broker.client_id or f"stad-source-{uuid.uuid4().hex[:8]}"
        # QoS 1 messages acknowledged by the source (manual_ack), under `_ack_lock`: a renewal stops reading them
        # (`_leaving`) and waits for the broker to answer a message sent after the last PUBACK (`_fence`).
        self.client = build_client(broker, client_id, resolve=self.resolve, manual_ack=True)
        self._ack_lock = threading.Lock()
        self._leaving = False       # a renewal began: QoS 1 messages still read go unread, the broker sends them again
        self._fence_topic = cfg.probe_topic.replace("{client_id}", client_id)
        self.reporter = ConnectionReporter(broker, "source", log, consequence="no samples until it is back")
        self._outages_kept = 0     # the reporter's outages up to the last one kept as peer_outage
        self._heard_at = 0.0       # this host's clock when the broker last delivered a message (paho's thread)
        # The outage's queue (paho's thread): each configured sensor's newest stamp read, and the first burst after the
        # last reconnect that ended an outage (outage_queue.py)
        self._known = frozenset(sensors)
        # each topic's origin (`mqtt <topic>`, its sender this source's broker connection), made once: up to
        # TOPICS_KEPT of them kept (paho's thread)
        self._origins: dict[str, Origin] = {}
        self._newest: dict[str, float] = {}
        self._queue: OutageQueue | None = None
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
        # The delivery probe (QoS 1): its topic, when the last QoS 1 message came or the session began (monotonic;
        # paho's thread), the probe out since (records()' loop sets it, an arrival clears it: one assignment each),
        # whether one came back since the last renewal (only then is a missing one judged a stall).
        self._probe_topic = cfg.probe_topic_for(client_id)
        self._last_qos1 = time.monotonic()
        self._probe_out: float | None = None
        self._probe_back = True     # as if one came: a first probe lost may be a stall already (one renewal)
        self._said_no_probe = False
        self._renewing = False      # the next CONNACK answers a renewal: it should find the session kept
        # A resumed session: what the broker held comes first, ahead of the probe sent at the connect (paho's thread)
        self._held_first = False
        self._probes = 0
        self._connect_probe = b""   # the payload of the probe sent at the last connect
        self._probe_payload = b""   # ... of the probe out: only it answers (one held from before a renewal does not)
        connect(self.client, broker, session_expiry_s=SESSION_KEEP_S, clean_first=True)
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
            # (`_from`, not `seconds`: rounded to 0.1 s)
            self._outages_kept, self._lost_at = outages, self._outage_began(lost["_from"])
            self.outage_over(f"the connection to the broker was lost at {lost['from']}")
            self._say_queue()           # (one still draining from the outage before)
            self._queue = OutageQueue(floor=self._heard_at or lost["_from"], newest_before=dict(self._newest),
                                      kept_s=self.tick_s)
        renewal, self._renewing = self._renewing, False
        if renewal and not self.reporter.session_present:
            self.rejects.add("mqtt session lost", self.cfg.label(),
                             "the broker kept no session for the renewal (MQTT 3.1.1, or it dropped it): the QoS 1 "
                             "messages it held for this agent are lost (how many is not known)")
        self._last_qos1, self._probe_out = time.monotonic(), None
        with self._lock:
            self._asked.clear()
            self._refused.clear()
        self._ask(client, list(self.cfg.topics))
        if self._probe_topic is not None:     # one at once: a window stalled under steady QoS 1 traffic is noticed too
            client.subscribe(self._probe_topic, 1)      # its SUBACK names no filter of ours: _on_subscribe skips it
            self._held_first = self.reporter.session_present
            self._connect_probe = self._send_probe(client)

    def _outage_began(self, noticed: float) -> float:
        """When the broker's outage noticed at `noticed` began, for its `source` fault and `peer_since`: at the last
        message it delivered, if that was within the time paho may take to notice a broker gone silent
        (NOTICE_KEEPALIVES × keepalive_s); else when it was noticed (a quiet subscription's last message may be long
        before a broker closing the connection). qa53: a broker that stopped answering (a host gone, a cable pulled)
        is noticed keepalive_s or more late; paho checks the keep-alive from its network loop, and on a loaded
        gateway the notice came 10.1 s after the last delivery at keepalive_s 5 (final_load50). Which readings are
        the outage's queue does not hang on this date (mqttsrc6: outage_queue.py)."""
        heard = self._heard_at
        return heard if noticed - NOTICE_KEEPALIVES * self.cfg.broker.keepalive_s <= heard < noticed else noticed

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

    def _watch_delivery(self) -> None:
        """records()' loop: the probe sent after probe_s without a QoS 1 message; one not back within probe_s,
        with nothing unread on the socket, is a stalled delivery: the session is renewed (if a probe ever came)."""
        if self._probe_topic is None or not self.reporter.connected:
            return
        now, out = time.monotonic(), self._probe_out
        if out is None:
            if now - self._last_qos1 >= self.cfg.probe_s:
                self._send_probe(self.client)
            return
        if now - out < self.cfg.probe_s or self._unread_bytes():
            return              # a backlog only delays it
        if self._probe_back:
            self._renew(now - out)
            return
        # the next one after probe_s; what comes now is no longer taken for what the broker held
        self._probe_out, self._last_qos1, self._held_first = None, now, False
        if not self._said_no_probe:
            self._said_no_probe = True
            user = f"user {self.cfg.broker.username!r}" if self.cfg.broker.username is not None else \
                "an anonymous client"
            log.warning("MQTT source %s: its QoS 1 delivery probe to %s did not come back within %g s, nor since it "
                        "reconnected for it: does the "
                        "broker's ACL let %s publish and read it? Until one does, a broker that stops delivering QoS 1 "
                        "messages to this agent (a flood: Mosquitto drops ones it holds in flight) is not noticed "
                        "(probe_topic; probe_s 0: no probe)", self.cfg.label(), self._probe_topic, self.cfg.probe_s,
                        user)

    def _send_probe(self, client: mqtt.Client) -> bytes:
        """Publish the next probe (its time and payload set before: its arrival clears it); its payload."""
        self._probes += 1
        payload = PROBE_PAYLOAD.format(self._probes).encode()
        self._probe_payload, self._probe_out = payload, time.monotonic()
        client.publish(self._probe_topic, payload, qos=1)
        return payload

    def _renew(self, waited: float) -> None:
        """Disconnect and connect again resuming the session (MQTT 5): the broker sends again what it held."""
        from ..mqtt_client import connect
        log.warning("MQTT source %s: the broker delivers no QoS 1 message to this agent (its probe to %s not back "
                    "in %.0f s, nothing unread on the socket): its in-flight window is stalled (a flood: Mosquitto "
                    "drops messages it holds in flight); reconnecting to resume the session, so that the broker sends "
                    "again what it holds (MQTT 5)", self.cfg.label(), self._probe_topic, waited)
        self._probe_back, self._probe_out, self._renewing = False, None, True
        self._fence()
        self.client.disconnect()                # ours: no outage told or counted
        self.client.loop_stop()
        self._leaving = False
        connect(self.client, self.cfg.broker, session_expiry_s=SESSION_KEEP_S)
        self.client.loop_start()

    def _fence(self) -> None:
        """Before a renewal's DISCONNECT: no QoS 1 message read from here on, and the broker has taken every PUBACK
        sent. A message the source read whose PUBACK the broker has not taken is one it sends again on the resumed
        session, read twice (mqttsrc5: a chaos soak's 23 bad payloads counted twice, 183 for 160 sent). Two ways
        it was lost: paho still reads what waits on the socket until it writes the DISCONNECT, and queues that
        message's PUBACK after it (never sent); and Mosquitto takes the new connection ahead of the old one's last
        bytes ("already connected, closing old connection"), its PUBACKs unread. So QoS 1 messages stop being read
        (`_leaving`, under the lock every read and its PUBACK hold), and a QoS 1 message is published after the
        last PUBACK: the broker reads a connection's packets in order, so its answer says it took them all. Its
        answer not within FENCE_S (a broker that stopped reading us): the renewal goes on."""
        with self._ack_lock:
            self._leaving = True
            fence = self.client.publish(self._fence_topic, FENCE_PAYLOAD, qos=1)
        try:
            fence.wait_for_publish(FENCE_S)
        except (RuntimeError, ValueError):
            pass                # (not queued: the connection is gone, nothing more to take)

    def _unread_bytes(self) -> int:
        """Bytes the broker sent that wait unread on the client's socket (0 when there is none or it cannot tell)."""
        sock = self.client.socket()
        if sock is None:
            return 0
        try:
            pending = sock.pending() if hasattr(sock, "pending") else 0      # TLS: decrypted, not yet read
            return pending + struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        except (OSError, ValueError):
            return 0

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        """Read a message, then acknowledge it (QoS 1), both under the lock a renewal takes (`_fence`)."""
        with self._ack_lock:
            if self._leaving and msg.qos:
                return          # a renewal began (`_fence`): not acknowledged, sent again on the resumed session
            try:
                self._read(msg)
            finally:
                if msg.qos:
                    client.ack(msg.mid, msg.qos)

    def _read(self, msg: mqtt.MQTTMessage) -> None:
        self._heard_at = self.clock()
        if msg.qos:
            self._last_qos1 = time.monotonic()
        if msg.topic == self._probe_topic:
            if msg.payload == self._connect_probe:      # (a probe held from before comes ahead of what followed it)
                self._held_first = False
            if msg.payload == self._probe_payload:      # the one out: an earlier one, held, says nothing of it
                self._probe_out, self._probe_back = None, True
            return
        # Re-sent (DUP), or held by the broker while it could not deliver (a resumed session, ahead of the probe)
        resent = msg.dup or self._held_first
        where = self._origin(f"mqtt {msg.topic}" + (" (retained)" if msg.retain else ""))
        sensor = self._sensor_for(msg.topic)
        if sensor is None:
            return          # a retained or stray message outside the configured filters
        if len(msg.payload) > self.cfg.max_payload_bytes:       # before it costs a decode and a parse
            self.rejects.add("payload too long", where, lambda: f"{len(msg.payload)} bytes, more than "
                             f"max_payload_bytes {self.cfg.max_payload_bytes}; not read")
            return
        try:
            text = msg.payload.decode("utf-8-sig")      # a byte-order mark ahead is no part of the reading
        except UnicodeDecodeError as exc:       # which byte, as the udp source says it
            self.rejects.add("bad payload", where, lambda: byte_not_utf8_said(msg.payload[exc.start], exc.start + 1,
                                                                              "payload", SEND_UTF8))
            return
        # live: a reading without "ts" is stamped on arrival; a retained one has an unknown age
        rec = parse_json_line(text, where, self.rejects, live=not msg.retain, what="payload") \
            if names_in_payload(sensor) else self._parse_reading(sensor, text, where, live=not msg.retain)
        if rec is None:
            return
        if sensor != "*" and names_in_payload(sensor):      # `K012_*`: each name in the payload in its `*`
            rec.values = {sensor.replace("*", name): value for name, value in rec.values.items()}
        rec.resent = resent
        rec.received = self.clock()     # its arrival, not when the agent's pump takes it off the queue below
        self._outage_queue(rec)
        try:
            self._samples.put_nowait(rec)
        except queue.Full:
            self.rejects.add("queue full", where, lambda: f"more than {QUEUE_LIMIT} samples waiting ("
                             f"{sensors_said(rec.values)})")

    def _outage_queue(self, rec: Record) -> None:
        """Flag a reading of the outage's queue (Record.backlog, outage_queue.py); keep each sensor's newest stamp."""
        sensors = [s for s in rec.values if s in self._known]
        queue = self._queue
        if queue is not None and not rec.arrival_stamped:
            rec.backlog = queue.judge(rec, sensors, rec.received)
            if queue.drained():
                self._say_queue()
        newest = self._newest
        for sensor in sensors:
            if rec.ts > newest.get(sensor, float("-inf")):
                newest[sensor] = rec.ts

    def _say_queue(self) -> None:
        """How many readings the outage's queue was, once it drained, or as it stands at the next reconnect."""
        if self._queue is None or not self._queue.count:
            return
        count, oldest, newest = self._queue.take_said()
        log.info("MQTT source %s: %d reading%s kept through the broker's outage came once it was back (stamped "
                 "%s to %s: a publisher's store-and-forward, or what the broker held for this agent); those of ticks "
                 "already closed are counted `outage backlog`, not scored", self.cfg.label(), count,
                 "" if count == 1 else "s", iso(oldest), iso(newest))

    def _origin(self, text: str) -> Origin:
        """The origin said `text`, whose sender is this source's broker connection (records.Origin)."""
        origin = self._origins.get(text)
        if origin is None:
            origin = Origin(text, self.cfg.label())
            if len(self._origins) < TOPICS_KEPT:
                self._origins[text] = origin
        return origin

    def _sensor_for(self, topic: str) -> str | None:
        for topic_filter, sensor in self.cfg.topics.items():
            if topic_matches(topic_filter, topic):
                return sensor
        return None

    @staticmethod
    def _not_read_said(exc: ValueError, text: str) -> str:
        """Why a payload is neither a number nor a JSON reading: json's words where it looks like JSON."""
        return (json_error_said(exc, "payload") if isinstance(exc, json.JSONDecodeError) and
                text.lstrip()[:1] in ("{", "[", '"') else "not a number, nor JSON")

    def _parse_reading(self, sensor: str, text: str, where: str, live: bool = True) -> Record | None:
        """A plain number, or {"value": .., "ts": ..}; without "ts" stamped now when `live`, else refused."""
        ts, arrival_stamped, ts_text = None, False, False
        field = "the payload"       # what a bad number is said of: the payload itself, or its object's "value"
        try:
            value = parse_number(text)
        except ValueError:
            try:
                obj = loads_object(text)
            except DuplicateKey as exc:
                self.rejects.add("duplicate key", where, exc.__str__)
                return None
            except RecursionError:
                self.rejects.add("bad payload", where, f"{NESTED_TOO_DEEP}: arrays or objects inside one another "
                                                       f"past {MAX_DEPTH} deep")
                return None
            except ValueError as exc:
                if hint := number_hint(text.strip(ASCII_BLANKS)):     # `1_000`, `１２`, `0x10`, `1,5`: a number's words
                    self.rejects.add("bad payload", where, lambda: f"{field} (sensor {sensor!r}): not a number: "
                                     f"{short_repr(text, 60)}{hint}")
                    return None
                self.rejects.add("bad payload", where, lambda: f"{self._not_read_said(exc, text)}: "
                                 f"{short_repr(text, 60)} ({READING_FORMS})" if text.strip()
                                 else f"an empty payload ({READING_FORMS})")
                return None
            if isinstance(obj, dict):
                if "value" not in obj:
                    self.rejects.add("bad payload", where, f"a JSON object without 'value' ({READING_FORMS})")
                    return None
                field = "field 'value'"
                try:       # one way to read a stamp (lines.parse_stamp): a written date out of range is said as one
                    ts, ts_text = parse_stamp(obj["ts"]) if "ts" in obj else (None, False)
                except ValueError as exc:
                    self.rejects.add("bad time", where, lambda: f"field 'ts': {said_with_value(exc, obj['ts'])}")
                    return None
                obj = obj["value"]
            value = obj
        try:        # the reading before its time: a retained `[]` was said as a reading without "ts" (chaos7)
            number = parse_number(value)
        except ValueError as exc:       # whose reading: "not a number: null" named no field nor sensor (chaos7)
            self.rejects.add("bad number", where, lambda: f"{field} (sensor {sensor!r}): {exc}")
            return None
        if ts is None:
            if not live:
                self.rejects.add("missing time", where, "a retained reading without 'ts': the broker kept it, its "
                                                        "age is unknown (publish it with \"ts\", or not retained)")
                return None
            ts, arrival_stamped = time.time(), True
        return Record(ts=ts, values={sensor: number}, origin=where, arrival_stamped=arrival_stamped, ts_text=ts_text)

    def records(self) -> Iterator[Record]:
        try:
            while not self._stop.is_set():
                self.reporter.settle()          # the end of a flap, said once it holds
                self._ask_again()
                self._watch_delivery()
                try:
                    yield self._samples.get(timeout=POLL_S)
                except queue.Empty:
                    continue
        finally:
            self.client.disconnect(properties=self._session_ends())
            self.client.loop_stop()

    def _session_ends(self):
        """MQTT 5: the last DISCONNECT ends the session at once (no one resumes it); None on 3.1.1."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        if self.client.protocol != mqtt.MQTTv5:
            return None
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0
        return props

    def close(self) -> None:
        self._stop.set()


PLUGIN = Plugin(config=MqttSourceConfig, create=MqttSource)
