"""The chaos soak's other sources (bench/chaos.py --source modbus|mqtt): a Modbus TCP device of the driver's own and
an MQTT publisher, each with the faults a gateway meets in the field, and the invariants those faults bring.

Why its own devices: the udp feed (chaos1) cannot show what a gateway's real peers do. A PLC resets the TCP
connection, answers with exception codes, answers slowly (past the poll), answers with another number of registers,
freezes its values (its scan stopped), goes away for minutes and comes back with another register map; an MQTT
source's broker restarts (the sink's own, or another), keeps a stale retained reading, its publisher floods it or
sends garbage, a topic falls silent. pymodbus's server always answers correctly, so the device here speaks the
framing itself (MBAP header, functions 3/4, exception responses) on a real 127.0.0.1 socket; the agent's source reads
it with pymodbus as it reads a PLC. The publisher is paho on real Mosquitto.

Invariants added (bench/chaos_check.py holds the common ones):
- what the device answered wrongly is counted by the life that read it, by reason: every exception or wrong-count
  answer one `modbus error`, every read of a NaN float32 one `non-finite value` (at most one answer in flight at a
  clean stop unread), and no reason counted that the faults do not explain;
- the MQTT publisher's bad payloads, each under its reason (none counted more than sent; fewer only for those sent
  while the source could not have them: a broker fault, a life starting or stopping), nothing else rejected but
  what a retained reading, a flood or a cleared retained message explain;
- a device or broker that goes away, or a topic that falls silent, is a fault, not an incident: while it lasts (from
  OUTAGE_JUDGED_S on, in a warm life that outlives it) a fault covering its sensors is open, and no alert starts
  inside it (for a lone topic: none names its sensor among its top sensors) — unless its life had taken no record
  yet (started while the whole feed was away, waiting through it for its first data): that silence is the restart
  gap's, skipped and said so in the life's log (qa41), no fault (chaos4).
"""
from __future__ import annotations

import json
import math
import random
import socket
import struct
import threading
import time
from collections import Counter
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

#: An outage shorter than this is not judged (carry_forward_s 1.5 s, the ticks' lateness, the fault's telling)
OUTAGE_JUDGED_S = 6.0
#: … nor one its life did not outlive by this much (a fault decided late, once ticks close again)
OUTAGE_AFTER_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(agent):
    """The life whose process runs now (a clean stop's last polls are its own), or None."""
    life = agent.life
    return life if life is not None and life.proc.poll() is None else None


