"""A chaos soak: faults at random and at once on a real agent, then the promises checked from what
a subscriber received and what the JSONL holds. Prints JSON (what was done, counts, invariants).

    python bench/chaos.py [--seed 1] [--duration 900] [--dir DIR] [--no-disk] [--scorer numpy|tflite|onnx]
                          [--upgrade-from TREE] [--checkpoint-s 2] [--faults flood,kill9,...]

Earlier QA rounds each tried one or two faults at a time (tests/test_qa*.py). Here a real
`python -m agent run` (udp source on the host's clock, 0.5-s ticks, numpy tier, MQTT + JSONL
sinks, state_dir on a 2 MiB tmpfs) runs for `--duration` seconds of wall time while, chosen by a
seeded random generator, the driver: kills it with SIGKILL and starts it again, stops it with
SIGTERM and starts it again, sends it SIGHUP (with the config file as it is; edited with a
mistake a restart would refuse, then put back; edited validly — alerts.update_interval_s 3 ↔ 4 —
and kept, which the next start applies), stops the broker (SIGTERM or SIGKILL) and starts it again, makes
the broker refuse the gateway's password, fills the state disk and frees it, sends malformed /
NaN / duplicate / far-future / out-of-range / unknown-sensor records, stalls the source, and floods it
(a sender resending its reading as fast as one thread can, 1–8 s: chaos1).
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
- through a flood the agent's loop goes on (its STATUS lines, every 5 s, never silent over 30 s from the
  flood's start to the first after its end, and more ticks said after than before) and its memory stays
  bounded (VmRSS at most 64 MiB more after it); what a flood costs is counted within what was sent: its
  duplicates, the kernel's drops (bad records sent meanwhile among them), what was unread at a stop.

With `--scorer tflite` (or `onnx`) the agent runs the model tier: the demo bundle's 18 corridor sensors
(readings at its normalisation's means, noise a tenth of its stds, the anomaly an incident at S03), chain `[tflite, numpy]`, the bundle a
copy of agent/models/demo-corridor stamped for the soak's 0.5-s tick (the model is the demo's, its
manifest's `tick_s` changed: the soak tests what the agent does with a model tier, not how well the
model scores), and a `scoring.models_dir`, into which the driver also drops (copied under a dot name,
renamed into place) valid copies of the bundle (another model_id each) and corrupt ones (the runtime's
model files truncated, or a sha256 in the manifest changed); a SIGHUP asks for the newest of them. Its
invariants besides: every life scores on the configured tier (its STATUS lines say `tier=tflite`)
unless its log says why it stepped down; every corrupt bundle is refused with a line naming it and the
file that does not verify (its size or sha256), never swapped in (no line, health or alert names it as the model), and the last life's
health counts the rejections its log says; every dropped bundle is judged (swapped in or refused) by the end.

With `--upgrade-from TREE` (an earlier release's source tree: `git archive REV | tar -x -C TREE`) the lives
started in the first half of the chaos run that earlier release's agent (`python -m agent` in TREE), the
rest this tree's: the upgrade happens at a restart under the same faults (a kill -9 or a clean stop, a full
disk), on the state, journals and outbox the earlier release left. The invariants are the same, checked
across both releases' events (each life's release is in the JSON's `releases`).

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
from collections import Counter, defaultdict
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

TICK_S = 0.5
WARMUP_TICKS = 80
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
MODEL_SCORERS = ("tflite", "onnx")
MODEL_SUFFIX = {"tflite": ".tflite", "onnx": ".onnx"}
SCHEMAS = {name: json.loads((REPO / f"agent/schemas/{name}.schema.json").read_text())
           for name in ("alert", "fault", "health")}
GW_PASSWORD, VIEWER_PASSWORD = "gw-right", "viewer-pw"

# Bad records: kind → the reject reason each of its values must be counted under.
BAD = {
    "junk": "bad json", "truncated json": "bad json", "nan": "non-finite value", "far future": "clock skew",
    "year 2099": "clock skew", "unknown sensor": "unknown sensor", "out of range": "value out of range",
    "duplicate": "duplicate", "no ts": None,
}
# A live record without "ts" is stamped on arrival (README): taken, or, when its tick already has
# the sensor, one more `duplicate`.


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
        self.flood_sent = 0                     # flood datagrams sent to it while ready (each all sensors)
        self.valid_in_flood = 0                 # the feeder's records sent to it while a flood ran
        self.bad_in_flood = 0                   # bad values sent to it while a flood ran (the kernel may drop them)
        self.floods: list[dict] = []            # per flood: its times (time.time()), its RSS before and after
        self.release = "this"                   # or "earlier" (--upgrade-from)


class Agent:
    """The agent's lives, one process at a time, on one config."""

    def __init__(self, work: Path, config: Path, earlier: Path | None = None, upgrade_at: float = 0.0):
        self.work, self.config = work, config
        self.earlier, self.upgrade_at = earlier, upgrade_at     # (monotonic) lives from then on: this tree's
        self.lives: list[Life] = []
        self.lock = threading.Lock()

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
            life.ended_by, life.rc = "exited", life.proc.returncode
            life.notify.close()
            return life
        return None

    def end(self, how: str) -> Life:
        life = self.life
        with self.lock:
            life.ended_by = life.ended_by or how      # one that exited (or never got ready) keeps saying so
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
    """One datagram a tick on the host's clock, unless stalled; bad records on request."""

    def __init__(self, port: int, agent: Agent, seed: int, stream: Stream, warm=lambda since: True):
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
            data = (json.dumps(self.stream.reading(stamp, self.rng, self.anomalous(now))) + "\n").encode()
            with self.lock:
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
                values = len(json.loads(data)) - 1
            else:
                values = 1
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
                life.bad_sent[BAD[kind] or f"{kind} (taken)"] += values
                life.bad_in_flood += values * self.flooding.is_set()
        return True


