"""The live feeds' front door fuzzed: the MQTT source (a real Mosquitto) and the UDP source, their every reject's
words read, and the real agent run on the same payloads with every payload its sinks emit checked against
agent/schemas. Prints JSON.

Run: python bench/fuzz_feeds.py [--seeds 1 2] [--rate 0.5] [--part words,agent]

Part `words` (in this process, as bench/fuzz_reasons.py reads the line sources): the real MqttSource subscribed at a
Mosquitto started on a free 127.0.0.1 port, and the real UdpSource on a free port, their records aligned by the
agent's aligner, every reject kept (the agent logs a reason's first 5) and judged:
- `where` names the topic (`mqtt fz/a`, `(retained)` for one the broker kept) or the sender (`udp 127.0.0.1:…`, and
  the line of a datagram of several);
- its detail is not empty, and names what was wrong — a field, key, value, sensor, the payload or line as a whole —
  or is a reason that is the payload's whole (`WHOLE`);
- no detail carries Python's own words (`timedelta(`, `NoneType`, `Invalid isoformat`, `could not convert`, …).
Payloads: bench/fuzz_records.py's bad JSON lines on the '*' topic and over UDP (malformed, NaN / Infinity literals,
strings for numbers, 1e999, duplicate keys, a 10 MB line, deep nesting, invalid UTF-8, edge stamps), and on a named
sensor's topic the MQTT source's own forms (`MQTT_BAD`: a bare NaN / Infinity, a number as a JSON string, an array,
an object without `value`, a value that is an object, non-UTF-8, 2 MB, deep JSON, a written date past 2100, an
offset of `+12:60`, Python's number syntax `1_000` / `１２`: chaos8); retained garbage published before the source
subscribes; over UDP, datagrams of several lines, one past max_datagram, empty ones.

Part `agent`: the real agent (`python -m agent run`, numpy tier) with both sources and two sinks — jsonl and mqtt
(alerts, faults, health, status to the same broker) — fed a clean stream with a spike plus the same bad payloads.
Judged: no traceback, no hang (SIGTERM ends it within 60 s), exit 0, an alert raised, and every payload the sinks
emitted (each alerts.jsonl line; every message on `stad/default/#`) valid against alert / fault / health.schema.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz_processes import agent_cmd, agent_env, free_port  # noqa: E402
from fuzz_records import bad_json_lines  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SENSORS = ["a", "b", "c"]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WHERE = re.compile(r"^(mqtt fz/[a-z0-9/]+( \(retained\))?|udp 127\.0\.0\.1:\d+( line \d+ of \d+)?|udp :\d+)$")
#: Reasons about the payload (or line) as a whole: no field to name.
WHOLE = {"bad json", "bad payload", "payload too long", "datagram too long", "no values", "missing time", "duplicate",
         "late", "timestamp jump", "clock skew", "bad timestamp", "queue full", "kernel drop", "unread at stop"}
NAMES_WHAT = re.compile(r"field|key|column|sensor|value|payload|line|\bts\b|time|UTF-8", re.I)
PYTHON_WORDS = re.compile(r"timedelta\(|Traceback|object at 0x|<class |NoneType|Invalid isoformat|could not convert|"
                          r"maximum recursion|line \d+ column \d+|Expecting value: line|codec can't|: None\b|: True\b|"
                          r": False\b| at at |\ufffd")


def mqtt_bad(rng: random.Random, ts: float) -> list[tuple[str, bytes]]:
    """(kind, payload) for a named sensor's topic: a plain number, a JSON number or {"value": …, "ts": …}."""
    kinds = {
        "NaN literal": lambda: rng.choice([b"NaN", b"nan", b"-Infinity", b"Infinity", b" inf "]),
        "number as string": lambda: rng.choice([b'"12"', b'"1,5"', b'""', b'"abc"']),
        "array": lambda: rng.choice([b"[1, 2]", b"[]", b'[{"value": 1}]']),
        "object without value": lambda: json.dumps({"ts": ts, "v": 1}).encode(),
        "value an object": lambda: json.dumps({"ts": ts, "value": {"x": 1}}).encode(),
        "value null": lambda: json.dumps({"ts": ts, "value": None}).encode(),
        "value bool": lambda: json.dumps({"ts": ts, "value": True}).encode(),
        "duplicate key": lambda: b'{"value": 1, "value": 2}',
        "non-utf-8": lambda: rng.choice([b"\xff\xfe1", b"4\x80", b'{"value": "\xc3\x28"}']),
        "huge": lambda: b'{"value": 1, "pad": "' + b"x" * (2 << 20) + b'"}',
        "deep": lambda: b'{"value": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "date past 2100": lambda: json.dumps({"ts": "9999-12-31T23:59:59Z", "value": 1}).encode(),
        "offset minutes": lambda: json.dumps({"ts": "2026-01-05T08:00:00+12:60", "value": 1}).encode(),
        "offset malformed": lambda: json.dumps({"ts": "2026-01-05T08:00:00+5:00", "value": 1}).encode(),
        "ts null": lambda: json.dumps({"ts": None, "value": 1}).encode(),
        "ts ms": lambda: json.dumps({"ts": ts * 1000, "value": 1}).encode(),
        "1e999": lambda: rng.choice([b"1e999", b'{"value": 1e999}', b"-1e999"]),
        "binary": lambda: bytes(rng.getrandbits(8) for _ in range(40)),
        "empty": lambda: b"",
        "text": lambda: rng.choice([b"hello", b"4 2", b"0x10", b"true", b"null"]),
        # chaos8: Python's number syntax, read by float() (`1_000` as 1000, `１２` as 12)
        "python number": lambda: rng.choice([b"1_000", "\uff11\uff12".encode(), b'{"value": "1_000"}', b"1_0.5",
                                             "\u0661\u0662".encode(), b'{"value": " 0x10 "}']),
    }
    kind = rng.choice(sorted(kinds))
    return [(kind, kinds[kind]())]


