"""A chaos soak: faults at random and at once on a real agent, then the promises checked from what
a subscriber received and what the JSONL holds. Prints JSON (what was done, counts, invariants).

    python bench/chaos.py [--seed 1] [--duration 900] [--dir DIR] [--no-disk] [--scorer numpy|tflite|onnx]
                          [--upgrade-from TREE] [--checkpoint-s 2] [--faults flood,kill9,...]
                          [--set warmup.held_out=live ...]

Earlier QA rounds each tried one or two faults at a time (tests/test_qa*.py). Here a real
`python -m agent run` (udp source on the host's clock, 0.5-s ticks, numpy tier, MQTT + JSONL
sinks, state_dir on a 2 MiB tmpfs) runs for `--duration` seconds of wall time while, chosen by a
seeded random generator, the driver: kills it with SIGKILL and starts it again, stops it with
SIGTERM and starts it again, sends it SIGHUP (with the config file as it is; edited with a
mistake a restart would refuse, then put back; edited validly — alerts.update_interval_s 3 ↔ 4 —
and kept, which the next start applies), stops the broker (SIGTERM or SIGKILL) and starts it again, makes
the broker refuse the gateway's password, fills the state disk and frees it, sends malformed /
NaN / duplicate / far-future / out-of-range / unknown-sensor records, stalls the source, and floods it
(a sender resending its reading as fast as one thread can, 1–8 s: chaos1). And (chaos11) what a gateway meets besides:
a kill -9 as soon as an alert line reaches alerts.jsonl (a power cut's moment: the line synced, the agent's next step
not taken; within 15 s, else none), the broker stopped while the state disk is full (the outbox growing where it cannot
be stored), and SIGHUPs on four kinds of config error (an unknown key, YAML that does not parse, a value out of range,
a key twice), each answered in the log as one a restart would refuse.
Each fault lasts a few seconds to half a minute and they overlap. At the end the broker is up,
the disk free, the agent stopped cleanly. Invariants (each `held` or the evidence that broke it):

- the agent never exits except when the driver stops or kills it; no traceback in its log;
- every alert and fault event received over MQTT and written to the JSONL validates against
  agent/schemas; health too;
- per alert_id, after de-duplicating by (alert_id, seq): seq 0, 1, … without a gap, `new` first,
  exactly one `end`, last — none for an alert the final health names open (a clean stop leaves it open
  for the next start, README "Restarts"); the same for faults (the final health's `faults_active`);
- the JSONL and MQTT hold the same events, with the same content (`replayed` aside); the JSONL
  holds no event twice; copies of one event over MQTT agree;
- the outbox is empty at the end and nothing was dropped (health `outbox`);
- every bad record sent to a life that stopped cleanly is in that life's reject counts (its
  summary line), and no valid record was rejected there;
- no move of the time base is logged: the sender stamps with this host's clock, a stall is a
  silence, a restart's downtime a restart gap;
- an alert id is raised once (one `new` in the JSONL, one over MQTT however often redelivered), and one incident is
  open at a time: no `new` in the JSONL while an earlier alert has no `end` — an alert open at a kill or a stop goes
  on under its id after the restart (chaos11);
- every SIGHUP on a config error, to a life that ran on, is answered `a restart would refuse it` (chaos11);
- through a flood the agent's loop goes on (its STATUS lines, every 5 s, never silent over 30 s from the
  flood's start to the first after its end, and more ticks said after than before) and its memory stays
  bounded (VmRSS at most 64 MiB more after it); what a flood costs is counted within what was sent: its
  duplicates, the kernel's drops (bad records sent meanwhile among them), what was unread at a stop.

With `--scorer tflite` (or `onnx`) the agent runs the model tier: the demo bundle's 18 corridor sensors
(readings at its normalisation's means, noise a tenth of its stds, the anomaly an incident at S03), chain `[tflite, numpy]`, the bundle a
copy of agent/models/demo-corridor stamped for the soak's 0.5-s tick (the model is the demo's, its
manifest's `tick_s` changed: the soak tests what the agent does with a model tier, not how well the
model scores), and a `scoring.models_dir`, into which the driver also drops (copied under a dot name,
renamed into place) valid copies of the bundle (another model_id each), corrupt ones (the runtime's
model files truncated, or a sha256 in the manifest changed) and (chaos11) ones of another plant (they verify and load,
their normalisation's means 50 stds off: `scoring.shadow_refuse_off_scale: 0.5` has the shadow refuse them); a SIGHUP
asks for the newest of them. Its
invariants besides: every life scores on the configured tier (its STATUS lines say `tier=tflite`)
unless its log says why it stepped down; every corrupt bundle is refused with a line naming it and the
file that does not verify (its size or sha256), never swapped in (no line, health or alert names it as the model);
every judgement of one of another plant is its shadow's refusal (`readings not on its scale`), never a swap; the last life's
health counts the rejections its log says; every dropped bundle is judged (swapped in or refused) by the end.

With `--upgrade-from TREE` (an earlier release's source tree: `git archive REV | tar -x -C TREE`) the lives
started in the first half of the chaos run that earlier release's agent (`python -m agent` in TREE), the
rest this tree's: the upgrade happens at a restart under the same faults (a kill -9 or a clean stop, a full
disk), on the state, journals and outbox the earlier release left. The invariants are the same, checked
across both releases' events (each life's release is in the JSON's `releases`).

`--set KEY=VALUE` (repeatable) sets one key of the soak's config by its dotted path, the value read as YAML
(`--set warmup.held_out=live`: configs/industrial.yaml's warm-up, which the soak's own config does not have); a key
the agent does not know is refused by its first start (`agent_exited_on_its_own`), as a user's would be.

`--checkpoint-s` (2 by default) is the agent's `checkpoint_s`: at 30 most kill -9s come two or more within one
interval, each restart resuming the same checkpoint while its own first data is still awaited (clock23's case).

The fault schedule is reproducible from --seed; the agent's timing (the host's clock, the load)
is not, so two runs with one seed do the same things in the same order, not at the same ticks.
Needs root (the tmpfs) for the disk faults (--no-disk without), mosquitto and mosquitto_passwd.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import pwd
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
import uuid
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402
from chaos_sources import ModbusChaos, MqttChaos, flood_begins, flood_ends, rss_kb  # noqa: E402
from chaos_check import (MODEL_SCORERS, VERIFY_FAILED, _unjudged, bundle_outcomes, check, event_counts,  # noqa: E402,F401
                         flood_figures, judged, scoring_tiers, sighup_refusals, udp_rejects)

TICK_S = 0.5
WARMUP_TICKS = 80
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
MODEL_SUFFIX = {"tflite": ".tflite", "onnx": ".onnx"}
GW_PASSWORD, VIEWER_PASSWORD = "gw-right", "viewer-pw"

# Bad records: kind → the reject reason each of its values must be counted under.
BAD = {
    "junk": "bad json", "truncated json": "bad json", "nan": "non-finite value", "far future": "clock skew",
    "year 2099": "clock skew", "unknown sensor": "unknown sensor", "out of range": "value out of range",
    "duplicate": "duplicate", "no ts": None,
}
# A live record without "ts" is stamped on arrival (README): taken, or, when its tick already has
# the sensor, one more `duplicate`; or, as it moves no time base while the feeder stamps its own (mqttsrc5), a
# `timestamp jump` when it comes in a stall, ahead of the stamped data, or `late` (chaos5).


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stream:
    """What the sender sends: per sensor (level, noise, shift). Noise; when `anomalies` (once the agent is
    warm), for 12 of every 60 ticks of the host's clock the shifts are added — alternating in sign tick
    to tick when `alternate` (numpy: sensor `a` swings ±4), else held (the model: station S03's flow and
    speed drop and its occupancy rises, an incident — one sensor alone off its station is a sensor fault
    on a corridor, masked from scoring): alerts open, update and end, across restarts too."""

    def __init__(self, levels: dict[str, tuple[float, float, float]], alternate: bool):
        self.levels = levels
        self.sensors = list(levels)
        self.alternate = alternate

    @classmethod
    def for_scorer(cls, scorer: str) -> Stream:
        if scorer not in MODEL_SCORERS:
            return cls({"a": (1.0, 0.1, 4.0), "b": (2.0, 0.1, 0.0), "c": (0.0, 0.1, 0.0)}, alternate=True)
        manifest = json.loads((DEMO_BUNDLE / "manifest.json").read_text())
        mean, std = manifest["normalisation"]["mean"], manifest["normalisation"]["std"]
        incident = {"S03_flow": -1.5, "S03_occ": 3.0, "S03_speed": -2.0}       # in stds
        return cls({s: (mean[s], 0.1 * std[s], incident.get(s, 0.0) * std[s]) for s in manifest["sensors"]},
                   alternate=False)

    def reading(self, ts: float, rng: random.Random, anomalies: bool) -> dict:
        k = int(ts / TICK_S)
        sign = ((-1) ** k if self.alternate else 1) if anomalies and k % 60 >= 48 else 0
        return {"ts": round(ts, 3), **{s: level + rng.gauss(0, noise) + shift * sign
                                       for s, (level, noise, shift) in self.levels.items()}}


def stamped_bundle(dest: Path, model_id: str, corrupt: str | None = None, runtime: str = "tflite") -> Path:
    """A copy of the demo bundle at `dest`, stamped for the soak's tick, named `model_id`; `corrupt`:
    'truncated' (the runtime's model files cut to half) or 'bad hash' (their sha256 in the manifest changed)."""
    shutil.copytree(DEMO_BUNDLE, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["tick_s"], manifest["model_id"] = TICK_S, model_id
    for artifact in manifest["artifacts"].values():
        if corrupt and artifact["file"].endswith(MODEL_SUFFIX[runtime]):
            path = dest / artifact["file"]
            if corrupt == "truncated":
                path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
            else:
                artifact["sha256"] = ("0" if artifact["sha256"][0] != "0" else "1") + artifact["sha256"][1:]
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (dest / "manifest.sig").unlink(missing_ok=True)
    return dest


class Broker:
    """Mosquitto on a fixed port with persistence; `refuse` starts it with another password for the gateway."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.refusing = False

    def _passwords(self, gw_password: str) -> Path:
        path = self.dir / "passwd"
        path.write_text("")
        for user, pw in (("gw", gw_password), ("viewer", VIEWER_PASSWORD)):
            subprocess.run(["mosquitto_passwd", "-b", str(path), user, pw], check=True, capture_output=True)
        return path

    def start(self, refuse: bool = False) -> None:
        self.refusing = refuse
        pw = self._passwords("gw-wrong" if refuse else GW_PASSWORD)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n"
                        f"persistence true\npersistence_location {self.dir}/\nautosave_interval 1\n"
                        f"log_dest file {self.dir}/mosquitto.log\nlog_type all\n")
        if os.geteuid() == 0:
            user = pwd.getpwnam("mosquitto")
            for p in [self.dir, *self.dir.iterdir()]:
                os.chown(p, user.pw_uid, user.pw_gid)
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start on {self.port} (exit {self.proc.poll()})")
            time.sleep(0.05)

    def stop(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    @property
    def up(self) -> bool:
        return self.proc is not None


class Subscriber:
    """Everything on stad/# with its arrival time, through a persistent session (a broker restart
    delivers what was queued for it)."""

    def __init__(self, port: int, out: Path):
        self.messages: list[dict] = []
        self.cond = threading.Condition()
        self.out = out.open("w")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"chaos-sub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set("viewer", VIEWER_PASSWORD)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("stad/#", qos=1)
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect_async("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        m = {"t": time.time(), "topic": msg.topic, "retain": bool(msg.retain),
             "payload": msg.payload.decode("utf-8", "replace")}
        with self.cond:
            self.messages.append(m)
            self.out.write(json.dumps(m) + "\n")
            self.out.flush()
            self.cond.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
            return True

    def warm_since(self, since: float) -> bool:
        """A health received since `since` (time.time()) says the agent is warm."""
        with self.cond:
            for m in reversed(self.messages):
                if m["t"] < since:
                    return False
                if m["topic"].endswith("/health") and _warm([m]):
                    return True
        return False

    def on(self, suffix: str) -> list[dict]:
        with self.cond:
            return [m for m in self.messages if m["topic"].endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.out.close()


class Notify:
    """A NOTIFY_SOCKET for one agent life: READY=1 and STATUS lines."""

    def __init__(self):
        self.address = f"@stad-chaos-{uuid.uuid4().hex[:12]}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.sock.settimeout(0.2)
        self.lines: list[str] = []
        self.times: list[tuple[float, str]] = []     # (time.time() at arrival, line): STATUS's pace in a flood

        self.got = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()    # read all: a full queue drops pings

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.got:
                self.lines += data.splitlines()
                self.times += [(time.time(), ln) for ln in data.splitlines()]
                self.got.notify_all()

    def wait_ready(self, proc: subprocess.Popen, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.got:
            while "READY=1" not in self.lines:
                if proc.poll() is not None or time.monotonic() > deadline:
                    return False
                self.got.wait(0.2)
        return True

    def close(self) -> None:
        self.sock.close()


class Life:
    def __init__(self, n: int, proc: subprocess.Popen, err: Path, notify: Notify):
        self.n, self.proc, self.err, self.notify = n, proc, err, notify
        self.started = time.time()
        self.ready = False
        self.ended_by: str | None = None        # kill9 / sigterm / exited (on its own)
        self.rc: int | None = None
        self.bad_sent: Counter = Counter()      # reject reason → records sent to it while ready
        self.valid_sent = 0
        self.flood_sent = 0                     # flood datagrams sent to it while it ran (each all sensors)
        self.valid_in_flood = 0                 # the feeder's records sent to it while a flood ran
        self.bad_in_flood = 0                   # bad values sent to it while a flood ran (the kernel may drop them)
        self.floods: list[dict] = []            # per flood: its times (time.time()), its RSS before and after
        self.release = "this"                   # or "earlier" (--upgrade-from)
        self.ended_at: float | None = None      # time.time() when it was told to end, or found ended
        # --source mqtt (bench/chaos_sources.py): (time.time(), reason) per bad payload published while it ran; its
        # source broker's faults (start, end or None); cleared retained messages; whether it started on a retained one
        self.mqtt_bad: list[tuple[float, str, bool]] = []     # (…, whether a flood ran)
        self.source_faults: list[tuple[float, float | None]] = []
        self.retained_clears = 0
        self.retained_seen = self.retained_at_start = False


class Agent:
    """The agent's lives, one process at a time, on one config."""

    def __init__(self, work: Path, config: Path, earlier: Path | None = None, upgrade_at: float = 0.0):
        self.work, self.config = work, config
        self.earlier, self.upgrade_at = earlier, upgrade_at     # (monotonic) lives from then on: this tree's
        self.lives: list[Life] = []
        self.lock = threading.Lock()
        self.on_start = lambda life: None       # told each new life (a source's faults may concern it)

    @property
    def life(self) -> Life | None:
        return self.lives[-1] if self.lives else None

    def start(self) -> Life:
        notify = Notify()
        n = len(self.lives)
        err = self.work / f"agent-{n:03d}.stderr"
        env = dict(os.environ, NOTIFY_SOCKET=notify.address)
        env.pop("WATCHDOG_USEC", None)
        root = self.earlier if self.earlier is not None and time.monotonic() < self.upgrade_at else REPO
        with err.open("w") as f:
            proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(self.config)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f,
                                    cwd=root, env=env)
        life = Life(n, proc, err, notify)
        life.release = "earlier" if root != REPO else "this"
        with self.lock:
            self.lives.append(life)
        self.on_start(life)
        life.ready = notify.wait_ready(proc, 120)
        if not life.ready:
            life.ended_by = "exited" if proc.poll() is not None else "never ready"
        return life

    def alive(self) -> bool:
        life = self.life
        return life is not None and life.proc.poll() is None and life.ended_by is None

    def check_exit(self) -> Life | None:
        """The current life, when it exited without being told to."""
        life = self.life
        if life is not None and life.ended_by is None and life.proc.poll() is not None:
            life.ended_by, life.rc, life.ended_at = "exited", life.proc.returncode, time.time()
            life.notify.close()
            return life
        return None

    def end(self, how: str) -> Life:
        life = self.life
        with self.lock:
            life.ended_by = life.ended_by or how      # one that exited (or never got ready) keeps saying so
            life.ended_at = life.ended_at or time.time()
        if life.proc.poll() is None:
            life.proc.send_signal(signal.SIGKILL if how == "kill9" else signal.SIGTERM)
        try:
            life.rc = life.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            life.ended_by = f"{how}, then kill9 (did not stop in 120 s)"
            life.proc.kill()
            life.rc = life.proc.wait()
        life.notify.close()
        return life

    def log(self) -> str:
        return self.life.err.read_text(errors="replace")