def rss_kb(pid: int) -> int | None:
    """The process's resident set now (VmRSS, KiB); None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:")), None)
    except (OSError, ValueError):
        return None


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
        with agent.lock:
            first = agent.life
        flood = {"start": time.time(), "rss_kb_before": rss_kb(first.proc.pid) if first else None}
        feeder.flooding.set()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                while time.monotonic() < end and not feeder.stopped.is_set():
                    now = time.time()
                    data = (json.dumps(feeder.stream.reading(now, self.rng, feeder.anomalous(now)))
                            + "\n").encode()
                    with agent.lock:
                        life = agent.life
                        counted = life is not None and life.ended_by is None and life.ready \
                            and life.proc.poll() is None
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
            flood.update(end=time.time(), sent=self.sent)
            with agent.lock:
                life = agent.life
            if life is not None and life is first:      # (one across a restart: its counts are its lives')
                flood["rss_kb_after"] = rss_kb(life.proc.pid)
                life.floods.append(flood)


def small_fs_module():
    """tests/small_fs.py, loaded from its path: the tests' small tmpfs (mount, fill until ENOSPC, free)."""
    spec = importlib.util.spec_from_file_location("stad_small_fs", REPO / "tests" / "small_fs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(work: Path, state: Path, udp_port: int, broker_port: int, extra: str = "",
                 scorer: str = "numpy", sensors: list[str] | None = None, checkpoint_s: float = 2.0) -> Path:
    """The soak's config; with a model `scorer`, the bundle (work/bundles/start) and models_dir (work/models)
    it names are made here."""
    (work / "gw.pw").write_text(GW_PASSWORD + "\n")
    scoring: dict = {"chain": ["numpy"]}
    if scorer in MODEL_SCORERS:
        (work / "models").mkdir(exist_ok=True)
        start = work / "bundles" / "start"
        if not start.exists():
            stamped_bundle(start, "chaos-start")
        # Agreement 0: whether a shadow agrees depends on where in the anomalies it falls, not on the bundle.
        scoring = {"chain": [scorer, "numpy"], "bundle": str(start), "models_dir": str(work / "models"),
                   "models_poll_ticks": 4, "shadow_ticks": 10, "shadow_min_agreement": 0.0}
    cfg = {"node": {"id": "chaos-gw", "site": "lab"}, "tick_s": TICK_S,
           "topology": "corridor" if scorer in MODEL_SCORERS else "group",
           "sensors": list(sensors or Stream.for_scorer(scorer).sensors), "sources": [{"type": "udp", "port": udp_port}],
           "window": {"steps": 32 if scorer in MODEL_SCORERS else 16, "carry_forward_s": 1.5},
           "warmup": {"ticks": WARMUP_TICKS}, "scoring": scoring,
           "alerts": {"min_duration_ticks": 2, "clear_ticks": 4, "cooldown_ticks": 2, "update_interval_s": 3},
           "sinks": [{"type": "mqtt", "health_interval_s": 1,
                      "broker": {"host": "127.0.0.1", "port": broker_port, "username": "gw",
                                 "password": {"file": str(work / "gw.pw")}, "reconnect_min_s": 1,
                                 "reconnect_max_s": 2}},
                     {"type": "jsonl", "path": str(work / "alerts.jsonl")}],
           "state_dir": str(state), "checkpoint_s": checkpoint_s}
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False) + extra)
    return path