RETAINED = [b"\xff\xfe", b"NaN", b'{"value": 1}', b"garbage", b'{"ts": "9999-12-31T23:59:59Z", "value": 1}', b"[]"]


def udp_bad(rng: random.Random, row: dict, prev: dict | None, tick: float) -> list[tuple[str, bytes]]:
    """(kind, datagram): the JSON lines' bad kinds, several lines in one datagram, one too long, empty ones."""
    line = bad_json_lines(row, prev, rng, row["ts"], tick)[0]
    extra = {
        "two lines": lambda: json.dumps({"ts": row["ts"], "zz": 1}).encode() + b"\n" + b'{"ts": 1, "a": ',
        "too long": lambda: b'{"ts": %r, "a": 1, "pad": "' % row["ts"] + b"x" * 9_000 + b'"}',     # max_datagram 8192
        "empty": lambda: rng.choice([b"", b"\n", b"\n\n  \n"]),
        "nul": lambda: b'{"ts": %r, "a\x00": 1}' % row["ts"],
    }
    if rng.random() < 0.25:
        kind = rng.choice(sorted(extra))
        return [(kind, extra[kind]())]
    return [line]


# ---- a broker -------------------------------------------------------------------------------------------

class Broker:
    def __init__(self, work: Path):
        self.port = free_port()
        conf = work / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"log_dest file {work}/mosquitto.log\nmessage_size_limit 0\n")
        os.chmod(work, 0o777)
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self.proc.stderr.read()!r}")
            time.sleep(0.05)

    def client(self, name: str):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        return c

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def publish(client, topic: str, payload: bytes, retain: bool = False) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(30)


# ---- part words -----------------------------------------------------------------------------------------

def kept_rejects():
    """A Rejects that keeps every (reason, where, detail) besides counting, from more than one thread."""
    from agent.records import Rejects, worded

    class Kept(Rejects):
        def __init__(self):
            super().__init__()
            self.kept: list[tuple[str, str, str]] = []
            self.lock = threading.Lock()

        def add(self, reason, where, detail=""):
            detail = worded(detail)
            with self.lock:
                self.kept.append((reason, where, detail))
            super().add(reason, where, detail)

        def add_many(self, reason, where, n, detail=""):
            detail = worded(detail)
            with self.lock:
                self.kept += [(reason, where, detail)] * n
            super().add_many(reason, where, n, detail)
    return Kept()


def judged(reason: str, where: str, detail: str) -> str | None:
    if not WHERE.match(where):
        return f"where {where!r} names no topic or sender"
    if not detail.strip():
        return "no detail"
    if PYTHON_WORDS.search(detail):
        return "Python's own words"
    if reason not in WHOLE and not NAMES_WHAT.search(detail):
        return "names no field, key, value or sensor"
    return None