class Feeder(threading.Thread):
    """One reading a tick on the host's clock, unless stalled; bad records on request. As a datagram (udp: `port`);
    `emit` given: handed to it instead (the Modbus device's registers, the MQTT publisher)."""

    def __init__(self, port: int, agent: Agent, seed: int, stream: Stream, warm=lambda since: True, emit=None):
        super().__init__(daemon=True)
        self.stream = stream
        self.anomalies_from = math.inf     # set once the agent is warm: a warm-up on anomalies learns them
        self.warm = warm                   # warm(since): a health since then says warm
        self.addr = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.agent = agent
        self.rng = random.Random(seed)
        self.stalled = threading.Event()
        self.flooding = threading.Event()
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.last: bytes | None = None
        self.last_t = 0.0
        self.sent = 0
        self.emit = emit

    def run(self) -> None:
        next_t = time.time()
        while not self.stopped.is_set():
            now = time.time()
            if now < next_t:
                self.stopped.wait(next_t - now)
                continue
            # Stamped with its slot, not the moment it goes: two sends of a late thread stay a tick
            # apart (0.1 s apart they were one tick's duplicates under load).
            stamp, next_t = next_t, next_t + TICK_S
            if next_t < now:             # the driver itself was starved: no burst to catch up
                stamp, next_t = now, now + TICK_S
            if self.stalled.is_set():
                continue
            reading = self.stream.reading(stamp, self.rng, self.anomalous(now))
            data = (json.dumps(reading) + "\n").encode()
            with self.lock:
                if self.emit is not None:
                    self.emit(reading)
                else:
                    self.sock.sendto(data, self.addr)
                self.last, self.last_t = data, now
                self.sent += 1
                with self.agent.lock:
                    life = self.agent.life
                    if life is not None and life.ended_by is None:
                        life.valid_sent += 1
                        life.valid_in_flood += self.flooding.is_set()

    def anomalous(self, now: float) -> bool:
        """Whether the anomalies are on now: from the agent's first warm health on, and only while the life running
        says it is warm — a life that resumed a checkpoint from before the warm-up's end (a full disk, kills within
        `checkpoint_s`) warms up again, and anomalies then were learnt as normal: the rest of the soak had few alerts
        or none (chaos1: seeds 6 and 7, one alert or none in 600 s, the threshold 63 or the alternation learnt)."""
        if now < self.anomalies_from:
            return False
        life = self.agent.life
        return life is not None and self.warm(life.started)

    def bad(self, kind: str, rng: random.Random) -> bool:
        """Send one bad record of `kind` to the running agent (counted against its life)."""
        now = time.time()
        with self.lock:
            if kind == "duplicate":
                # The last record again, while its tick is open: one sent before a stall is a stale
                # stamp (ten of them are a sender stepping back, by the agent's rules), not a duplicate.
                if self.last is None or self.stalled.is_set() or now - self.last_t > TICK_S / 2:
                    return False
                data = self.last
            else:
                b, c = self.stream.sensors[1:3]
                data = {
                    "junk": lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40))).replace(b"\n", b" ")
                    .replace(b"{", b"(") or b"x",
                    "truncated json": lambda: json.dumps({"ts": now, b: 1.0}).encode()[:-2],
                    "nan": lambda: f'{{"ts": {now}, "{b}": NaN}}'.encode(),
                    "far future": lambda: json.dumps({"ts": now + rng.choice([3600, 86400, 40 * 86400]), b: 2.0}).encode(),
                    "year 2099": lambda: json.dumps({"ts": 4_070_908_800.0, c: 0.0}).encode(),
                    "unknown sensor": lambda: json.dumps({"ts": now, "sensor": "zz" + str(rng.randint(0, 9)), "value": 1.0}).encode(),
                    "out of range": lambda: json.dumps({"ts": now, b: 1e31}).encode(),
                    "no ts": lambda: json.dumps({b: 2.0}).encode(),
                }[kind]() + b"\n"
            with self.agent.lock:
                life = self.agent.life
                if life is None or life.ended_by is not None or not life.ready or life.proc.poll() is not None:
                    return False
                self.sock.sendto(data, self.addr)
                # one a record, however many readings: the agent counts a reason once a record (qa54; a duplicate
                # of the feeder's record was its readings' count)
                life.bad_sent[BAD[kind] or f"{kind} (taken)"] += 1
                life.bad_in_flood += self.flooding.is_set()
        return True