def rss_kb(pid: int) -> int | None:
    """The process's resident set now (VmRSS, KiB); None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:")), None)
    except (OSError, ValueError):
        return None


def flood_begins(feeder) -> tuple:
    """(the life running as a flood starts, the flood's record: its start and that life's RSS); the feeder told
    it floods. The udp Flood (bench/chaos.py) and MqttFlood record their floods alike (`flood_ends`)."""
    with feeder.agent.lock:
        first = feeder.agent.life
    flood = {"start": time.time(), "rss_kb_before": rss_kb(first.proc.pid) if first else None}
    feeder.flooding.set()
    return first, flood


def flood_ends(feeder, first, flood: dict, **fields) -> None:
    """The flood's record ended (`fields` added) and kept by the life it began in, with that life's RSS after it —
    if that life still runs (one across a restart: its counts are its lives')."""
    flood.update(end=time.time(), **fields)
    with feeder.agent.lock:
        life = feeder.agent.life
    if life is not None and life is first:
        flood["rss_kb_after"] = rss_kb(life.proc.pid)
        life.floods.append(flood)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class ModbusDevice:
    """A Modbus TCP device on 127.0.0.1:`port` holding each sensor as a float32 (ABCD) in two holding registers
    (sensor i at 10 + 2i). Its `mode` makes it misbehave: 'exception' (every read answered exception `code`),
    'slow' (each answer after `delay` s), 'short' (one register fewer or more than asked), 'nan' (sensor `nan`
    reads NaN); `reset()` resets every connection, `down()`/`up(remapped)` stop and start listening, remapped: the
    map moved by 100 registers (the configured addresses then answer exception 2, illegal data address)."""

    def __init__(self, sensors: list[str], agent, seed: int):
        self.sensors, self.agent = sensors, agent
        self.port = free_port()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.offset = 0
        self.words: dict[int, int] = {}
        self.mode: str | None = None
        self.code, self.nan, self.extra = 2, None, -1
        self.conns: set[socket.socket] = set()
        self.server: socket.socket | None = None
        self.answers = Counter()        # kind of answer → how many (all lives)
        self.slow_s = (0.6, 2.5)        # 'slow': each answer's delay, uniform in this range
        self.up_at: float | None = None         # time.monotonic() it last started listening …
        self.asked_after_up: list[float] = []   # … and per start, how long until the first request came (s)

    def addresses(self) -> dict[str, int]:
        return {s: 10 + 2 * i for i, s in enumerate(self.sensors)}

    def set_values(self, reading: dict) -> None:
        with self.lock:
            for s, a in self.addresses().items():
                if s in reading:
                    hi, lo = struct.unpack(">HH", struct.pack(">f", reading[s]))
                    self.words[a + self.offset], self.words[a + self.offset + 1] = hi, lo

    def up(self, remapped: bool = False) -> None:
        with self.lock:
            self.offset = 100 if remapped else 0
            self.words = {a + self.offset + i: 0 for a in self.addresses().values() for i in (0, 1)}
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.up_at = time.monotonic()
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            # shutdown first: close() alone leaves the listening socket open in the kernel while the accept thread
            # blocks in accept(), which then takes the next connection (the device was never away)
            try:
                self.server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.server.close()
            self.server = None
        self.reset()

    def reset(self) -> None:
        """RST on every open connection (a PLC rebooting, or over its connection limit)."""
        with self.lock:
            conns, self.conns = self.conns, set()
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            except OSError:
                pass

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with self.lock:
                self.conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _count(self, reason: str) -> None:
        with self.agent.lock:
            life = _running(self.agent)
            if life is not None:
                life.bad_sent[reason] += 1

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                head = _recv_exact(conn, 7)
                if head is None:
                    return
                tid, _, length, unit = struct.unpack(">HHHB", head)
                pdu = _recv_exact(conn, length - 1)
                if pdu is None or len(pdu) < 5:
                    return
                with self.lock:
                    if self.up_at is not None:
                        self.asked_after_up.append(round(time.monotonic() - self.up_at, 1))
                        self.up_at = None
                answer = self._answer(pdu)
                if answer is None:
                    continue
                delay, reason, body = answer
                if delay:
                    time.sleep(delay)
                conn.sendall(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
                if reason:
                    self._count(reason)
        except OSError:
            return
        finally:
            with self.lock:
                self.conns.discard(conn)
            conn.close()

    def _answer(self, pdu: bytes) -> tuple[float, str | None, bytes] | None:
        fc, start, count = pdu[0], *struct.unpack(">HH", pdu[1:5])
        with self.lock:
            mode, words = self.mode, dict(self.words)
            delay = self.rng.uniform(*self.slow_s) if mode == "slow" else 0.0
            if fc != 3:
                self.answers["exception 1"] += 1
                return delay, "modbus error", bytes([fc | 0x80, 1])
            if mode == "exception" or any(a not in words for a in range(start, start + count)):
                code = self.code if mode == "exception" else 2
                self.answers[f"exception {code}"] += 1
                return delay, "modbus error", bytes([fc | 0x80, code])
            regs = [words[a] for a in range(start, start + count)]
            reason = None
            if mode == "nan" and self.nan is not None:
                a = self.addresses()[self.nan] + self.offset
                if start <= a and a + 1 < start + count:
                    regs[a - start], regs[a - start + 1] = 0x7FC0, 0x0000
                    reason = "non-finite value"
            if mode == "short":
                regs = regs[:-1] if self.extra < 0 else regs + [0]
                reason = "modbus error"
            self.answers[reason or ("slow" if delay else "right")] += 1
        return delay, reason, bytes([3, 2 * len(regs)]) + struct.pack(f">{len(regs)}H", *regs)


class MqttPublisher:
    """A publisher on the source's broker (paho, user viewer): per sensor `plant/<sensor>` ({"ts", "value"}, QoS 0)
    and `plant/any` (a JSON line naming its sensors, for the source's '*' filter)."""

    def __init__(self, port: int, password: str, name: str = "pub"):
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"chaos-{name}-{random.getrandbits(32):08x}")
        self.client.username_pw_set("viewer", password)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        self.client.max_queued_messages_set(1000)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> bool:
        if not self.connected.is_set():
            return False
        return self.client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS

    def publish_acked(self, topic: str, payload: bytes | str, retain: bool = False, timeout: float = 5.0) -> bool:
        """Published at QoS 1 and acknowledged by the broker within `timeout` (a retained message the soak must know
        the broker holds, or no longer holds)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


#: MQTT bad payloads: kind → (topic's sensor, or 'any' for the '*' topic; the reject reason it must be counted under)
MQTT_BAD = {
    "junk": ("b", "bad payload"), "json list": ("b", "bad number"), "not utf-8": ("b", "bad payload"), "no value": ("b", "bad payload"),
    "nan": ("b", "non-finite value"), "bad ts": ("b", "bad time"), "key twice": ("b", "duplicate key"),
    "too long": ("b", "payload too long"), "junk line": ("any", "bad json"),
    "unknown sensor": ("any", "unknown sensor"), "out of range": ("b", "value out of range"),
    "far future": ("b", "clock skew"),
}
MAX_PAYLOAD = 4096


def mqtt_bad_payload(kind: str, now: float, rng: random.Random) -> bytes:
    return {
        "junk": lambda: rng.choice([b"abc!", b"--", b"12,5", b"{}x"]),
        "json list": lambda: rng.choice([b"[1, 2]", b"[]", b'["7"]']),
        "not utf-8": lambda: b"\xff\xfe\xfa" + bytes(rng.getrandbits(8) for _ in range(8)),
        "no value": lambda: json.dumps({"ts": now}).encode(),
        "nan": lambda: rng.choice([b"NaN", b"inf", b"-Infinity"]),
        "bad ts": lambda: json.dumps({"ts": "yesterday", "value": 1.0}).encode(),
        "key twice": lambda: b'{"value": 1.0, "value": 2.0}',
        "too long": lambda: b"1" * (MAX_PAYLOAD + 1 + rng.randint(0, 10_000)),
        "junk line": lambda: b"{not json " + str(rng.random()).encode(),
        "unknown sensor": lambda: json.dumps({"ts": now, "sensor": f"zz{rng.randint(0, 9)}", "value": 1.0}).encode(),
        "out of range": lambda: json.dumps({"ts": now, "value": 1e31}).encode(),
        "far future": lambda: json.dumps({"ts": now + rng.choice([3600, 86400]), "value": 2.0}).encode(),
    }[kind]()


class MqttFlood(threading.Thread):
    """A publisher gone wild for `hold_s`: the stream's reading on `plant/any`, stamped now, published (QoS 0) as
    fast as this thread can. Recorded per life as bench/chaos.py's Flood does (STATUS pace, RSS before and after)."""

    def __init__(self, feeder, port: int, password: str, hold_s: float, seed: int, away=lambda start: False):
        super().__init__(daemon=True)
        self.feeder, self.hold_s, self.rng, self.away = feeder, hold_s, random.Random(seed), away
        self.port, self.password = port, password
        self.sent = 0

    def run(self) -> None:
        feeder, agent = self.feeder, self.feeder.agent
        pub = MqttPublisher(self.port, self.password, "flood")
        pub.connected.wait(5)
        end = time.monotonic() + self.hold_s
        first, flood = flood_begins(feeder)
        try:
            while time.monotonic() < end and not feeder.stopped.is_set():
                now = time.time()
                data = json.dumps(feeder.stream.reading(now, self.rng, feeder.anomalous(now)))
                for _ in range(50):
                    if pub.publish("plant/any", data):
                        self.sent += 1
                with agent.lock:
                    life = agent.life
                    if life is not None and life.ended_by is None:
                        life.flood_sent += 50
                time.sleep(0.001)       # paho's network thread and the driver's others get a turn
        finally:
            feeder.flooding.clear()
            pub.close()
            # The source's feed away meanwhile (its broker, the publisher silent): no ticks close (window.idle_flush_s 0)
            flood_ends(feeder, first, flood, sent=self.sent, feed_away=self.away(flood["start"]))


# -- the invariants -----------------------------------------------------------------------------------------

def _t(value) -> float:
    """A utc_time of the schemas ('2026-12-06T07:00:00.500Z') as seconds since the epoch."""
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def fault_spans(faults: list[dict]) -> list[tuple[float, float, set[str], str, bool]]:
    """Per fault_id told, per part: (from when, its end — inf while open —, the sensors it covers from then, its kind,
    whether a `fault_update` told them).
    A fault's own sensors are covered from its start; a sensor a `fault_update` joined to it (a station's mate, or
    its own sensor judged again: agent/faults/station.py) from the update's time. Before (faults14) an update was
    not read: a joined sensor counted as not covered by the fault at all."""
    by_id: dict[str, dict] = {}
    for f in faults:
        span = by_id.setdefault(f["fault_id"], {"parts": [], "end": math.inf, "kind": "", "told": set()})
        if f["event"] in ("fault", "fault_update"):
            listed = set(f.get("sensors") or []) | set((f.get("evidence") or {}).get("kinds") or {}) | {f["sensor"]}
            new = listed - span["told"]
            if f["event"] == "fault":
                span["kind"] = f["kind"]
                span["parts"].append((_t(f["start"]), new, False))
            elif new:
                span["parts"].append((_t(f["ts"]), new, True))
            span["told"] |= new
        elif f["event"] == "fault_end":
            span["end"] = _t(f["ts"])
    return [(start, s["end"], sensors, s["kind"], joined) for s in by_id.values() for start, sensors, joined in s["parts"]]


#: A restart's line for a silence it waited through (agent/restart_gap.py, qa41): skipped ticks, no fault, said so.
WAITED_FOR_FIRST_DATA = "waiting for its sources' first data"


def waited_for_first_data(o: dict, outages: list[dict]) -> bool:
    """Whether `o` began while its life still waited for its first data: the whole feed away (the device, the source's
    broker, the publisher silent) from before the life's start until `o` began. Such a life took no record yet: its
    restart is pending, and the silence is the restart gap's, skipped and said as the sources' silence (qa41,
    tests/test_qa41_restart_in_device_outage.py), no fault (clock23: none claimed while a restart is pending).
    (U2-q-n-416, chaos4: a life started with the source's broker killed, then the publisher stalled.)"""
    life = o["life"]
    return any(not p["lone"] and p["start"] <= life.started and (p["end"] is None or p["end"] >= o["start"])
               for p in outages)


def check_outages(outages: list[dict], agent, alerts: list[dict], faults: list[dict]) -> dict:
    """A peer gone (device, broker, topic) is a fault, not an incident: see the module's docstring. One its life
    waited through for its first data is instead said in that life's restart-gap line (waited_for_first_data)."""
    spans = fault_spans(faults)
    untold, incidents = [], []
    for o in outages:
        life = o.get("life")
        if o["end"] is None or o["end"] - o["start"] < OUTAGE_JUDGED_S or not o.get("warm") or life is None:
            continue
        ended = life.ended_at if life.ended_at is not None else math.inf
        if ended < o["end"] + OUTAGE_AFTER_S or life.started > o["start"]:
            continue
        o["judged"] = True
        sensors = set(o["sensors"])
        when = f"{o['what']} {o['start'] - o['t0_wall']:.0f}–{o['end'] - o['t0_wall']:.0f} s (life {life.n})"
        if waited_for_first_data(o, outages):
            o["waited"] = True
            if WAITED_FOR_FIRST_DATA not in life.err.read_text(errors="replace"):
                untold.append(f"{when}: the life waited for its first data through it, and its log does not say "
                              f"{WAITED_FOR_FIRST_DATA!r}")
            continue
        covered = [s for s in spans if s[0] <= o["end"] + 5 and s[1] >= o["start"] and sensors & s[2]]
        if not covered:
            untold.append(f"{when}: no fault open for {sorted(sensors)}")
        elif all(s[4] for s in covered):
            o["joined"] = True          # (covered only by a join: before faults14, counted untold)
        for a in alerts:
            if o["lone"]:
                named = {x["sensor"] for x in a.get("top_sensors") or []}
                if o["start"] + 3 <= _t(a["ts"]) <= o["end"] and sensors & named and a["event"] != "end":
                    incidents.append(f"{o['what']}: alert {a['alert_id']} #{a['seq']} at {a['ts']} names {sorted(sensors & named)}")
            elif a["event"] == "new" and o["start"] + 3 <= _t(a["start"]) <= o["end"]:
                incidents.append(f"{o['what']} {o['start'] - o['t0']:.0f}–{o['end'] - o['t0']:.0f} s: alert "
                                 f"{a['alert_id']} started {a['start']} inside it")
    return {"a peer gone is a fault": untold, "a peer gone raises no incident": incidents}


def unnamed(life, reasons, names: str) -> list[str]:
    """The reasons (counted by a life) for which its log has no `rejected <where>: <reason>` line whose text matches
    the regular expression `names` (the device and register, or the topic: what was bad, by sensor)."""
    import re
    lines = [ln for ln in life.err.read_text(errors="replace").splitlines() if " rejected " in ln]
    return [f"life {life.n}: {r!r} counted, no log line naming it: {[ln[24:200] for ln in lines if r in ln][:2]}"
            for r in reasons if not any(f": {r}" in ln and re.search(names, ln) for ln in lines)]


#: What a Modbus soak may count besides the device's wrong answers: the outages and a poll's timing
MODBUS_MAY_COUNT = {"modbus unreachable", "duplicate", "late"}


def modbus_rejects(agent) -> dict:
    """Per life stopped cleanly: each wrong answer counted under its reason (one unread at the stop at most), and said
    in its log naming the registers (a NaN: the sensor too)."""
    from chaos_check import clean_stops
    out, named = [], []
    for _, life, counted in clean_stops(agent, out):
        for reason in ("modbus error", "non-finite value"):
            if not life.bad_sent[reason] - 1 <= counted[reason] <= life.bad_sent[reason]:
                out.append(f"life {life.n}: device answered {life.bad_sent[reason]} as {reason!r}, "
                           f"{counted[reason]} counted")
        other = {r: n for r, n in counted.items() if r not in MODBUS_MAY_COUNT | {"modbus error", "non-finite value"}}
        if other:
            out.append(f"life {life.n}: counted {other}, which no fault explains")
        named += unnamed(life, [r for r in ("modbus error",) if counted[r]], r"rejected modbus \S+: modbus error — "
                         r"holding registers? \d+(\.\.\d+)? \(sensors? [^)]+\): ")     # (qa52: its sensors named)
        named += unnamed(life, [r for r in ("non-finite value",) if counted[r]],
                         r"rejected modbus \S+: non-finite value — \w+: float32 at holding registers \d+\.\.\d+ reads")
    return {"device's wrong answers counted by reason": out, "each named in the log (register, sensor)": named}


#: What an MQTT soak may count besides the bad payloads: a flood's excess, a retained reading's rejects; the
#: publisher's QoS 1 sends a killed broker had not taken, sent again once it is back — `late` until mqttsrc6, now the
#: outage's queue (`outage backlog`: agent/sources/outage_queue.py)
MQTT_MAY_COUNT = {"mqtt unreachable", "mqtt refused", "duplicate", "repeated reading", "late", "outage backlog",
                  "queue full", "missing time"}


def mqtt_rejects(agent, retained_kept=lambda start, end: True, unsure_s: float = 10.0) -> dict:
    """Per life stopped cleanly: each bad payload counted under its reason; fewer only by those sent when the source
    may not have been subscribed (a broker fault or the life's start within `unsure_s` before, its stop within 5 s
    after) or had them dropped by the broker (sent during a flood); 'bad payload' also for each cleared retained message (a zero-length payload to live subscribers)."""
    from chaos_check import clean_stops
    out, named = [], []
    for before, life, counted in clean_stops(agent, out):
        # The publisher's QoS 1 sends the broker had not taken when it went away are sent on its reconnect, to the
        # life subscribed then: the last life's last `unsure_s` of them may be this one's
        late = Counter(r for t, r, _ in (before.mqtt_bad if before else []) if t > (before.ended_at or 0) - unsure_s)
        sent, unsure = Counter(), 0
        for t, reason, flooding in life.mqtt_bad:
            sent[reason] += 1
            # (in a flood the broker drops what it cannot send the source: "Outgoing messages are being dropped")
            unsure += (flooding or t - life.started < unsure_s or life.ended_at - t < 5
                       or any(a - 2 <= t <= (b or math.inf) + unsure_s for a, b in life.source_faults))
        # A retained reading reaches a live subscriber as a live one: the stamped one (an hour old) is then clock skew
        extra = {"bad payload": life.retained_clears, "clock skew": math.inf if life.retained_seen else 0}
        extra = {r: extra.get(r, 0) + late[r] for r in set(extra) | set(late)}
        short = 0
        for reason in set(sent) | (set(counted) - MQTT_MAY_COUNT):
            short += max(0, sent[reason] - counted[reason])
            if counted[reason] > sent[reason] + extra.get(reason, 0):
                out.append(f"life {life.n}: {sent[reason]} sent as {reason!r}, {counted[reason]} counted")
        if short > unsure:
            # (chaos2: after a flood the broker's QoS 1 window to the source stayed full — none delivered since)
            first_flood = min((f["start"] for f in life.floods), default=math.inf)
            after = sum(1 for t, _, _ in life.mqtt_bad if t > first_flood)
            out.append(f"life {life.n}: {short} bad payloads not counted, {unsure} sent while the source may not have "
                       f"been subscribed, {after} sent after a flood in this life: {dict(counted)} counted, "
                       f"{dict(sent)} sent")
        # (kept through the life's first 10 s, its broker up meanwhile: the source subscribed while it was kept)
        if life.retained_at_start and counted["missing time"] == 0 and retained_kept(life.started, life.started + 10) \
                and not any(a <= life.started + 10 and (b is None or b >= life.started) for a, b in life.source_faults):
            out.append(f"life {life.n}: subscribed while a retained reading without ts was kept, none counted")
        named += unnamed(life, [r for r in set(sent) | {"missing time"} if counted[r]],
                         r"rejected mqtt plant/\w+( \(retained\))?: ")
    return {"bad payloads counted by reason": out, "each named in the log (topic)": named}


# -- the faults ---------------------------------------------------------------------------------------------

class SourceChaos:
    """What a soak on a source other than udp adds: its peer, its faults (`actions`: name → weight), its outages.
    bench/chaos.py calls: source_config, emit (the feeder's reading each tick), do / undo, broker_fault (the sink
    broker's, which is the source's too when they share it), check, summary, close."""

    actions: dict[str, int] = {}

    def __init__(self, agent, warm_since, t0: float):
        self.agent, self.warm_since, self.t0 = agent, warm_since, t0
        self.outages: list[dict] = []

    def outage(self, what: str, sensors: list[str], lone: bool = False) -> dict:
        with self.agent.lock:
            life = _running(self.agent)
        # (t0_wall: the soak's start on time.time()'s clock, which `start` and `end` are on; t0 is time.monotonic()'s)
        o = {"what": what, "sensors": sensors, "lone": lone, "start": time.time(), "end": None, "t0": self.t0,
             "t0_wall": time.time() - (time.monotonic() - self.t0),
             "life": life, "warm": life is not None and life.ready and self.warm_since(life.started)}
        self.outages.append(o)
        return o

    def outage_over(self, what: str) -> None:
        for o in self.outages:
            if o["what"] == what and o["end"] is None:
                o["end"] = time.time()

    def broker_fault(self, stopped: bool) -> None:
        """The sink's broker stopped (or refused), or is back."""

    def stall(self, stalled: bool) -> None:
        """The feeder stalled (True) or goes on: the Modbus device's registers freeze (its values only stay), the
        MQTT publisher falls silent — every sensor at once, an outage."""

    def life_started(self, life) -> None:
        """A new life of the agent runs."""

    def summary(self) -> dict:
        judged = [o for o in self.outages if o["end"] is not None]
        return {"outages": dict(Counter(o["what"] for o in judged)),
                "outages_judged": dict(Counter(o["what"] for o in judged if o.get("judged"))),
                "outages_waited_through": dict(Counter(o["what"] for o in judged if o.get("waited"))),
                "outages_covered_by_a_join": dict(Counter(o["what"] for o in judged if o.get("joined"))),
                "outage_s": round(sum(o["end"] - o["start"] for o in judged), 1)}

    def close(self) -> None:
        pass


class ModbusChaos(SourceChaos):
    """The Modbus device's faults. device_reset: every connection reset; device_reboot: reset, gone 2–20 s, back;
    device_gone: gone 30–90 s, back — half the time with its register map moved (the configured addresses then
    answer exception 2) for 10–40 s, then the right map again (the operator's fix); device_exception: every read
    answered an exception (codes 2, 3, 4, 6) for the hold; device_slow: each answer 0.6–2.5 s late (past the 0.5-s
    poll, often past the source's 1-s timeout) for 3–20 s; device_short: a register fewer or more than asked;
    device_nan: one sensor's float32 reads NaN."""

    actions = {"device_reset": 3, "device_reboot": 2, "device_gone": 1, "device_exception": 3, "device_slow": 3,
               "device_short": 3, "device_nan": 2}

    def __init__(self, agent, warm_since, t0: float, sensors: list[str], seed: int):
        super().__init__(agent, warm_since, t0)
        self.sensors = sensors
        self.device = ModbusDevice(sensors, agent, seed)
        self.device.up()

    def source_config(self) -> dict:
        return {"type": "modbus", "host": "127.0.0.1", "port": self.device.port, "poll_s": 0.5,
                "registers": self.device.addresses(), "data_types": {s: "float32" for s in self.sensors}}

    def emit(self, reading: dict) -> None:
        self.device.set_values(reading)

    def blocked(self, action: str, pending: set) -> bool:
        return any(w.startswith("device") for w in pending)

    def do(self, action: str, rng: random.Random, hold: float, note) -> list[tuple[float, str]]:
        d = self.device
        now = time.monotonic()
        if action == "device_reset":
            d.reset()
            note(action)
            return []
        if action in ("device_reboot", "device_gone"):
            hold = rng.uniform(2, 20) if action == "device_reboot" else rng.uniform(30, 90)
            d.down()
            self.outage("device", self.sensors)
            remap = action == "device_gone" and rng.random() < 0.5
            note(action, hold_s=round(hold, 1), remapped=remap)
            return [(now + hold, "device up remapped" if remap else "device up")]
        with d.lock:
            d.mode = {"device_exception": "exception", "device_slow": "slow", "device_short": "short",
                      "device_nan": "nan"}[action]
            d.code = rng.choice([2, 3, 4, 6])
            d.nan = rng.choice(self.sensors)
            d.extra = rng.choice([-1, 1])
        hold = rng.uniform(3, 20) if action == "device_slow" else hold
        note(action, hold_s=round(hold, 1), **({"code": d.code} if action == "device_exception" else {}),
             **({"sensor": d.nan} if action == "device_nan" else {}))
        return [(now + hold, "device mode off")]

    def undo(self, what: str, rng: random.Random, note) -> list[tuple[float, str]]:
        d = self.device
        if what == "device mode off":
            with d.lock:
                d.mode = None
            note("device_ok")
        elif what == "device up remapped":
            d.up(remapped=True)
            hold = rng.uniform(10, 40)
            note("device_up", remapped=True, hold_s=round(hold, 1))
            return [(time.monotonic() + hold, "device map fixed")]
        elif what in ("device up", "device map fixed"):
            if what == "device map fixed":
                d.down()
            d.up()
            self.outage_over("device")
            note("device_up" if what == "device up" else "device_map_fixed")
        return []

    def check(self, agent, alerts: list[dict], faults: list[dict]) -> dict:
        return {**modbus_rejects(agent), **check_outages(self.outages, agent, alerts, faults)}

    def summary(self) -> dict:
        # (the first start is the soak's own, before the agent's: not a device back)
        return {**super().summary(), "device_answers": dict(self.device.answers),
                "first_request_after_back_s": self.device.asked_after_up[1:]}

    def close(self) -> None:
        self.device.down()


class MqttChaos(SourceChaos):
    """The MQTT source's faults. Its broker is the sink's (`same`) or one of its own (`other`: source_broker_stop /
    _kill, 2–40 s); publisher_garbage: bad payloads (MQTT_BAD); publisher_flood: 1–8 s of the reading as fast as a
    thread publishes; retained_stale: a retained reading without ts on one sensor's topic and one an hour old on
    another's, kept 20–120 s (every subscribe meanwhile gets them), then cleared; topic_gone: one sensor's topic
    silent 8–60 s."""

    def __init__(self, agent, warm_since, t0: float, sensors: list[str], seed: int, broker, own_broker,
                 password: str, gw_password_file: str):
        super().__init__(agent, warm_since, t0)
        self.sensors, self.broker, self.own = sensors, broker, own_broker
        self.password, self.gw_password_file = password, gw_password_file
        self.actions = {"publisher_garbage": 8, "publisher_flood": 2, "retained_stale": 2, "topic_gone": 3,
                        **({"source_broker_stop": 2, "source_broker_kill": 2} if own_broker else {})}
        self.port = (own_broker or broker).port
        self.pub = MqttPublisher(self.port, password)
        self.gone: set[str] = set()
        self.floods: list[MqttFlood] = []
        self.retained: set[str] = set()
        self.retained_spans: list[list] = []    # [time.time() kept, cleared or None]: a reading without ts on the broker
        self.ever_retained = False
        self.feeder = None
        self.sent = Counter()

    def source_config(self) -> dict:
        return {"type": "mqtt", "qos": 1, "max_payload_bytes": MAX_PAYLOAD,
                "broker": {"host": "127.0.0.1", "port": self.port, "username": "gw",
                           "password": {"file": self.gw_password_file}, "reconnect_min_s": 1, "reconnect_max_s": 2},
                "topics": {**{f"plant/{s}": s for s in self.sensors}, "plant/any": "*"}}

    def emit(self, reading: dict) -> None:
        for s in self.sensors:
            if s not in self.gone:
                self.pub.publish(f"plant/{s}", json.dumps({"ts": reading["ts"], "value": reading[s]}))

    def feed_away(self, since: float) -> bool:
        """Whether every sensor's feed was away at some moment since `since` (its broker, the publisher silent)."""
        return any(not o["lone"] and (o["end"] is None or o["end"] >= since) for o in self.outages)

    def blocked(self, action: str, pending: set) -> bool:
        return ((action.startswith("source_broker") and "source broker" in pending)
                or (action == "publisher_flood" and "publisher flood" in pending)
                or (action == "retained_stale" and "retained" in pending)
                or (action == "topic_gone" and "topic" in pending))

    def stall(self, stalled: bool) -> None:
        if stalled:
            self.outage("publisher silent", self.sensors)
        else:
            self.outage_over("publisher silent")

    def broker_fault(self, stopped: bool) -> None:
        if self.own is None:
            self._source_fault(stopped)

    def _source_fault(self, stopped: bool) -> None:
        with self.agent.lock:
            life = _running(self.agent)
            if life is not None:
                if stopped:
                    life.source_faults.append((time.time(), None))
                elif life.source_faults and life.source_faults[-1][1] is None:
                    life.source_faults[-1] = (life.source_faults[-1][0], time.time())
        if stopped:
            self.outage("source broker", self.sensors)
        else:
            self.outage_over("source broker")

    def do(self, action: str, rng: random.Random, hold: float, note) -> list[tuple[float, str]]:
        import signal
        now = time.monotonic()
        if action in ("source_broker_stop", "source_broker_kill"):
            hold = rng.uniform(2, 40)
            self.own.stop(signal.SIGKILL if action == "source_broker_kill" else signal.SIGTERM)
            self._source_fault(True)
            note(action, hold_s=round(hold, 1))
            return [(now + hold, "source broker")]
        if action == "publisher_garbage":
            kinds = rng.sample(list(MQTT_BAD), rng.randint(1, 4))
            sent = Counter()
            for _ in range(rng.randint(1, 30)):
                kind = rng.choice(kinds)
                sensor, reason = MQTT_BAD[kind]
                topic = f"plant/{self.sensors[1] if sensor == 'b' else 'any'}"
                t = time.time()
                with self.agent.lock:
                    life = _running(self.agent)
                    if life is None or life.ended_by is not None:
                        continue
                    if self.pub.publish(topic, mqtt_bad_payload(kind, t, rng), qos=1):
                        life.mqtt_bad.append((t, reason, self.feeder.flooding.is_set()))
                        sent[kind] += 1
            self.sent.update(sent)
            note(action, sent=dict(sent))
            return []
        if action == "publisher_flood":
            hold = rng.uniform(1, 8)
            self.floods.append(MqttFlood(self.feeder, self.port, self.password, hold, rng.randrange(2**32),
                                         away=self.feed_away))
            self.floods[-1].start()
            note(action, hold_s=round(hold, 1))
            return [(now + hold, "publisher flood")]
        if action == "retained_stale":
            plain, stamped = rng.sample(self.sensors, 2)
            kept = [s for s, payload in ((plain, f"{rng.uniform(-50, 50):.3f}"),
                                         (stamped, json.dumps({"ts": time.time() - 3600, "value": 7.0})))
                    if self.pub.publish_acked(f"plant/{s}", payload, retain=True)]
            if plain in kept:
                self.retained_spans.append([time.time(), None])
            if kept:
                self.ever_retained = True
                with self.agent.lock:
                    life = _running(self.agent)
                    if life is not None:
                        life.retained_seen = True
            if plain not in kept:       # (the broker away: none kept, or only the stamped one — cleared as ever)
                note(action, kept=kept)
                self.retained = set(kept)
                return [(now + 1, "retained")] if kept else []
            self.retained = set(kept)
            hold = rng.uniform(20, 120)
            note(action, hold_s=round(hold, 1), sensors=[plain, stamped])
            return [(now + hold, "retained")]
        if action == "topic_gone":
            sensor = rng.choice(self.sensors)
            self.gone.add(sensor)
            self.outage(f"topic plant/{sensor}", [sensor], lone=True)
            hold = rng.uniform(8, 60)
            note(action, hold_s=round(hold, 1), sensor=sensor)
            return [(now + hold, "topic")]
        raise ValueError(action)

    def undo(self, what: str, rng: random.Random, note) -> list[tuple[float, str]]:
        if what == "source broker":
            self.own.start()
            self._source_fault(False)
            note("source_broker_start")
        elif what == "publisher flood":
            self.floods[-1].join()
            note("publisher_flood_end", sent=self.floods[-1].sent)
        elif what == "retained":
            # Each clear acknowledged, else asked again (a clear lost while the broker was away left the reading kept)
            self.pub.connected.wait(5)
            for s in sorted(self.retained):
                with self.agent.lock:
                    life = _running(self.agent)
                    if life is not None:
                        life.retained_clears += 1       # (a zero-length payload to the live source: a bad payload)
                if self.pub.publish_acked(f"plant/{s}", b"", retain=True):
                    self.retained.discard(s)
            if self.retained_spans and self.retained_spans[-1][1] is None and not self.retained:
                self.retained_spans[-1][1] = time.time()
            note("retained_cleared" if not self.retained else "retained_clear_failed", left=sorted(self.retained))
            if self.retained:
                return [(time.monotonic() + 2, "retained")]
        elif what == "topic":
            for s in self.gone:
                self.outage_over(f"topic plant/{s}")
            self.gone = set()
            note("topic_back")
        return []

    def life_started(self, life) -> None:
        """A life started while a retained reading without ts is kept: its source gets it at its subscribe."""
        life.retained_at_start = bool(self.retained)
        # A broker killed within its save window (autosave 1 s) after a clear keeps the reading: any later life may
        # get it (G-mqtt-s27: an hour-old reading back after its clear, counted `clock skew` as it should)
        life.retained_seen = bool(self.retained) or self.ever_retained
        if self.own is None and not (self.broker.up and not self.broker.refusing):
            life.source_faults.append((life.started, None))
        elif self.own is not None and not self.own.up:
            life.source_faults.append((life.started, None))

    def check(self, agent, alerts: list[dict], faults: list[dict]) -> dict:
        def kept(start: float, end: float) -> bool:
            return any(a <= start and (b is None or b >= end) for a, b in self.retained_spans)
        return {**mqtt_rejects(agent, kept), **check_outages(self.outages, agent, alerts, faults)}

    def summary(self) -> dict:
        return {**super().summary(), "bad_payloads_sent": dict(self.sent),
                "flood_messages": sum(f.sent for f in self.floods)}

    def close(self) -> None:
        self.pub.close()