# -- the invariants ------------------------------------------------------------------------------

def _schema_errors(payloads: list[dict], schema: str) -> list[str]:
    out = []
    for p in payloads:
        try:
            jsonschema.validate(p, SCHEMAS[schema])
        except jsonschema.ValidationError as exc:
            out.append(f"{schema}: {exc.message} in {json.dumps(p)[:300]}")
    return out


def _streams(events: list[dict], key: str, first: str, last: str, left_open: set) -> list[str]:
    """Broken sequences: per id, seq 0..n without gap, `first` at seq 0, one `last`, at the end — none
    for the ids in `left_open` (open at the final clean stop, which leaves them for the next start)."""
    by_id: dict[str, dict[int, dict]] = defaultdict(dict)
    for e in events:
        by_id[e[key]].setdefault(e["seq"], e)
    broken = []
    for ident, seqs in by_id.items():
        order = sorted(seqs)
        kinds = [seqs[s]["event"] for s in order]
        if order != list(range(len(order))):
            broken.append(f"{ident}: seqs {order} (a gap or no seq 0)")
        if kinds[0] != first:
            broken.append(f"{ident}: starts with {kinds[0]} (no {first})")
        if ident in left_open:
            if last in kinds:
                broken.append(f"{ident}: open at the final stop by its health, yet {kinds.count(last)} {last}")
        elif kinds.count(last) != 1 or kinds[-1] != last:
            broken.append(f"{ident}: events {kinds[:3]}…{kinds[-3:]} ({kinds.count(last)} {last}, last {kinds[-1]})")
    return broken


def _without(p: dict, *keys) -> dict:
    return {k: v for k, v in p.items() if k not in keys}