class Flood(threading.Thread):
    """A sender gone wild for `hold_s`: the stream's reading, stamped now, sent as fast as this thread can (a
    relay's loop that lost its sleep, a sensor that resends on every interrupt). Per tick the first of a sensor's
    values is taken, every other one is a `duplicate`; what the agent's socket cannot hold the kernel drops, and
    the agent counts that (`kernel drop`, SO_RXQ_OVFL). The feeder's own records sent meanwhile may meet either
    fate, or be stamped into a tick the flood took first."""

    BATCH = 200

    def __init__(self, feeder: Feeder, hold_s: float, seed: int):
        super().__init__(daemon=True)
        self.feeder, self.hold_s, self.rng = feeder, hold_s, random.Random(seed)
        self.sent = 0

    def run(self) -> None:
        feeder, agent = self.feeder, self.feeder.agent
        end = time.monotonic() + self.hold_s
        first, flood = flood_begins(feeder)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                while time.monotonic() < end and not feeder.stopped.is_set():
                    now = time.time()
                    data = (json.dumps(feeder.stream.reading(now, self.rng, feeder.anomalous(now)))
                            + "\n").encode()
                    with agent.lock:
                        life = agent.life
                        # Ready or not: a life that binds its port before READY=1 takes a flood's datagrams into its
                        # socket, and counts the kernel's drops, from the bind on (chaos5, seed 502: a flood across a
                        # kill -9 and a start, 35 182 drops counted by the new life, none of the flood credited to it).
                        counted = life is not None and life.ended_by is None and life.proc.poll() is None
                        if counted:
                            life.flood_sent += self.BATCH     # (counted first: the agent may count drops at once)
                    for _ in range(self.BATCH):
                        try:
                            sock.sendto(data, feeder.addr)
                        except OSError:         # ENOBUFS: this host's own queue full — sent fewer
                            if counted:
                                life.flood_sent -= 1
                    self.sent += self.BATCH
                    time.sleep(0)               # the driver's other threads (the feeder, the subscriber) get a turn
        finally:
            feeder.flooding.clear()
            flood_ends(feeder, first, flood, sent=self.sent)