def _aligner(rejects):
    from agent.config import from_dict
    from agent.window import Aligner
    cfg = from_dict({"tick_s": 1, "sensors": SENSORS, "sources": [{"type": "stdin"}], "window": {"steps": 8,
                     "lateness_ticks": 1, "carry_forward_s": 3}, "warmup": {"ticks": 150}, "sinks": []})
    return Aligner.for_agent(cfg, rejects)


def _drain(source, rejects, done: threading.Event, marker: float) -> threading.Thread:
    """Records of `source` pushed through an aligner on a thread of their own, until one with value `marker`."""
    aligner = _aligner(rejects)

    def run():
        for rec in source.records():
            aligner.push(rec)
            if marker in rec.values.values():
                done.set()
                return
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def words_mqtt(seed: int, rate: float, work: Path, broker: Broker) -> tuple[list, Counter]:
    from agent.broker import BrokerConfig
    from agent.sources.mqtt import MqttSource, MqttSourceConfig
    rng, made = random.Random(seed), Counter()
    pub = broker.client(f"fuzz-pub-{seed}")
    for i, payload in enumerate(RETAINED):
        publish(pub, f"fz/r/{seed}/{i}", payload, retain=True)
        made["retained garbage"] += 1
    rejects = kept_rejects()
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1),
                           topics={"fz/any": "*", "fz/a": "a", f"fz/r/{seed}/+": "b"}, qos=1)
    source = MqttSource(cfg, SENSORS, rejects)
    done = threading.Event()
    thread = _drain(source, rejects, done, marker=424242.0)
    deadline = time.monotonic() + 60
    while not source.reporter.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.time() - 100          # one row a second (the aligner's tick), all within the skew allowed
    for k in range(200):
        ts = float(round(t0) + k)
        publish(pub, "fz/any", json.dumps({"ts": ts, "a": 1.0, "b": 2.0, "c": 3.0}).encode())
        if rng.random() < rate:
            if rng.random() < 0.5:
                kind, payload = mqtt_bad(rng, ts)[0]
                publish(pub, "fz/a", payload)
            else:
                row = {"ts": ts, "a": 1.0, "b": 2.0, "c": 3.0}
                kind, payload = bad_json_lines(row, None, rng, t0, 1.0)[0]
                publish(pub, "fz/any", payload)
            made[kind] += 1
    publish(pub, "fz/any", json.dumps({"ts": time.time(), "c": 424242.0}).encode())
    done.wait(120)
    hung = not done.is_set()
    source.close()
    thread.join(30)
    pub.loop_stop()
    pub.disconnect()
    return rejects.kept + ([("hang", "mqtt", "the marker never came")] if hung else []), made


def words_udp(seed: int, rate: float) -> tuple[list, Counter]:
    from agent.sources.udp import UdpConfig, UdpSource
    rng, made = random.Random(seed), Counter()
    rejects = kept_rejects()
    source = UdpSource(UdpConfig(port=0), SENSORS, rejects)
    done = threading.Event()
    thread = _drain(source, rejects, done, marker=424242.0)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0, prev = round(time.time()) - 100, None
    for k in range(200):
        row = {"ts": float(t0 + k), "a": 1.0, "b": 2.0, "c": 3.0}
        out.sendto(json.dumps(row).encode(), ("127.0.0.1", source.port))
        if rng.random() < rate:
            kind, payload = udp_bad(rng, row, prev, 1.0)[0]
            try:
                out.sendto(payload, ("127.0.0.1", source.port))
            except OSError as exc:      # (past the 64 KiB a datagram carries: the sender's own refusal)
                kind = f"{kind} (not sent: {exc.strerror})"
            made[kind] += 1
        prev = row
        time.sleep(0.002)               # (no kernel drop to muddle the words)
    out.sendto(json.dumps({"ts": time.time(), "c": 424242.0}).encode(), ("127.0.0.1", source.port))
    done.wait(60)
    hung = not done.is_set()
    source.close()
    thread.join(30)
    out.close()
    return rejects.kept + ([("hang", "udp", "the marker never came")] if hung else []), made