def check(work: Path, sub: Subscriber, agent: Agent, scorer: str = "numpy", drops: list[dict] | None = None) -> dict:
    inv: dict[str, list[str]] = {}
    n_sensors = len(Stream.for_scorer(scorer).sensors)
    # The agent's lives.
    inv["agent exits only when told"] = [f"life {life.n}: exited on its own, rc {life.rc}" for life in agent.lives
                                         if life.ended_by in ("exited", "never ready")]
    inv["a clean stop exits 0"] = [f"life {life.n}: rc {life.rc}" for life in agent.lives
                                   if life.ended_by == "sigterm" and life.rc != 0]
    inv["no traceback"] = [f"life {life.n}: {life.err}" for life in agent.lives
                           if "Traceback" in life.err.read_text(errors="replace")]
    # The driver moves no clock: the sender's stamps are this host's, a stall is a silence.
    inv["no time-base move"] = [f"life {life.n}: {line[24:200]}" for life in agent.lives
                                for line in life.err.read_text(errors="replace").splitlines()
                                if "time base moved" in line and "summary:" not in line][:20]
    # What the subscriber got.
    parsed: dict[str, list[dict]] = {"alerts": [], "faults": [], "health": []}
    bad_json = []
    for m in sub.messages:
        kind = m["topic"].rsplit("/", 1)[-1]
        if kind in parsed:
            try:
                parsed[kind].append(json.loads(m["payload"]))
            except ValueError:
                bad_json.append(m["topic"])
    inv["mqtt payloads are JSON"] = bad_json
    inv["schemas"] = (_schema_errors(parsed["alerts"], "alert") + _schema_errors(parsed["faults"], "fault")
                      + _schema_errors(parsed["health"], "health"))[:20]
    # The JSONL.
    jsonl_alerts, jsonl_faults, torn = [], [], []
    path = work / "alerts.jsonl"
    for i, line in enumerate(path.read_text().splitlines(keepends=True) if path.exists() else []):
        try:
            obj = json.loads(line)
        except ValueError:
            torn.append(f"line {i + 1}: {line[:80]!r}")
            continue
        if "fault_id" in obj:          # a fault line is the fault event as it is (its `kind`: missing, stuck…)
            jsonl_faults.append(obj)
        else:
            jsonl_alerts.append(_without(obj, "kind"))
    inv["jsonl lines whole"] = torn
    inv["schemas"] += (_schema_errors(jsonl_alerts, "alert") + _schema_errors(jsonl_faults, "fault"))[:20]
    # The final clean stop (SIGTERM) leaves an open alert and open faults open, as its last health says.
    final = parsed["health"][-1] if parsed["health"] else {}
    open_alerts = {final["alert_open"]["alert_id"]} if final.get("alert_open") else set()
    last_fault = {f["sensor"]: f for f in jsonl_faults}
    open_faults = {last_fault[s]["fault_id"] for s, kind in (final.get("faults_active") or {}).items()
                   if s in last_fault and last_fault[s]["event"] == "fault" and last_fault[s]["kind"] == kind}
    # A source fault (its event's `sensor` is the source's label) is in `faults_active` as its sensors, each
    # `missing`: health's `sources` names it (down, its fault_id). A stall within faults.clear_s (60 s) of the
    # last one keeps it open, so the final stop often leaves one (qa35: seed 101's was counted as never ended).
    open_faults |= {src["fault_id"] for src in (final.get("sources") or {}).values()
                    if src.get("down") and src.get("fault_id")}
    inv["alert sequences (mqtt)"] = _streams(parsed["alerts"], "alert_id", "new", "end", open_alerts)
    inv["alert sequences (jsonl)"] = _streams(jsonl_alerts, "alert_id", "new", "end", open_alerts)
    inv["fault sequences (mqtt)"] = _streams(parsed["faults"], "fault_id", "fault", "fault_end", open_faults)
    inv["fault sequences (jsonl)"] = _streams(jsonl_faults, "fault_id", "fault", "fault_end", open_faults)

    def keyed(events, key):
        out: dict[tuple, list[dict]] = defaultdict(list)
        for e in events:
            out[(e[key], e["seq"])].append(_without(e, "replayed"))
        return out
    for name, mq, jl, key in (("alerts", parsed["alerts"], jsonl_alerts, "alert_id"),
                              ("faults", parsed["faults"], jsonl_faults, "fault_id")):
        mk, jk = keyed(mq, key), keyed(jl, key)
        inv[f"{name}: in the jsonl, never over mqtt"] = [str(k) for k in sorted(set(jk) - set(mk))]
        inv[f"{name}: over mqtt, not in the jsonl"] = [str(k) for k in sorted(set(mk) - set(jk))]
        inv[f"{name}: written twice to the jsonl"] = [str(k) for k, v in jk.items() if len(v) > 1]
        inv[f"{name}: copies disagree"] = [str(k) for k in set(mk) | set(jk)
                                           if len({json.dumps(e, sort_keys=True) for e in mk.get(k, []) + jk.get(k, [])}) > 1][:20]
    # The outbox at the end: drained, nothing dropped.
    last = parsed["health"][-1] if parsed["health"] else {}
    box = (last.get("outbox") or {})
    inv["outbox drained, nothing dropped"] = ([] if box.get("depth") == 0 and not box.get("dropped_total")
                                              else [json.dumps(box)[:400]])
    # Rejects of the lives stopped cleanly: their summary lines.
    rejects = []
    for life in agent.lives:
        if life.ended_by != "sigterm":
            continue
        text = life.err.read_text(errors="replace")
        m = re.search(r"summary: (\d+) ticks, (\d+) records in, rejected (\d+) \((.*?)\);", text)
        if not m:
            rejects.append(f"life {life.n}: no summary line")
            continue
        counted = Counter({k: int(v) for k, v in (part.rsplit(": ", 1) for part in m.group(4).split(", ")
                                                  if part != "none")})
        sent = {r: n for r, n in life.bad_sent.items() if r in BAD.values()}
        # A flood's datagrams, and the feeder's own sent meanwhile, are each taken, a duplicate per value, or
        # dropped by the kernel (one per datagram).
        # dropped by the kernel (one per datagram) — the bad records sent meanwhile too, which are then not counted
        # under their own reason.
        flooded = life.flood_sent + life.valid_in_flood
        # Whatever the kernel still held at the stop is counted `unread at stop` (one per line), not by its reason.
        may_add = {"duplicate": life.bad_sent["no ts (taken)"] + flooded * n_sensors,
                   "kernel drop": flooded + life.bad_in_flood, "late": life.valid_in_flood * n_sensors,
                   "unread at stop": flooded + life.valid_sent + sum(life.bad_sent.values())}
        short = 0
        for reason in set(sent) | set(counted):
            short += max(0, sent.get(reason, 0) - counted[reason])
            if not counted[reason] <= sent.get(reason, 0) + may_add.get(reason, 0):
                rejects.append(f"life {life.n}: {sent.get(reason, 0)} sent as {reason!r}, {counted[reason]} counted")
        if short > min(life.bad_in_flood, counted["kernel drop"]) + counted["unread at stop"]:
            rejects.append(f"life {life.n}: {short} bad records not counted under their reason, "
                           f"{life.bad_in_flood} sent during floods, {counted['kernel drop']} kernel drops, "
                           f"{counted['unread at stop']} unread at the stop: {dict(counted)}"
                           f" counted, {sent} sent")
    inv["rejects counted"] = rejects
    inv.update(check_floods(agent))
    if scorer in MODEL_SCORERS:
        inv.update(check_model(sub, agent, scorer, drops or [], parsed["health"]))
    return {k: ("held" if not v else v) for k, v in inv.items()}