def small_fs_module():
    """tests/small_fs.py, loaded from its path: the tests' small tmpfs (mount, fill until ENOSPC, free)."""
    spec = importlib.util.spec_from_file_location("stad_small_fs", REPO / "tests" / "small_fs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(work: Path, state: Path, source: dict, broker_port: int, extra: str = "",
                 scorer: str = "numpy", sensors: list[str] | None = None, checkpoint_s: float = 2.0,
                 overrides: list[str] = ()) -> Path:
    """The soak's config, reading `source` (its entry of `sources`); with a model `scorer`, the bundle
    (work/bundles/start) and models_dir (work/models) it names are made here; `overrides` (`--set`): each
    `dotted.key=yaml value` set last."""
    (work / "gw.pw").write_text(GW_PASSWORD + "\n")
    scoring: dict = {"chain": ["numpy"]}
    if scorer in MODEL_SCORERS:
        (work / "models").mkdir(exist_ok=True)
        start = work / "bundles" / "start"
        if not start.exists():
            stamped_bundle(start, "chaos-start")
        # Agreement 0: whether a shadow agrees depends on where in the anomalies it falls, not on the bundle.
        scoring = {"chain": [scorer, "numpy"], "bundle": str(start), "models_dir": str(work / "models"),
                   "models_poll_ticks": 4, "shadow_ticks": 10, "shadow_min_agreement": 0.0,
                   "shadow_refuse_off_scale": 0.5}      # (chaos11: the off-scale bundles are refused by it)
    cfg = {"node": {"id": "chaos-gw", "site": "lab"}, "tick_s": TICK_S,
           "topology": "corridor" if scorer in MODEL_SCORERS else "group",
           "sensors": list(sensors or Stream.for_scorer(scorer).sensors), "sources": [source],
           "window": {"steps": 32 if scorer in MODEL_SCORERS else 16, "carry_forward_s": 1.5},
           "warmup": {"ticks": WARMUP_TICKS}, "scoring": scoring,
           "alerts": {"min_duration_ticks": 2, "clear_ticks": 4, "cooldown_ticks": 2, "update_interval_s": 3},
           "sinks": [{"type": "mqtt", "health_interval_s": 1,
                      "broker": {"host": "127.0.0.1", "port": broker_port, "username": "gw",
                                 "password": {"file": str(work / "gw.pw")}, "reconnect_min_s": 1,
                                 "reconnect_max_s": 2}},
                     {"type": "jsonl", "path": str(work / "alerts.jsonl")}],
           "state_dir": str(state), "checkpoint_s": checkpoint_s}
    for override in overrides:
        set_key(cfg, override)
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False) + extra)
    return path