def part_words(seeds: list[int], rate: float, work: Path, broker: Broker) -> dict:
    logging.disable(logging.CRITICAL)       # every reject is kept whole here; their log lines would be a flood
    seen: dict[str, Counter] = defaultdict(Counter)
    example, wanting, made_all = {}, [], Counter()
    for seed in seeds:
        for feed, (kept, made) in (("mqtt", words_mqtt(seed, rate, work, broker)), ("udp", words_udp(seed, rate))):
            made_all.update({f"{feed}: {k}": v for k, v in made.items()})
            for reason, where, detail in kept:
                shape = re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "#", detail)[:160]
                seen[feed][(reason, shape)] += 1
                example.setdefault((feed, reason, shape), (where, detail[:300]))
                why = "hang" if reason == "hang" else judged(reason, where, detail)
                if why and len(wanting) < 200:
                    wanting.append({"feed": feed, "seed": seed, "reason": reason, "where": where,
                                    "detail": detail[:300], "why": why})
    logging.disable(logging.NOTSET)
    return {"made": dict(made_all),
            "reasons": {feed: [{"reason": r, "shape": s, "count": n, "example": example[(feed, r, s)]}
                               for (r, s), n in sorted(c.items())] for feed, c in seen.items()},
            "wanting": wanting}


# ---- part agent -----------------------------------------------------------------------------------------

AGENT_CONFIG = """
tick_s: {tick}
sensors: [a, b, c]
sources:
  - {{type: mqtt, broker: {{host: 127.0.0.1, port: {broker}, reconnect_min_s: 0.1, reconnect_max_s: 1}},
     topics: {{fz/any: '*', fz/a: a, 'fz/r/+': b}}, qos: 1}}
  - {{type: udp, port: {udp}}}
warmup: {{ticks: 100}}
window: {{steps: 8, lateness_ticks: 2, carry_forward_s: {carry}}}
scoring: {{chain: [numpy]}}
threshold: {{method: pot, risk: 0.01}}
alerts: {{min_duration_ticks: 1, clear_ticks: 3}}
sinks:
  - {{type: jsonl, path: alerts.jsonl}}
  - {{type: mqtt, broker: {{host: 127.0.0.1, port: {broker}}}, health_interval_s: 1}}
state_dir: state
log_level: info
"""


def schemas() -> dict:
    return {name: json.loads((REPO / "agent" / "schemas" / f"{name}.schema.json").read_text())
            for name in ("alert", "fault", "health")}


def invalid(payload: bytes, kinds: tuple[str, ...], known: dict) -> str | None:
    """Why `payload` is valid against none of the schemas `kinds`, else None."""
    import jsonschema
    try:
        doc = json.loads(payload)
    except ValueError as exc:
        return f"not JSON: {exc}"
    errors = []
    for kind in kinds:
        try:
            jsonschema.validate(doc, known[kind])
            return None
        except jsonschema.ValidationError as exc:
            errors.append(f"{kind}: {exc.message[:200]}")
    return "; ".join(errors)