#: A flood may not silence the agent's loop longer than this (its STATUS comes every 5 s: HEALTH_EVERY_S) …
FLOOD_SILENCE_S = 30.0
#: … nor grow its memory more than this (its intake queue holds 1 MiB at most, the kernel's buffer ~200 KiB).
FLOOD_RSS_GROWTH_KB = 64 * 1024
TICKS = re.compile(r"STATUS=tier=\w+ ticks=(\d+)")


def flood_figures(life: Life, flood: dict) -> dict:
    """One flood as the agent's STATUS lines saw it: the longest silence from its start until the first STATUS
    after its end, and the ticks said before it and after it."""
    status = [(t, int(m.group(1))) for t, ln in life.notify.times if (m := TICKS.match(ln))]
    before = [n for t, n in status if t < flood["start"]]
    during = [t for t, _ in status if flood["start"] <= t <= flood["end"]]
    after = [(t, n) for t, n in status if t > flood["end"]]
    marks = [flood["start"], *during] + ([after[0][0]] if after else [])
    return {"s": round(flood["end"] - flood["start"], 1), "sent": flood["sent"],
            "longest_silence_s": round(max(b - a for a, b in zip(marks, marks[1:])), 1) if after else None,
            "ticks_before": before[-1] if before else None, "ticks_after": after[0][1] if after else None,
            "rss_kb": [flood["rss_kb_before"], flood.get("rss_kb_after")]}


def check_floods(agent: Agent) -> dict:
    """Through a flood the agent's loop goes on (ticks said, within FLOOD_SILENCE_S, and more of them after it
    than before) and its memory stays bounded. A flood its life did not outlive by a STATUS is not judged."""
    silent, memory = [], []
    for life in agent.lives:
        for flood in life.floods:
            f = flood_figures(life, flood)
            if f["longest_silence_s"] is None:
                if life.ended_by is None or life.ended_by in ("exited", "never ready"):
                    silent.append(f"life {life.n}: no STATUS after a flood of {f['s']} s ({f['sent']} sent)")
                continue
            if f["longest_silence_s"] > FLOOD_SILENCE_S or (f["ticks_before"] is not None
                                                            and f["ticks_after"] <= f["ticks_before"]):
                silent.append(f"life {life.n}: {json.dumps(f)}")
            before, after = f["rss_kb"]
            if before and after and after - before > FLOOD_RSS_GROWTH_KB:
                memory.append(f"life {life.n}: RSS {before} -> {after} KiB over a flood of {f['s']} s")
    return {"the loop goes on through a flood": silent, "a flood leaves memory bounded": memory}