def set_key(cfg: dict, override: str) -> None:
    """`a.b.c=value` (value read as YAML) set in `cfg`, the mappings on its path made as needed."""
    key, sep, value = override.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set {override!r}: want KEY=VALUE (a dotted key path, e.g. warmup.held_out=live)")
    *path, last = key.split(".")
    node = cfg
    for part in path:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SystemExit(f"--set {override!r}: {part} is not a mapping in the soak's config")
    node[last] = yaml.safe_load(value)


# -- the soak ------------------------------------------------------------------------------------

ACTIONS = {   # name → weight
    "kill9": 4, "sigterm": 2, "sighup": 2, "sighup_bad_edit": 2, "sighup_edit": 1, "broker_stop": 3, "broker_kill": 2,
    "broker_refuse": 2, "disk_fill": 3, "stall": 3, "bad_burst": 8, "flood": 2,
    "kill9_after_alert": 3, "outbox_disk_full": 2,      # chaos11: a power-cut-like kill; the outbox growing on a full disk
}
MODEL_ACTIONS = {"bundle_drop": 2, "bundle_corrupt": 2, "bundle_off_scale": 2}     # with a model --scorer
CORRUPTIONS = ("truncated", "bad hash")
OFF_SCALE = "off scale"     # not corrupt: a bundle of another plant, refused by the shadow
# A config edit a restart would refuse (chaos11: more than an unknown key): name → the file's text → the edited text.
CONFIG_MISTAKES = {
    "unknown key": lambda text: text + "alerts_typo: 1\n",
    "not yaml": lambda text: text + "sinks: [\n",
    "out of range": lambda text: text.replace("tick_s: 0.5", "tick_s: -0.5", 1),
    "key twice": lambda text: text + "tick_s: 1.0\n",
}

def source_actions(source: str, scorer: str, source_broker: str = "other") -> dict[str, int]:
    """The faults of a soak (name → weight): the agent's, the sink broker's, the disk's and the feed's stall always;
    the udp feed's bad records and flood, or the Modbus device's, or the MQTT publisher's and its broker's."""
    common = {a: w for a, w in ACTIONS.items() if source == "udp" or a not in ("bad_burst", "flood")}
    own = {"udp": {}, "modbus": ModbusChaos.actions,
           "mqtt": {"publisher_garbage": 8, "publisher_flood": 2, "retained_stale": 2, "topic_gone": 3,
                    **({"source_broker_stop": 2, "source_broker_kill": 2} if source_broker == "other" else {})}}
    return {**common, **own[source], **(MODEL_ACTIONS if scorer in MODEL_SCORERS else {})}


def received_events(sub: Subscriber) -> tuple[list[dict], list[dict]]:
    """The alert and fault events the subscriber got (JSON ones)."""
    out = []
    for suffix in ("/alerts", "/faults"):
        events = []
        for m in sub.on(suffix):
            try:
                events.append(json.loads(m["payload"]))
            except ValueError:
                pass
        out.append(events)
    return out[0], out[1]


def drop_bundle(work: Path, n: int, corrupt: str | None, runtime: str) -> dict:
    """A bundle made in work/staging, copied into models_dir under a dot name and renamed into place (README).
    `corrupt` 'off scale' (chaos11): a bundle that verifies and loads, its normalisation's means 50 stds off this
    plant's readings (another plant's), which the shadow refuses (the soak's `scoring.shadow_refuse_off_scale`)."""
    name = f"{'offscale' if corrupt == OFF_SCALE else 'corrupt' if corrupt else 'chaos'}-{n:03d}"
    staged = stamped_bundle(work / "staging" / name, name, None if corrupt == OFF_SCALE else corrupt, runtime)
    if corrupt == OFF_SCALE:
        manifest = json.loads((staged / "manifest.json").read_text())
        norm = manifest["normalisation"]
        norm["mean"] = {s: m + 50 * norm["std"][s] for s, m in norm["mean"].items()}
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=2))
    models = work / "models"
    shutil.copytree(staged, models / f".{name}")
    (models / f".{name}").rename(models / name)
    return {"name": name, "path": str(models / name), "corrupt": corrupt, "t": time.time()}