def part_agent(seed: int, rate: float, work: Path, broker: Broker, tick: float = 0.1, rows: int = 400) -> dict:
    rng = random.Random(seed)
    work.mkdir(parents=True)
    udp_port = free_port()
    (work / "agent.yaml").write_text(AGENT_CONFIG.format(tick=tick, broker=broker.port, udp=udp_port,
                                                         carry=3 * tick))
    got: "queue.Queue[tuple[str, bytes]]" = queue.Queue()
    sub = broker.client(f"fuzz-sub-{seed}")
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload))
    sub.subscribe("stad/default/#", qos=1)      # the sink's topics (not the source's delivery probe, stad/probe/…)
    pub = broker.client(f"fuzz-agent-pub-{seed}")
    for i, payload in enumerate(RETAINED):
        publish(pub, f"fz/r/{i}", payload, retain=True)
    err = open(work / "err.txt", "w")
    proc = subprocess.Popen(agent_cmd("run", "-c", "agent.yaml"), cwd=work, env=agent_env(), stdout=subprocess.DEVNULL,
                            stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    made, verdict = Counter(), {}
    try:
        deadline = time.monotonic() + 120
        # subscribed once the retained garbage is read (said), and the udp socket bound once the banner is out
        while "  sink: " not in (text := (work / "err.txt").read_text(errors="replace")) or "mqtt fz/r/" not in text:
            if proc.poll() is not None or time.monotonic() > deadline:
                return {"seed": seed, "exit": proc.poll(), "hung": proc.poll() is None, "traceback": "Traceback" in text,
                        "why": "the agent did not start", "stderr": text[-3000:]}
            time.sleep(0.1)
        start = time.time()
        for k in range(rows):
            ts = start + k * tick
            a = math.sin(k / 6) + rng.gauss(0, 0.05) + (6.0 if rows - 60 <= k < rows - 56 else 0.0)
            row = {"ts": round(ts, 3), "a": round(a, 4), "b": round(math.cos(k / 9), 4), "c": round(math.sin(k / 4), 4)}
            (publish(pub, "fz/any", json.dumps(row).encode()) if k % 2 else
             out.sendto(json.dumps(row).encode(), ("127.0.0.1", udp_port)))
            if 20 < k < rows - 5 and rng.random() < rate:
                if rng.random() < 0.5:
                    kind, payload = (mqtt_bad(rng, ts) if rng.random() < 0.5 else
                                     bad_json_lines(row, None, rng, start, tick))[0]
                    publish(pub, rng.choice(["fz/a", "fz/any"]), payload)
                else:
                    kind, payload = udp_bad(rng, row, None, tick)[0]
                    try:
                        out.sendto(payload, ("127.0.0.1", udp_port))
                    except OSError:
                        kind += " (not sent)"
                made[kind] += 1
            time.sleep(max(0.0, start + (k + 1) * tick - time.time()))
        time.sleep(10 * tick)       # (the last ticks close on the clock)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = None
        text = (work / "err.txt").read_text(errors="replace")
        time.sleep(1)               # (the sink's last health and offline, on the subscriber's thread)
        messages = []
        while not got.empty():
            messages.append(got.get())
        known = schemas()
        bad_sent = []
        for topic, payload in messages:
            leaf = topic.rsplit("/", 1)[-1]
            if leaf == "status":
                why = None if payload in (b"online", b"offline") else f"status {payload[:60]!r}"
            else:
                why = invalid(payload, {"alerts": ("alert",), "faults": ("fault",), "health": ("health",)}.get(
                    leaf, ("alert", "fault", "health")), known)
            if why:
                bad_sent.append({"topic": topic, "why": why, "payload": payload[:300].decode(errors="replace")})
        lines = (work / "alerts.jsonl").read_bytes().splitlines() if (work / "alerts.jsonl").exists() else []
        for n, line in enumerate(lines, 1):
            if (why := invalid(line, ("alert", "fault"), known)):
                bad_sent.append({"topic": f"alerts.jsonl:{n}", "why": why, "payload": line[:300].decode(errors="replace")})
        summary = next((line for line in reversed(text.splitlines()) if line.startswith("summary:")), "")
        verdict = {"seed": seed, "exit": code, "hung": code is None, "traceback": "Traceback" in text,
                   "summary": summary, "made": dict(made),
                   "emitted": dict(Counter(t.rsplit("/", 1)[-1] for t, _ in messages)), "jsonl_lines": len(lines),
                   "alerts": sum(1 for t, _ in messages if t.endswith("/alerts")),
                   "invalid": bad_sent[:20], "invalid_count": len(bad_sent)}
        if verdict["traceback"]:
            verdict["traceback_text"] = text[text.index("Traceback"):][:2000]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
        for c in (sub, pub):
            c.loop_stop()
            c.disconnect()
    return verdict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rate", type=float, default=0.5, help="bad payloads after this share of the good ones")
    ap.add_argument("--part", default="words,agent")
    ap.add_argument("--work", help="keep the agents' files here (default: a temporary directory, removed)")
    args = ap.parse_args(argv)
    parts = args.part.split(",")
    out: dict = {"bench": "fuzz_feeds", "seeds": args.seeds, "rate": args.rate}
    with tempfile.TemporaryDirectory(prefix="fuzz-feeds-") as d:
        work = Path(args.work or d)
        work.mkdir(parents=True, exist_ok=True)
        broker = Broker(work)
        try:
            if "words" in parts:
                out["words"] = part_words(args.seeds, args.rate, work, broker)
            if "agent" in parts:
                out["agent"] = [part_agent(seed, args.rate, work / f"agent-{seed}", broker) for seed in args.seeds]
        finally:
            broker.close()
    print(json.dumps(out, indent=1))
    failed = bool(out.get("words", {}).get("wanting")) or any(
        v.get("hung") or v.get("traceback") or v.get("exit") != 0 or v.get("invalid_count") or not v.get("alerts")
        for v in out.get("agent", []))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