def event_counts(sub: Subscriber) -> dict:
    alerts = [json.loads(m["payload"]) for m in sub.on("/alerts")]
    faults = [json.loads(m["payload"]) for m in sub.on("/faults")]
    return {"alert_messages": len(alerts), "alert_events": len({(a["alert_id"], a["seq"]) for a in alerts}),
            "alerts": len({a["alert_id"] for a in alerts}),
            "by_event": dict(Counter(a["event"] for a in {(a["alert_id"], a["seq"]): a for a in alerts}.values())),
            "end_reasons": dict(Counter(a["reason"] for a in alerts if a["event"] == "end")),
            "replayed_messages": sum(1 for a in alerts if a.get("replayed")),
            "fault_events": len({(f["fault_id"], f["seq"]) for f in faults}),
            "health_messages": len(sub.on("/health"))}


# -- the soak ------------------------------------------------------------------------------------

ACTIONS = {   # name → weight
    "kill9": 4, "sigterm": 2, "sighup": 2, "sighup_bad_edit": 2, "sighup_edit": 1, "broker_stop": 3, "broker_kill": 2,
    "broker_refuse": 2, "disk_fill": 3, "stall": 3, "bad_burst": 8, "flood": 2,
}
MODEL_ACTIONS = {"bundle_drop": 2, "bundle_corrupt": 2}     # with a model --scorer
CORRUPTIONS = ("truncated", "bad hash")
# How a bundle that does not verify is refused: a file cut short, or one whose sha256 is not the manifest's.
VERIFY_FAILED = re.compile(r"\.(?:tflite|onnx): (sha256 mismatch|size \d+ bytes, the manifest says)")


def drop_bundle(work: Path, n: int, corrupt: str | None, runtime: str) -> dict:
    """A bundle made in work/staging, copied into models_dir under a dot name and renamed into place (README)."""
    name = f"{'corrupt' if corrupt else 'chaos'}-{n:03d}"
    staged = stamped_bundle(work / "staging" / name, name, corrupt, runtime)
    models = work / "models"
    shutil.copytree(staged, models / f".{name}")
    (models / f".{name}").rename(models / name)
    return {"name": name, "path": str(models / name), "corrupt": corrupt, "t": time.time()}