def wait_alert_line(path: Path, agent: Agent, timeout: float) -> str | None:
    """The kind of the first alert event (`new`, `update`, `end`) written to the JSONL from now on, as soon as its line
    is there (polled every 2 ms: the kill that follows should come before the agent's next step); None: none within
    `timeout`, or the agent ended."""
    start = path.stat().st_size if path.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and agent.alive():
        size = path.stat().st_size if path.exists() else 0
        if size < start:            # (rewritten at a start: no line of this life's to wait on)
            return None
        if size > start:
            with path.open("rb") as f:
                f.seek(start)
                chunk = f.read(size - start)
            lines = chunk.split(b"\n")
            for raw in lines[:-1]:
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if "alert_id" in obj:
                    return obj.get("event")
            start += len(chunk) - len(lines[-1])
        time.sleep(0.002)
    return None


def soak(args) -> dict:
    rng = random.Random(args.seed)
    work = Path(args.dir or tempfile.mkdtemp(prefix="stad-chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    state = work / "state"
    # Its own directory: mosquitto, dropping to its user under root, cannot reach into a 0700 one.
    broker = Broker(Path(tempfile.mkdtemp(prefix="stad-chaos-broker-")))
    broker.start()
    try:
        disk = None if args.no_disk else small_fs_module().mount_small_fs(state)
    except OSError as exc:
        broker.stop(signal.SIGTERM)
        raise SystemExit(f"{exc}; --no-disk runs without the disk faults") from None
    state.mkdir(exist_ok=True)
    udp_port = free_port(socket.SOCK_DGRAM)
    stream = Stream.for_scorer(args.scorer)
    sub = Subscriber(broker.port, work / "subscriber.jsonl")
    t0 = time.monotonic()
    earlier = Path(args.upgrade_from).resolve() if args.upgrade_from else None
    agent = Agent(work, config := work / "agent.yaml", earlier, t0 + args.duration / 2)
    (work / "gw.pw").write_text(GW_PASSWORD + "\n")
    source_broker = None
    if args.source == "modbus":
        src = ModbusChaos(agent, sub.warm_since, t0, stream.sensors, args.seed)
    elif args.source == "mqtt":
        if args.source_broker == "other":
            source_broker = Broker(Path(tempfile.mkdtemp(prefix="stad-chaos-source-broker-")))
            source_broker.start()
        src = MqttChaos(agent, sub.warm_since, t0, stream.sensors, args.seed, broker, source_broker,
                        VIEWER_PASSWORD, str(work / "gw.pw"))
    else:
        src = None
    write_config(work, state, src.source_config() if src else {"type": "udp", "port": udp_port}, broker.port,
                 scorer=args.scorer, sensors=stream.sensors, checkpoint_s=args.checkpoint_s, overrides=args.set)
    feeder = Feeder(udp_port, agent, args.seed, stream, sub.warm_since, emit=src.emit if src else None)
    if isinstance(src, MqttChaos):
        src.feeder = feeder
    if src is not None:
        agent.on_start = src.life_started
    done: list[dict] = []
    drops: list[dict] = []
    floods: list[Flood] = []
    actions = source_actions(args.source, args.scorer, args.source_broker)
    if args.faults:
        actions = {a: w for a, w in actions.items() if a in args.faults}
    restore: list[tuple[float, str]] = []       # (monotonic deadline, what to undo)

    def note(what: str, **kw) -> None:
        done.append({"t": round(time.monotonic() - t0, 1), "do": what, **kw})

    def undo(what: str) -> None:
        if src is not None and what not in ("broker", "disk", "stall", "flood"):
            restore.extend(src.undo(what, rng, note))
        elif what == "broker" and not (broker.up and not broker.refusing):
            broker.stop(signal.SIGTERM)
            broker.start()
            note("broker_start")
            if src is not None:
                src.broker_fault(False)
        elif what == "disk":         # (one fill at a time: each has its undo pending)
            disk.free()
            note("disk_free")
        elif what == "stall" and feeder.stalled.is_set():
            feeder.stalled.clear()
            note("stall_end")
            if src is not None:
                src.stall(False)
        elif what == "flood":
            floods[-1].join()
            note("flood_end", sent=floods[-1].sent)

    try:
        feeder.start()
        agent.start()
        note("agent_start", life=0)
        while time.monotonic() - t0 < args.duration:
            exited = agent.check_exit()
            if exited is not None or not agent.alive():
                if exited is not None:
                    note("agent_exited_on_its_own", life=exited.n, rc=exited.rc)
                else:           # never ready: stopped, and counted against it
                    note("agent_never_ready", life=agent.life.n, rc=agent.end("kill9").rc)
                agent.start()
                note("agent_start", life=agent.life.n)
            if feeder.anomalies_from == math.inf and _warm(sub.on("/health")):
                feeder.anomalies_from = time.time()
                note("anomalies_start")
            now = time.monotonic()
            for deadline, what in [r for r in restore if r[0] <= now]:
                restore.remove((deadline, what))
                undo(what)
            pending = {w for _, w in restore}
            choices = {a: w for a, w in actions.items()
                       if not (a.startswith("broker") and "broker" in pending)
                       and not (a in ("disk_fill", "outbox_disk_full") and (disk is None or "disk" in pending))
                       and not (a == "outbox_disk_full" and "broker" in pending)
                       and not (a in ("stall", "flood") and a in pending)
                       and not (src is not None and a in src.actions and src.blocked(a, pending))}
            if not choices:     # every fault asked for is under way (`--faults` with one): wait for one to end
                time.sleep(0.5)
                continue
            action = rng.choices(list(choices), list(choices.values()))[0]
            hold = rng.uniform(2, 30)
            if action in ("kill9", "sigterm"):
                life = agent.end(action)
                pause = rng.uniform(0, 4)
                note(action, life=life.n, rc=life.rc, down_s=round(pause, 1))
                time.sleep(pause)       # the agent is down: nothing to wait on
                agent.start()
                note("agent_start", life=agent.life.n, ready=agent.life.ready)
            elif action in ("sighup", "sighup_bad_edit", "sighup_edit") and agent.alive():
                text = config.read_text()
                # an edit: answered by the config check's own line (`SIGHUP: <file> changed …`); the bundle reload's
                # `model update (SIGHUP)` may come first, and the file put back before the check read it (chaos11)
                said_by = "SIGHUP" if action == "sighup" else f"SIGHUP: {config} changed"
                before = agent.log().count(said_by)
                mistake = rng.choice(sorted(CONFIG_MISTAKES)) if action == "sighup_bad_edit" else None
                if action == "sighup_bad_edit":
                    config.write_text(CONFIG_MISTAKES[mistake](text))
                elif action == "sighup_edit":     # kept: the next start runs with it
                    text = re.sub(r"update_interval_s: (\d+)", lambda m: f"update_interval_s: {7 - int(m.group(1))}", text)
                    config.write_text(text)
                agent.life.proc.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + 15     # answered at once, a stall or not (a warm-up delays a model reload)
                while agent.log().count(said_by) <= before and agent.alive() and time.monotonic() < deadline:
                    time.sleep(0.1)     # the agent says it in its log
                said = agent.log().count(said_by) > before
                config.write_text(text)
                note(action, life=agent.life.n, answered=said, alive=agent.alive(),
                     **({"mistake": mistake} if mistake else {}))
            elif action == "kill9_after_alert" and agent.alive():
                # A power cut right after an alert line reached alerts.jsonl (synced, chaos10), before the agent
                # went on: its MQTT send, its next checkpoint. Up to 15 s for one (the faults' undos wait); else no kill.
                line = wait_alert_line(work / "alerts.jsonl", agent, 15)
                if line is None:
                    note(action, life=agent.life.n, caught=None)
                    continue
                life = agent.end("kill9")
                pause = rng.uniform(0, 4)
                note(action, life=life.n, rc=life.rc, caught=line, down_s=round(pause, 1))
                time.sleep(pause)       # the agent is down: nothing to wait on
                agent.start()
                note("agent_start", life=agent.life.n, ready=agent.life.ready)
            elif action == "outbox_disk_full":
                # the broker away and the state disk full at once: the outbox grows while it cannot be written
                broker.stop(signal.SIGTERM)
                disk.fill()
                restore.append((time.monotonic() + hold, "broker"))
                restore.append((time.monotonic() + rng.uniform(2, hold), "disk"))
                note(action, hold_s=round(hold, 1))
                if src is not None:
                    src.broker_fault(True)
            elif action in ("broker_stop", "broker_kill", "broker_refuse"):
                broker.stop(signal.SIGKILL if action == "broker_kill" else signal.SIGTERM)
                if action == "broker_refuse":
                    broker.start(refuse=True)
                restore.append((time.monotonic() + hold, "broker"))
                note(action, hold_s=round(hold, 1))
                if src is not None:
                    src.broker_fault(True)
            elif action == "disk_fill":
                disk.fill()
                restore.append((time.monotonic() + hold, "disk"))
                note(action, hold_s=round(hold, 1))
            elif action == "stall":
                feeder.stalled.set()
                hold = rng.uniform(1, 12)
                restore.append((time.monotonic() + hold, "stall"))
                note(action, hold_s=round(hold, 1))
                if src is not None:
                    src.stall(True)
            elif src is not None and action in src.actions:
                restore.extend(src.do(action, rng, hold, note))
            elif action == "flood":
                hold = rng.uniform(1, 8)
                floods.append(Flood(feeder, hold, rng.randrange(2**32)))
                floods[-1].start()
                restore.append((time.monotonic() + hold, "flood"))
                note(action, hold_s=round(hold, 1))
            elif action in MODEL_ACTIONS:
                corrupt = rng.choice(CORRUPTIONS) if action == "bundle_corrupt" else \
                    OFF_SCALE if action == "bundle_off_scale" else None
                drops.append(drop_bundle(work, len(drops), corrupt, args.scorer))
                note(action, bundle=drops[-1]["name"], corrupt=corrupt)
            elif action == "bad_burst":
                kinds = rng.sample(list(BAD), rng.randint(1, 4))
                sent = Counter()
                for _ in range(rng.randint(1, 30)):
                    kind = rng.choice(kinds)
                    if feeder.bad(kind, rng):
                        sent[kind] += 1
                note(action, sent=dict(sent))
            time.sleep(rng.uniform(1, args.gap))     # the schedule's own pace
        # The end: every fault undone, the agent given time to deliver, then stopped cleanly.
        while restore:          # (a source's undo may bring one more: a device back on a moved map, then fixed)
            undo(restore.pop(0)[1])
        if not agent.alive():
            agent.start()
            note("agent_start", life=agent.life.n)
        calm = time.time()
        drained = sub.wait(lambda ms: _drained(ms, calm), 180)
        note("drained" if drained else "not drained in 180 s")
        if drops:       # every bundle dropped decided on (the last ones may still be loading or in shadow)
            deadline = time.monotonic() + 180
            while _unjudged(agent, drops) and agent.alive() and time.monotonic() < deadline:
                time.sleep(0.5)     # the agent says it in its log
            note("bundles judged", unjudged=_unjudged(agent, drops))
        life = agent.end("sigterm")
        note("sigterm", life=life.n, rc=life.rc)
        if not sub.wait(lambda ms: _delivered(ms, work / "alerts.jsonl", life.started), 60):
            # The clean stop's own events (the last ones before it) not sent within its 3-s
            # drain stay in the outbox for the next start (README): one more life sends them.
            note("left in the outbox at the stop")
            agent.start()
            note("agent_start", life=agent.life.n)
            sub.wait(lambda ms: _drained(ms, time.time()), 120)
            life = agent.end("sigterm")
            note("sigterm", life=life.n, rc=life.rc)
            sub.wait(lambda ms: _delivered(ms, work / "alerts.jsonl", life.started), 60)
    finally:
        feeder.stopped.set()
        if agent.alive():
            agent.end("sigterm")
        sub.close()
        if src is not None:
            src.close()
        if source_broker is not None:
            source_broker.stop(signal.SIGTERM)
            shutil.copy2(source_broker.dir / "mosquitto.log", work / "source-mosquitto.log")
            shutil.rmtree(source_broker.dir, ignore_errors=True)
        broker.stop(signal.SIGTERM)
        shutil.copy2(broker.dir / "mosquitto.log", work / "mosquitto.log")
        shutil.rmtree(broker.dir, ignore_errors=True)
        if state.exists():      # what the last life left, for a look after the tmpfs is gone
            shutil.copytree(state, work / "state-at-end", ignore=shutil.ignore_patterns("filler"), dirs_exist_ok=True)
        if disk is not None:
            disk.unmount()
    result = {"bench": "chaos", "seed": args.seed, "duration_s": args.duration, "set": args.set,
              "wall_s": round(time.monotonic() - t0, 1), "dir": str(work),
              "lives": len(agent.lives), "valid_records_sent": feeder.sent,
              "releases": {"earlier": str(earlier), "lives": dict(Counter(life.release for life in agent.lives))}
              if earlier else None,
              "actions": dict(Counter(d["do"] for d in done)),
              "bad_records_sent": dict(sum((life.bad_sent for life in agent.lives), Counter())),
              "floods": [{"life": life.n, **flood_figures(life, f)} for life in agent.lives for f in life.floods],
              "scorer": args.scorer, "bundles_dropped": dict(Counter(d["corrupt"] or "valid" for d in drops)),
              "bundle_outcomes": bundle_outcomes(agent, drops) if drops else None,
              "received": event_counts(sub), "invariants": check(
                  work, sub, agent, args.scorer, drops, rejects=(lambda a: udp_rejects(a, set(BAD.values())))
                  if src is None else (lambda a: src.check(a, *received_events(sub)))),
              "source": {"type": args.source, **({"broker": args.source_broker} if args.source == "mqtt" else {}),
                         **(src.summary() if src else {})},
              "machine": machine_info(), "load_1min": os.getloadavg()[0]}
    result["invariants"]["a SIGHUP on a config error is answered, the agent running on"] = \
        sighup_refusals(agent, done) or "held"
    result["alert_lines_killed_after"] = dict(Counter(d.get("caught") or "none in 15 s" for d in done
                                                      if d["do"] == "kill9_after_alert"))
    result["held"] = all(v == "held" for v in result["invariants"].values())
    (work / "actions.json").write_text(json.dumps(done, indent=1))
    return result


def _warm(healths: list[dict]) -> bool:
    """One of the last three health messages says warm."""
    for m in healths[-3:]:
        try:
            if json.loads(m["payload"]).get("warm"):
                return True
        except (ValueError, AttributeError):
            continue
    return False


def _drained(messages: list[dict], since: float) -> bool:
    """A health message sent after `since` says the agent is warm and its outbox empty, nothing held."""
    for m in reversed(messages):
        if m["t"] < since + 1:
            return False
        if m["topic"].endswith("/health"):
            try:
                h = json.loads(m["payload"])
            except ValueError:
                return False
            box = h.get("outbox") or {}
            return bool(h.get("warm")) and box.get("depth") == 0 and not box.get("held")
    return False


def _delivered(messages: list[dict], jsonl: Path, started: float) -> bool:
    """`offline` published after `started`, and every alert and fault event of the JSONL received."""
    got = set()
    for m in messages:
        if m["topic"].endswith(("/alerts", "/faults")):
            p = json.loads(m["payload"])
            got.add((p.get("alert_id") or p.get("fault_id"), p["seq"]))
    want = {(e.get("alert_id") or e.get("fault_id"), e["seq"]) for e in map(json.loads, jsonl.read_text().splitlines())} \
        if jsonl.exists() else set()
    offline = any(m["topic"].endswith("/status") and m["payload"] == "offline" and m["t"] >= started for m in messages)
    return offline and want <= got


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=900, help="seconds of chaos (then the clean end)")
    p.add_argument("--gap", type=float, default=12, help="at most this many seconds between two faults")
    p.add_argument("--dir", help="work directory (default: a new temporary one, kept)")
    p.add_argument("--no-disk", action="store_true", help="no tmpfs: state_dir on the work directory, no disk faults")
    p.add_argument("--checkpoint-s", type=float, default=2.0,
                   help="the agent's checkpoint_s (longer: kill -9s fall two within one interval, a restart's wait)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="one key of the soak's config by its dotted path, the value as YAML (warmup.held_out=live)")
    p.add_argument("--upgrade-from", metavar="TREE", help="an earlier release's source tree: the first half's lives")
    p.add_argument("--faults", type=lambda v: v.split(","), metavar="NAME,...",
                   help="only these faults (default: all, by their weights: " + ", ".join(ACTIONS) + ")")
    p.add_argument("--scorer", choices=("numpy", *MODEL_SCORERS), default="numpy",
                   help="the tier the agent runs: numpy alone, or the demo bundle on this runtime (with a models_dir)")
    p.add_argument("--source", choices=("udp", "modbus", "mqtt"), default="udp",
                   help="what the agent reads: the udp feed, a Modbus TCP device of the driver's, or MQTT topics "
                        "(bench/chaos_sources.py: each with its own faults)")
    p.add_argument("--source-broker", choices=("same", "other"), default="other",
                   help="--source mqtt: the sink's broker, or one of its own (with its own stops and kills)")
    args = p.parse_args(argv)
    known = source_actions(args.source, args.scorer, args.source_broker)
    if args.faults and set(args.faults) - set(known):
        raise SystemExit(f"--faults: no fault {sorted(set(args.faults) - set(known))} with --scorer {args.scorer} "
                         f"--source {args.source} (there are {', '.join(known)})")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    for tool in ("mosquitto", "mosquitto_passwd"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is not installed (apt-get install mosquitto mosquitto-clients)")
    result = soak(args)
    print(json.dumps(result, indent=1))
    return 0 if result["held"] else 1


if __name__ == "__main__":
    sys.exit(main())
