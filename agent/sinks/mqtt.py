"""Alert events, fault events and health to an MQTT broker, with nothing lost on the way.

Topics, under `<prefix>/<site>/<node>/`:
    alerts   alert events, JSON, QoS 1, not retained (MQTT 5: content type, optional expiry)
    status   `online` (retained, on every connect) / `offline` (retained: Last Will and clean shutdown)
    health   the agent's health, JSON, retained: at most every `health_interval_s`, and the last
             snapshot on a clean stop (before `offline`), so the retained one is never older than the stop
    faults   sensor fault events (fault / fault_update / fault_end), JSON, QoS 1, not retained — through the
             outbox like alerts (schemas/fault.schema.json)
    feedback         operator verdicts in, subscribed only with the sink's `feedback` key (agent/feedback.py)
    feedback/result  the answer to each feedback message, JSON, QoS 1

Every alert and fault event is committed to the outbox (agent/outbox.py) before it reaches paho and is
deleted only on its PUBACK. One worker thread does all publishing: it hands paho at most
`WINDOW` unacknowledged alert events, and only while connected, so paho's in-memory queue never
holds the only copy. When a connection is lost, every unacknowledged event is sent again after
the reconnect, in order, marked `replayed: true` — delivery is at-least-once; subscribers
de-duplicate by (alert_id, seq).

A broker can refuse a publish it received (MQTT 5: a PUBACK with a failure reason code, e.g.
0x87 not authorised by an ACL). The answer is final for that event: it is deleted from the
outbox and counted as dropped (`refused`), never sent again by the sink — sending it again later would
put it after newer events, and keeping it would block them or fill the outbox. It is not lost: it is
first written, exactly as sent, to `state_dir/mqtt-refused.jsonl` (agent/refused_file.py: bounded in
bytes, said when it cannot write) for an operator to re-send once the ACL is mended (qa28). One line is
logged when refusals start on a topic (per reason, naming the topic — alerts or faults — the first
refused event and that file) and one when the broker accepts events there again. A refused status, health or
feedback result (not outbox events) is said once per topic and reason and kept in the sink's
`refused_topics` (health) until accepted: a refused status also means the Last Will on that topic
is dropped by the broker without a word (Mosquitto 2.0.11, with acl_file and dynamic security
alike), so subscribers cannot see this gateway go offline. MQTT 3.1.1 has no way to say so: a
broker acknowledges a refused publish as delivered, so the sink warns at start that refusals
cannot be seen with protocol 3.1.1.

The worker also acknowledges in batches (one outbox transaction for the PUBACKs that arrived
together) and runs the outbox's WAL checkpoints, so neither happens on the agent's tick path.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from ..alerts import AlertEvent, iso
from ..broker import MQTT_STRING_BYTES, BrokerConfig, topic_name_problem
from ..feedback import FeedbackConfig, FeedbackRequest, Refused, parse as parse_feedback
from ..json_safe import json_safe
from ..plugins import Plugin
from ..refused_file import RefusedFile
from ..typed import doc, rng
from .base import Sink, SinkConfig, SinkContext

if TYPE_CHECKING:
    from ..outbox import StoredEvent

log = logging.getLogger("stad.sink.mqtt")

WINDOW = 64                 # alert events handed to paho and not yet acknowledged
FLUSH_ON_CLOSE_S = 3.0      # close() waits this long at most for the outbox to drain
CHECKPOINT_EVERY_S = 1.0    # the worker checkpoints the outbox's WAL this often (when it was written)
OUTBOX_FILE = "mqtt-outbox.sqlite"
REFUSED_FILE = "mqtt-refused.jsonl"   # the events the broker refused, for an operator (agent/refused_file.py)
JSON = "application/json"

_CONNECTED, _LOST, _ACK, _WAKE, _HEALTH, _STOP, _FEEDBACK = range(7)


@dataclass
class OutboxConfig:
    max_events: int = rng(10, None, default=100_000,
        doc="bound on unacknowledged alert events kept on disk (the oldest are dropped, counted)")
    max_age_s: float = rng(60, None, default=7 * 86400.0, doc="events older than this are dropped (counted)")
    sync: Literal["normal", "full"] = doc(
        "an event stored is synced to disk before the agent goes on (survives a power cut) either way; `full` syncs "
        "the acknowledgements' deletes too (`normal`: a power cut may send an acknowledged event again)",
        default="normal")


@dataclass
class MqttSinkConfig(SinkConfig):
    TYPE: ClassVar[str] = "mqtt"
    broker: BrokerConfig = doc("the broker to publish to", default_factory=BrokerConfig)
    prefix: str = doc("topics are `<prefix>/<site>/<node>/alerts|status|health|faults`; the longest, "
              "`<prefix>/<site>/<node>/feedback/result`, must fit MQTT's 65,535 bytes (check-config)", default="stad")
    # a four-byte unsigned integer in the PUBLISH: past it (or below 1) paho failed to pack every alert, which then
    # stayed in the outbox for ever (review39)
    alert_expiry_s: int | None = rng(1, 4_294_967_295, default=None,
                                     doc="MQTT 5 message expiry for alert events (null: none)")
    health_interval_s: float = rng(1, None, default=30.0, doc="at most one health message this often")
    outbox: OutboxConfig = doc(
        "the on-disk outbox that keeps alert events until the broker acknowledges them",
        default_factory=OutboxConfig)
    feedback: FeedbackConfig | None = doc(
        "take operator feedback on `<prefix>/<site>/<node>/feedback` (see Operator feedback); null: off",
        default=None)

    # One outbox file per state_dir (OUTBOX_FILE), and health and /metrics keep one set of counts per sink type:
    # two mqtt sinks sent each other's rows, and one broker's acknowledgement deleted what the other never got.
    ONE_PER_AGENT: ClassVar[str | None] = (
        f"two would share one outbox (state_dir/{OUTBOX_FILE}): one broker's ack deletes events the other never "
        "got; reach a second broker with a Mosquitto bridge")

    def validate(self) -> list[tuple[str, str]]:
        problem = topic_name_problem(self.prefix, levels=True)
        return [("prefix", problem)] if problem else []

    def topic_problems(self, site: str, node: str) -> list[tuple[str, str]]:
        if not all(isinstance(part, str) and not topic_name_problem(part, levels) for part, levels in
                   ((self.prefix, True), (site, False), (node, False))):
            return []                   # already reported
        problem = topic_length_problem(self.prefix, site, node)
        return [("prefix", problem)] if problem else []

    def mqtt_client(self, site: str, node: str) -> tuple[str, int, str] | None:
        b = self.broker
        return (b.host, b.port, self.client_id(site, node)) if isinstance(b, BrokerConfig) else None

    def mqtt_topics(self, site: str, node: str) -> tuple[str, int, list[str]] | None:
        if not isinstance(self.broker, BrokerConfig):
            return None                 # already reported
        try:
            base = topic_base(self.prefix, site, node)
        except ValueError:
            return None                 # already reported
        return self.broker.host, self.broker.port, [f"{base}/{leaf}" for leaf in PUBLISHED]

    def client_id(self, site: str, node: str) -> str:
        """broker.client_id, or `stad-<site>-<node>`."""
        return self.broker.client_id or f"stad-{site}-{node}"

    def preflight(self, resolve) -> list[tuple[str, str]]:
        return [(f"broker.{key}", m) for key, m in self.broker.preflight(resolve)]


#: the topics the sink publishes, under <prefix>/<site>/<node>/ (MqttSink's *_topic attributes, in this order)
PUBLISHED = ("alerts", "status", "health", "faults", "feedback/result")


def encode_json(obj) -> str:
    """Strict JSON (NaN and infinities become null; numpy values become plain numbers)."""
    return json.dumps(json_safe(obj), separators=(",", ":"), allow_nan=False, default=str)


def topic_base(prefix: str, site: str, node: str) -> str:
    """`<prefix>/<site>/<node>`; the config's load has refused names that cannot be used (topic_name_problem) and
    topics longer than MQTT carries (topic_length_problem)."""
    for what, part, levels in (("prefix", prefix, True), ("node.site", site, False), ("node.id", node, False)):
        problem = topic_name_problem(part, levels)
        if problem:
            raise ValueError(f"MQTT sink: {what} {problem}")
    problem = topic_length_problem(prefix, site, node)
    if problem:
        raise ValueError(f"MQTT sink: prefix: {problem}")
    return f"{prefix}/{site}/{node}"


def topic_length_problem(prefix: str, site: str, node: str) -> str | None:
    """Why the sink's longest topic, `<prefix>/<site>/<node>/feedback/result`, cannot go into an MQTT packet (a topic
    is an MQTT string: 65,535 bytes at most), or None. Unchecked (review40: a prefix of 70,000 bytes), check-config
    said ok and paho packed the CONNECT's Last Will topic with a struct error in its network thread, which then
    ended: the sink never connected, said no outage, and every alert waited in the outbox for good."""
    longest = f"{prefix}/{site}/{node}/{max(PUBLISHED, key=len)}"
    size = len(longest.encode("utf-8", "surrogatepass"))
    if size <= MQTT_STRING_BYTES:
        return None
    return (f"the topics built from it are too long for MQTT: {longest[:40]}… is {size:,} bytes (prefix "
            f"{len(prefix.encode('utf-8', 'surrogatepass')):,}, node.site {len(site.encode('utf-8', 'surrogatepass')):,}, "
            f"node.id {len(node.encode('utf-8', 'surrogatepass')):,}); MQTT carries at most {MQTT_STRING_BYTES:,}")


class MqttSink(Sink):
    TYPE = "mqtt"
    # The outbox's (agent/outbox.py: its bounds, a store that fails, a corrupt row) and the broker's refusals.
    DROP_REASONS = ("corrupt", "max_age", "max_events", "not_stored", "refused")
    DURABLE = True

    def __init__(self, cfg: MqttSinkConfig, context: SinkContext):
        # paho is imported when the sink is opened: a config naming it loads without paho.
        from ..mqtt_client import ConnectionReporter, build_client, connect, publish_properties
        from ..outbox import Outbox     # sqlite3, likewise: only when this sink is configured
        self.cfg = cfg
        self.node, self.site = context.node_id, context.site
        base = topic_base(cfg.prefix, self.site, self.node)
        (self.alerts_topic, self.status_topic, self.health_topic, self.faults_topic,
         self.feedback_result_topic) = (f"{base}/{leaf}" for leaf in PUBLISHED)
        self.feedback_topic = f"{base}/feedback"       # (subscribed to, not published)
        if cfg.feedback is not None and context.feedback is None:
            raise ValueError("MQTT sink: feedback is configured but nothing applies it (it needs the agent)")
        self._deliver_feedback = context.feedback
        state_dir = Path(context.resolve(context.state_dir))
        self.outbox = Outbox(state_dir / OUTBOX_FILE, cfg.outbox.max_events, cfg.outbox.max_age_s,
                             sync=cfg.outbox.sync, clock=context.clock,
                             boot_clock=context.boot_clock)
        self.refused_file = RefusedFile(state_dir / REFUSED_FILE)
        if self.outbox.recovered:
            log.info("outbox holds %d alert event(s) not acknowledged before the last stop; "
                     "they will be replayed", self.outbox.recovered)

        broker = cfg.broker
        if broker.protocol == "3.1.1":
            log.warning("MQTT alerts: protocol 3.1.1 cannot report a publish the broker refuses (e.g. denied by "
                        "an ACL): such alert events are acknowledged as delivered and lost without a count; "
                        "use protocol 5 to have refusals counted")
        self.client = build_client(broker, cfg.client_id(self.site, self.node), resolve=context.resolve)
        self.client.max_inflight_messages = WINDOW + 16   # leaves room for status/health
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.reporter = ConnectionReporter(broker, "alerts", log,
                                           consequence="alert events are kept in the outbox until it is back")
        self.reporter.on_connected = lambda client: self._queue.put((_CONNECTED,))
        self.reporter.on_lost = lambda client: self._queue.put((_LOST,))
        self.reporter.install(self.client)
        self.client.on_publish = lambda client, userdata, mid, rc, props: self._queue.put((_ACK, mid, rc))
        if cfg.feedback is not None:
            self.client.message_callback_add(self.feedback_topic, self._on_feedback)
        self.alert_props = publish_properties(self.client, JSON, cfg.alert_expiry_s)
        self.json_props = publish_properties(self.client, JSON)

        self._queue: queue.Queue = queue.Queue()
        self._connected = False          # the worker's view; only the worker writes it
        # paho message id -> (outbox row id, topic, event, payload as sent: kept if the broker refuses it)
        self._mids: dict[int, tuple[int, str, str, str]] = {}
        self._others: dict[int, str] = {}   # paho message id -> topic of a status, health or feedback result
        self._cursor = 0                 # highest stored outbox row id handed in this connection
        self._held_cursor = 0            # highest held row id (outbox.HELD_ID_BASE and up) handed in it
        self._held_moved = self.outbox.held_moved   # the outbox's held_moved when the cursor was last valid
        self._latest_health: str | None = None
        self._unsent_health: dict | None = None     # a snapshot health_interval_s held back (agent's thread)
        self._next_health = 0.0
        self._refusing: dict[str, tuple[str, int]] = {}  # topic -> (its last refusal, events refused since)
        self.refused_topics: dict[str, str] = {}     # status/health/feedback result topic -> the broker's reason
        self._acks: list[int] = []           # outbox rows acknowledged, deleted in one batch
        # monotonic time of the last PUBACK, or of the first publish handed while none was in flight
        self._acked_at = 0.0
        self._unacked_said = False           # a broker acknowledging nothing is said: once, until it acknowledges
        self._next_checkpoint = 0.0
        self.feedback_results_unsent = 0
        self._worker = threading.Thread(target=self._work, name="mqtt-sink", daemon=True)
        self._worker.start()
        connect(self.client, broker)
        self.client.loop_start()

    # -- the agent's side: quick, never waits for the broker --------------------------------------

    def emit(self, event: AlertEvent) -> None:
        payload = encode_json(event.to_dict())
        # Stored during a known outage: it will reach subscribers late, so it says so.
        self.outbox.add(event.alert_id, event.seq, event.event, payload, replay=self.reporter.problem is not None)
        self._queue.put((_WAKE,))

    def recover(self, event: AlertEvent) -> None:
        """Still in the outbox: it goes out as it is. Settled (the outbox remembers it, or a later one of its alert:
        `Outbox.settled`) — acknowledged, or dropped and counted (refused, past a bound): nothing to do — before, it
        was stored again and a subscriber got it twice after every restart (qa50), a dropped one sent (or refused)
        once more (qa51). Neither: never stored (a run that died in between); stored now as a replay (subscribers
        de-duplicate by alert_id, seq)."""
        if self.outbox.has(event.alert_id, event.seq) or self.outbox.settled(event.alert_id, event.seq):
            return
        self.outbox.add(event.alert_id, event.seq, event.event, encode_json(event.to_dict()), replay=True)
        self._queue.put((_WAKE,))

    def recover_faults(self, events) -> None:
        """As recover(), for the fault journal's events (subscribers de-duplicate by fault_id, seq)."""
        self.outbox.add_many([(e.fault_id, e.seq, e.event, encode_json(e.to_dict()), True) for e in events
                              if not (self.outbox.has(e.fault_id, e.seq) or self.outbox.settled(e.fault_id, e.seq))])
        self._queue.put((_WAKE,))

    def health_every_s(self) -> float | None:
        return self.cfg.health_interval_s

    def health(self, snapshot: dict) -> None:
        now = time.monotonic()
        if now < self._next_health:
            self._unsent_health = snapshot      # the newest: close() sends it, so the retained one is the last
            return
        self._next_health = now + self.cfg.health_interval_s
        self._unsent_health = None
        self._queue.put((_HEALTH, encode_json(self.health_payload(snapshot))))

    def health_payload(self, snapshot: dict) -> dict:
        model = snapshot.get("model") or {}
        rejected = snapshot.get("rejected") or {}
        return {**snapshot, "ts": iso(time.time()), "node": self.node, "site": self.site,
                "health_interval_s": self.cfg.health_interval_s,     # a subscriber's staleness rule reads it (user28)
                "model_id": model.get("model_id", snapshot.get("tier")),
                "rejected_total": sum(rejected.values()),
                "outbox": self.outbox.stats()}

    def stats(self) -> dict:
        """The outbox (depth, oldest age, drops by reason), whether the broker is connected, its
        outages since start (how many, the last one's times), and the topics whose publishes the broker
        refuses besides the outbox's (status, health, feedback result: topic -> reason), and the file that
        keeps the alert and fault events it refused (path, kept, not_kept, rotated_away, problem)."""
        return {**self.outbox.stats(), "connected": self.reporter.connected, **self.reporter.outage_stats(),
                "refused_topics": dict(self.refused_topics), "refused_file": self.refused_file.stats()}

    def dropped_this_run(self) -> dict[str, int]:
        """This life's drops: the outbox's `dropped` (health) counts every life's since the file was made."""
        return dict(self.outbox.dropped_this_run)

    def fault(self, event) -> None:
        self.faults([event])

    def faults(self, events) -> None:
        """One tick's fault events stored in one outbox transaction: one disk sync however many (chaos9)."""
        replay = self.reporter.problem is not None
        self.outbox.add_many([(e.fault_id, e.seq, e.event, encode_json(e.to_dict()), replay) for e in events])
        self._queue.put((_WAKE,))

    def _on_feedback(self, client, userdata, msg) -> None:
        """paho's thread: parse, then hand to the agent's loop, which applies it and answers."""
        try:
            request = FeedbackRequest(parse_feedback(msg.payload), None, self.answer_feedback)
        except Refused as exc:
            request = FeedbackRequest(None, str(exc), self.answer_feedback)
        self._deliver_feedback(request)

    def answer_feedback(self, result: dict) -> None:
        self._queue.put((_FEEDBACK, encode_json({**result, "ts": iso(time.time()), "node": self.node,
                                                 "site": self.site})))

    def close(self) -> None:
        deadline = time.monotonic() + FLUSH_ON_CLOSE_S
        while self.reporter.connected and self.outbox.depth > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.outbox.depth:
            log.warning("%d alert event(s) stay in the outbox for the next start", self.outbox.depth)
        if self._unsent_health is not None:
            # The agent's last snapshot (its alerts and faults ended, its final counts): health is
            # retained, so without it a subscriber would read an earlier one — an alert still active —
            # for as long as the agent stays stopped.
            self._queue.put((_HEALTH, encode_json(self.health_payload(self._unsent_health))))
        self._queue.put((_STOP,))
        self._worker.join(timeout=2.0)
        if self.client.is_connected():
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                log.debug("offline status not acknowledged before disconnect")
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()

    # -- the worker: every publish happens here ----------------------------------------------------

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=CHECKPOINT_EVERY_S)
            except queue.Empty:
                item = (_WAKE,)
            kind = item[0]
            try:
                if kind == _STOP:
                    self._flush_acks()
                    return
                if kind == _CONNECTED:
                    self._on_connected()
                elif kind == _LOST:
                    self._connected = False
                    self._mids.clear()
                    self._others.clear()
                    self._flush_acks()
                    self.outbox.requeue()
                elif kind == _ACK:
                    self._on_ack(item[1], item[2])
                elif kind == _HEALTH:
                    self._latest_health = item[1]
                    if self._connected:
                        self._publish_health()
                elif kind == _FEEDBACK:
                    if self._connected:
                        self._publish(self.feedback_result_topic, item[1], properties=self.json_props)
                    else:
                        self.feedback_results_unsent += 1
                if self._queue.empty():
                    self._flush_acks()
                    self._checkpoint()
                    self.reporter.settle()
                self._check_unacknowledged()
                self._pump()
            except Exception:  # noqa: BLE001 — the worker must outlive one bad message
                log.exception("MQTT sink worker failed on message kind %d", kind)

    def _on_connected(self) -> None:
        self._connected = True
        self._mids.clear()
        self._others.clear()
        self._cursor = self._held_cursor = 0
        self._publish(self.status_topic, "online", retain=True)
        if self.cfg.feedback is not None:
            self.client.subscribe(self.feedback_topic, qos=1)
        if self._latest_health is not None:
            self._publish_health()
        self._say_outbox()

    def _say_outbox(self) -> None:
        """What the outbox sends now: the events past outbox.max_age_s dropped first, so the count said is the
        count sent (user24 saw `sending 1` and at once that one dropped for its age)."""
        aged = self.outbox.expire()
        why = (f"{aged} older than outbox.max_age_s ({self.cfg.outbox.max_age_s:g} s) dropped first, counted as "
               f"max_age") if aged else ""
        if self.outbox.depth:
            log.info("MQTT alerts: sending %d alert event(s) from the outbox%s", self.outbox.depth,
                     f" ({why})" if why else "")
        elif aged:
            log.info("MQTT alerts: nothing to send from the outbox: %s", why)

    def _publish_health(self) -> None:
        self._publish(self.health_topic, self._latest_health, retain=True, properties=self.json_props)

    def _publish(self, topic: str, payload: str, retain: bool = False, properties=None) -> None:
        """A status, health or feedback result (QoS 1): its PUBACK is looked at (_on_other_ack)."""
        self._handing()
        self._others[self.client.publish(topic, payload, qos=1, retain=retain, properties=properties).mid] = topic

    def _check_unacknowledged(self) -> None:
        """A broker that takes every PUBLISH and acknowledges none — its store stuck, a proxy that keeps the connection
        and loses what goes through it — while it answers the keep-alive: the events in flight (at most WINDOW) waited
        for good, nothing more was sent, and nothing said so (health: connected; review40). MQTT sends an
        unacknowledged PUBLISH again only on a new connection: after keepalive_s with none of them acknowledged, the
        connection is closed from this side (ConnectionReporter.drop) and they go out again after the reconnect, as
        replays. The status and health published meanwhile count too: paho would keep them for good. Said once, until
        the broker acknowledges again."""
        if not (self._connected and (self._mids or self._others)):
            return
        waited = time.monotonic() - self._acked_at
        if waited < self.cfg.broker.keepalive_s:
            return
        if not self._unacked_said:
            self._unacked_said = True
            log.warning("MQTT alerts: broker %s:%d has acknowledged none of the %d alert event(s) and %d status or health "
                        "message(s) in flight for %.0f s (keepalive_s %d): reconnecting to send them again, as replays; "
                        "the events stay in the outbox until acknowledged (said once, until the broker acknowledges "
                        "again)", self.cfg.broker.host, self.cfg.broker.port, len(self._mids), len(self._others), waited,
                        self.cfg.broker.keepalive_s)
        self._acked_at = time.monotonic()           # one drop per wait: the reconnect empties the window
        self.reporter.drop(self.client)

    def _on_ack(self, mid: int, reason_code) -> None:
        if mid in self._mids or mid in self._others:
            self._acknowledged()
        row_id, topic, event, payload = self._mids.pop(mid, (None, "", "", ""))
        if row_id is None:
            self._on_other_ack(mid, reason_code)
            return
        if reason_code.is_failure:
            reason = f"{reason_code} (reason code 0x{reason_code.value:02X})"
            self.refused_file.keep(topic, payload, reason, event)      # before the outbox lets it go
            self.outbox.drop(row_id, "refused")
            last, since = self._refusing.get(topic, (None, 0))
            self._refusing[topic] = (reason, since + 1)
            if reason != last:
                log.error("MQTT broker refuses %s events on %s: %s (first: %s); each refused event is dropped from "
                          "the outbox and counted (outbox.dropped.refused), not sent again by the agent, and kept "
                          "in %s to re-send by hand (docs/operations.md: A broker that refuses by ACL); let this "
                          "client's user publish there (the broker's ACL)", self._kind(topic), topic, reason, event,
                          self.refused_file.path)
            return
        if topic in self._refusing:
            log.warning("MQTT broker accepts %s events on %s again (%d refused and dropped meanwhile)",
                        self._kind(topic), topic, self._refusing.pop(topic)[1])
        self._acks.append(row_id)

    def _acknowledged(self) -> None:
        """A PUBACK of this connection's: the wait for one starts again (`_check_unacknowledged`)."""
        self._acked_at = time.monotonic()
        if self._unacked_said:
            self._unacked_said = False
            log.warning("MQTT alerts: broker %s:%d acknowledges again", self.cfg.broker.host, self.cfg.broker.port)

    def _handing(self) -> None:
        """A publish is handed to paho: with none in flight before it, the wait for an acknowledgement starts."""
        if not (self._mids or self._others):
            self._acked_at = time.monotonic()

    def _kind(self, topic: str) -> str:
        return "fault" if topic == self.faults_topic else "alert"

    def _on_other_ack(self, mid: int, reason_code) -> None:
        topic = self._others.pop(mid, None)
        if topic is None:
            return              # a copy from before a reconnect
        if not reason_code.is_failure:
            if self.refused_topics.pop(topic, None) is not None:
                log.warning("MQTT broker accepts %s again", topic)
            return
        reason = f"{reason_code} (reason code 0x{reason_code.value:02X})"
        if self.refused_topics.get(topic) == reason:
            return
        self.refused_topics[topic] = reason
        what = {self.status_topic: "this gateway's retained `online` is not published — and the broker drops the "
                                   "Last Will `offline` on that topic too, without a word: subscribers cannot see "
                                   "this gateway go offline",
                self.health_topic: "its retained health is not published (health stays on /metrics and the log)",
                }.get(topic, "operator feedback gets no answer")
        log.error("MQTT broker refuses publishes on %s: %s; %s; let this client's user publish there (the broker's "
                  "ACL)", topic, reason, what)

    def _flush_acks(self) -> None:
        if self._acks:
            acks, self._acks = self._acks, []
            self.outbox.ack(*acks)

    def _checkpoint(self) -> None:
        now = time.monotonic()
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + CHECKPOINT_EVERY_S
            self.outbox.checkpoint()

    def _pump(self) -> None:
        # Rows up to the cursor are in flight or acknowledged (their batch not deleted yet); the
        # outbox's depth says whether any lie beyond them, so an ACK with nothing new waiting costs no query.
        if self.outbox.held_moved != self._held_moved:
            # Events sent from memory while the disk was full are stored now, under ids below the
            # cursor: start again from the oldest, what is in flight going out again as replays.
            self._held_moved = self.outbox.held_moved
            self._flush_acks()
            self._mids.clear()
            self._cursor = self._held_cursor = 0
            self.outbox.requeue()
        while (self._connected and len(self._mids) < WINDOW
               and self.outbox.depth - len(self._acks) > len(self._mids)):
            batch = self.outbox.pending(after=self._cursor, limit=WINDOW - len(self._mids),
                                        held_after=self._held_cursor)
            if not batch:
                return
            for stored in batch:
                try:
                    payload = self._payload(stored)
                except (ValueError, RecursionError) as exc:
                    # A row damaged on disk (one saved from a corrupt outbox): sending it would fail
                    # again at every wake and hold back every event after it.
                    self.outbox.drop(stored.id, "corrupt")
                    log.error("outbox row %d (%s #%d) is not a JSON event (%s): dropped, counted as corrupt",
                              stored.id, stored.alert_id, stored.seq, str(exc)[:80])
                    self._advance(stored)
                    continue
                topic = self.faults_topic if stored.is_fault else self.alerts_topic
                props = self.json_props if stored.is_fault else self.alert_props
                self._handing()
                info = self.client.publish(topic, payload, qos=1, properties=props)
                self._mids[info.mid] = (stored.id, topic, f"{stored.alert_id} #{stored.seq} {stored.kind}", payload)
                self.outbox.handed(stored.id)
                self._advance(stored)

    def _advance(self, event: StoredEvent) -> None:
        """Past this event: a stored one moves the stored cursor, a held one (sent from memory) the held one."""
        if event.held:
            self._held_cursor = event.id
        else:
            self._cursor = event.id

    @staticmethod
    def _payload(stored: StoredEvent) -> str:
        if not stored.replay:
            return stored.payload
        event = json.loads(stored.payload)
        if not isinstance(event, dict):     # (a damaged row can still be JSON: no event, no "replayed")
            raise ValueError(f"a JSON {type(event).__name__}, not an event object")
        event["replayed"] = True
        return encode_json(event)


PLUGIN = Plugin(config=MqttSinkConfig, create=MqttSink)