def judged(line: str, path: str) -> bool:
    """A log line that decides on the bundle at `path`: swapped in, refused, or the running one again."""
    return re.search(re.escape(path) + r"(?=[:; ]|$)", line) is not None and (
        "rejected:" in line or "scorer tier" in line or "not swapped again" in line)


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
    config = write_config(work, state, udp_port, broker.port, scorer=args.scorer, sensors=stream.sensors,
                          checkpoint_s=args.checkpoint_s)
    sub = Subscriber(broker.port, work / "subscriber.jsonl")
    t0 = time.monotonic()
    earlier = Path(args.upgrade_from).resolve() if args.upgrade_from else None
    agent = Agent(work, config, earlier, t0 + args.duration / 2)
    feeder = Feeder(udp_port, agent, args.seed, stream, sub.warm_since)
    done: list[dict] = []
    drops: list[dict] = []
    floods: list[Flood] = []
    actions = {**ACTIONS, **(MODEL_ACTIONS if args.scorer in MODEL_SCORERS else {})}
    if args.faults:
        actions = {a: w for a, w in actions.items() if a in args.faults}
    restore: list[tuple[float, str]] = []       # (monotonic deadline, what to undo)

    def note(what: str, **kw) -> None:
        done.append({"t": round(time.monotonic() - t0, 1), "do": what, **kw})

    def undo(what: str) -> None:
        if what == "broker" and not (broker.up and not broker.refusing):
            broker.stop(signal.SIGTERM)
            broker.start()
            note("broker_start")
        elif what == "disk":         # (one fill at a time: each has its undo pending)
            disk.free()
            note("disk_free")
        elif what == "stall" and feeder.stalled.is_set():
            feeder.stalled.clear()
            note("stall_end")
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
                       and not (a == "disk_fill" and (disk is None or "disk" in pending))
                       and not (a in ("stall", "flood") and a in pending)}
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
                before = agent.log().count("SIGHUP")
                if action == "sighup_bad_edit":
                    config.write_text(text + "alerts_typo: 1\n")
                elif action == "sighup_edit":     # kept: the next start runs with it
                    text = re.sub(r"update_interval_s: (\d+)", lambda m: f"update_interval_s: {7 - int(m.group(1))}", text)
                    config.write_text(text)
                agent.life.proc.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + 15     # answered at once, a stall or not (a warm-up delays a model reload)
                while agent.log().count("SIGHUP") <= before and agent.alive() and time.monotonic() < deadline:
                    time.sleep(0.1)     # the agent says it in its log
                said = agent.log().count("SIGHUP") > before
                config.write_text(text)
                note(action, life=agent.life.n, answered=said)
            elif action in ("broker_stop", "broker_kill", "broker_refuse"):
                broker.stop(signal.SIGKILL if action == "broker_kill" else signal.SIGTERM)
                if action == "broker_refuse":
                    broker.start(refuse=True)
                restore.append((time.monotonic() + hold, "broker"))
                note(action, hold_s=round(hold, 1))
            elif action == "disk_fill":
                disk.fill()
                restore.append((time.monotonic() + hold, "disk"))
                note(action, hold_s=round(hold, 1))
            elif action == "stall":
                feeder.stalled.set()
                hold = rng.uniform(1, 12)
                restore.append((time.monotonic() + hold, "stall"))
                note(action, hold_s=round(hold, 1))
            elif action == "flood":
                hold = rng.uniform(1, 8)
                floods.append(Flood(feeder, hold, rng.randrange(2**32)))
                floods[-1].start()
                restore.append((time.monotonic() + hold, "flood"))
                note(action, hold_s=round(hold, 1))
            elif action in MODEL_ACTIONS:
                corrupt = rng.choice(CORRUPTIONS) if action == "bundle_corrupt" else None
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
        for _, what in list(restore):
            undo(what)
        restore.clear()
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
        broker.stop(signal.SIGTERM)
        shutil.copy2(broker.dir / "mosquitto.log", work / "mosquitto.log")
        shutil.rmtree(broker.dir, ignore_errors=True)
        if state.exists():      # what the last life left, for a look after the tmpfs is gone
            shutil.copytree(state, work / "state-at-end", ignore=shutil.ignore_patterns("filler"), dirs_exist_ok=True)
        if disk is not None:
            disk.unmount()
    result = {"bench": "chaos", "seed": args.seed, "duration_s": args.duration,
              "wall_s": round(time.monotonic() - t0, 1), "dir": str(work),
              "lives": len(agent.lives), "valid_records_sent": feeder.sent,
              "releases": {"earlier": str(earlier), "lives": dict(Counter(life.release for life in agent.lives))}
              if earlier else None,
              "actions": dict(Counter(d["do"] for d in done)),
              "bad_records_sent": dict(sum((life.bad_sent for life in agent.lives), Counter())),
              "floods": [{"life": life.n, **flood_figures(life, f)} for life in agent.lives for f in life.floods],
              "scorer": args.scorer, "bundles_dropped": dict(Counter(d["corrupt"] or "valid" for d in drops)),
              "bundle_outcomes": bundle_outcomes(agent, drops) if drops else None,
              "received": event_counts(sub), "invariants": check(work, sub, agent, args.scorer, drops),
              "machine": machine_info(), "load_1min": os.getloadavg()[0]}
    result["held"] = all(v == "held" for v in result["invariants"].values())
    (work / "actions.json").write_text(json.dumps(done, indent=1))
    return result


def _logs(agent: Agent) -> list[tuple[Life, list[str]]]:
    return [(life, life.err.read_text(errors="replace").splitlines()) for life in agent.lives]


def _unjudged(agent: Agent, drops: list[dict]) -> list[str]:
    lines = [ln for _, text in _logs(agent) for ln in text]
    return [d["name"] for d in drops if not any(judged(ln, d["path"]) for ln in lines)]


def bundle_outcomes(agent: Agent, drops: list[dict]) -> dict:
    """Per kind of bundle dropped: how its judgements went (swapped in, refused, the running one again)."""
    lines = [ln for _, text in _logs(agent) for ln in text]
    out: dict[str, Counter] = defaultdict(Counter)
    for d in drops:
        for ln in lines:
            if judged(ln, d["path"]):
                what = ("refused: " + VERIFY_FAILED.search(ln).group(1) if VERIFY_FAILED.search(ln)
                        else "refused: " + ln.split(": ")[-1][:60]) \
                    if "rejected:" in ln else "swapped in" if "scorer tier" in ln else "the running one again"
                out[d["corrupt"] or "valid"][what] += 1
    return {k: dict(v) for k, v in out.items()}


#: STATUS's `tier=` words when no tier scores (agent/scoring_state.py): the warm-up, the window refilling
NOT_SCORING = ("warming", "refilling")
STATUS_TIER = re.compile(r"^STATUS=tier=([\w()]+)")


def scoring_tiers(status_lines: list[str]) -> Counter:
    """The tiers STATUS lines say score, by count: a state in which none scores (the warm-up, a refill) is no tier,
    and a planned fallback (`numpy(planned)`: the model tier waits to be prepared, health's `scoring.waiting` says
    why) no step-down. (Before, every word after `tier=` was a tier: the first life's warm-up, `tier=warming`
    since user16, failed every model-tier soak — chaos1.)"""
    words = (m.group(1) for m in map(STATUS_TIER.match, status_lines) if m)
    return Counter(w for w in words if w not in NOT_SCORING and not w.endswith("(planned)"))


def check_model(sub: Subscriber, agent: Agent, scorer: str, drops: list[dict], health: list[dict]) -> dict:
    """The model tier's invariants (--scorer tflite|onnx)."""
    inv: dict[str, list[str]] = {}
    logs = _logs(agent)
    tiers = []
    for life, lines in logs:
        said = scoring_tiers(life.notify.lines)
        other = {t: n for t, n in said.items() if t != scorer}
        why = [ln for ln in lines if re.search(rf"scorer tier \w+ -> (?!{scorer}\b)", ln)]
        if other and not why:
            tiers.append(f"life {life.n}: STATUS said {other} (configured {scorer}), no step-down line in its log")
    inv[f"every life scores on {scorer} unless its log says why"] = tiers
    corrupt = [d for d in drops if d["corrupt"]]
    paths = {d["path"] for d in corrupt}
    names = {d["name"] for d in corrupt}
    swapped = [f"life {life.n}: {ln[24:240]}" for life, lines in logs for ln in lines
               if "scorer tier" in ln and any(f"from {p}" in ln for p in paths)]
    swapped += [f"health names {h['model_update'].get('bundle')} / {h.get('model_id')}" for h in health
                if (h.get("model_update") or {}).get("bundle") in paths or h.get("model_id") in names]
    swapped += [f"alert {a['alert_id']} #{a['seq']} scored by {a.get('model_id')}" for a in
                (json.loads(m["payload"]) for m in sub.on("/alerts")) if a.get("model_id") in names]
    inv["a corrupt bundle is never swapped in"] = swapped[:20]
    refused = []
    for d in corrupt:
        lines = [ln for _, text in logs for ln in text if judged(ln, d["path"])]
        if not lines:
            refused.append(f"{d['name']} ({d['corrupt']}): never judged")
        elif not all("rejected:" in ln and VERIFY_FAILED.search(ln) for ln in lines):
            refused.append(f"{d['name']} ({d['corrupt']}): {[ln[24:300] for ln in lines][:3]}")
    inv["a corrupt bundle is refused, naming it and the file that does not verify"] = refused
    inv["every bundle dropped is judged"] = _unjudged(agent, [d for d in drops if not d["corrupt"]])
    last_life, last_lines = logs[-1]
    told = sum(1 for ln in last_lines if "model update (" in ln and ") rejected:" in ln)
    counted = ((health[-1] if health else {}).get("model_update") or {}).get("rejected")
    inv["the last life's health counts the rejections its log says"] = (
        [] if counted == told else [f"life {last_life.n}: {told} rejection lines, health rejected {counted}"])
    return inv


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
    p.add_argument("--upgrade-from", metavar="TREE", help="an earlier release's source tree: the first half's lives")
    p.add_argument("--faults", type=lambda v: v.split(","), metavar="NAME,...",
                   help="only these faults (default: all, by their weights: " + ", ".join(ACTIONS) + ")")
    p.add_argument("--scorer", choices=("numpy", *MODEL_SCORERS), default="numpy",
                   help="the tier the agent runs: numpy alone, or the demo bundle on this runtime (with a models_dir)")
    args = p.parse_args(argv)
    known = {**ACTIONS, **(MODEL_ACTIONS if args.scorer in MODEL_SCORERS else {})}
    if args.faults and set(args.faults) - set(known):
        raise SystemExit(f"--faults: no fault {sorted(set(args.faults) - set(known))} with --scorer {args.scorer} "
                         f"(there are {', '.join(known)})")
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
