"""A real mosquitto for tests: its own config, persistence directory and free 127.0.0.1 port.

    def test_x(broker):                 # plain listener, started
    def test_y(make_broker):            # make_broker(users=..., tls=..., acl=..., conf=[lines]) → started Mosquitto

The broker can be killed with SIGKILL and restarted on the same port with the same
persistence (`autosave_interval 1`), to test outages. Tests are skipped, saying why, when the
mosquitto binary is not installed.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import free_port, wait_until  # noqa: F401 — free_port: imported from here too

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


class PortTaken(RuntimeError):
    """mosquitto could not bind its port: someone took it between the probe and the start."""


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


@dataclass
class Mosquitto:
    dir: Path
    port: int
    password_file: Path | None = None
    tls: TlsFiles | None = None
    acl_file: Path | None = None
    extra_conf: list[str] = field(default_factory=list)     # more mosquitto.conf lines (e.g. max_queued_messages)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def conf(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def log_file(self) -> Path:
        return self.dir / "mosquitto.log"

    def write_config(self) -> None:
        lines = [f"listener {self.port} 127.0.0.1",
                 "persistence true", f"persistence_location {self.dir}/", "autosave_interval 1",
                 f"log_dest file {self.log_file}", "log_type error", "log_type warning", "log_type notice",
                 "log_type information"]
        if self.password_file:
            lines += [f"password_file {self.password_file}", "allow_anonymous false"]
        else:
            lines += ["allow_anonymous true"]
        if self.acl_file:
            lines += [f"acl_file {self.acl_file}"]
        lines += self.extra_conf
        if self.tls:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.cert}", f"keyfile {self.tls.key}"]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, wait_s: float = 30.0) -> None:
        self.write_config()
        _hand_to_mosquitto_user(self.dir)
        started = self.log_text().count(" running")      # the log is kept across restarts
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + wait_s
        # Ours is up when its port answers AND its log says "running" (after its listeners opened):
        # a port that answers alone may be another broker's, ours then exiting "Address already in use".
        while not (port_open(self.port) and self.log_text().count(" running") > started):
            if self.proc.poll() is not None:
                why = f"mosquitto exited {self.proc.returncode}: {self.proc.stderr.read().decode()} {self.log_text()}"
                raise (PortTaken if "Address already in use" in why else RuntimeError)(why)
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log_text()}")
            time.sleep(0.02)

    def set_acl(self, text: str) -> None:
        """Replace the ACL file and make the running broker read it again (SIGHUP)."""
        self.acl_file.write_text(text)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing is read, acknowledged or forwarded."""
        self.proc.send_signal(signal.SIGSTOP)

    def paused(self) -> bool:
        """The SIGSTOP has taken hold: from then on the broker sends nothing more."""
        return process_stopped(self.proc.pid)

    def resume(self) -> None:
        """SIGCONT after pause(): it reads what waited on its sockets and carries on."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def saves(self) -> int:
        """How many times it has written its in-memory database to disk (its log, `log_type information`)."""
        return self.log_text().count("Saving in-memory database")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final persistence save."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, as `systemctl stop mosquitto`: a clean shutdown (its database saved; Mosquitto then publishes
        every connected client's Last Will before it closes their connections), waited for."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        self.proc = None

    @property
    def db_file(self) -> Path:
        return self.dir / "mosquitto.db"

    def wait_saved(self, *needles: str, timeout: float = 60.0) -> None:
        """Wait until the persistence file holds every needle (a client id, a topic): what a
        SIGKILL would otherwise lose has then been saved (`autosave_interval 1`)."""
        def saved() -> bool:
            try:
                data = self.db_file.read_bytes()
            except OSError:
                return False
            return all(n.encode() in data for n in needles)
        if not wait_until(saved, timeout):
            raise AssertionError(f"mosquitto did not save {needles} to {self.db_file} within {timeout} s")

    def connections(self) -> int:
        """How many TCP connections the broker has accepted so far (from its log). On a TLS listener a
        connection whose handshake fails is logged only as 'Client connection from … failed'."""
        text = self.log_text()
        return text.count("New connection from") + text.count("Client connection from")

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""


def process_stopped(pid: int) -> bool:
    """A SIGSTOP to the process has taken hold (state T in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "T"      # the field after "(comm)"


def _hand_to_mosquitto_user(directory: Path) -> None:
    """Run as root, mosquitto drops to user `mosquitto`: it must be able to read and write its dir."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


def make_tls_files(directory: Path, hostname: str = "localhost", ip_san: bool = True) -> TlsFiles:
    """A CA and a server certificate for `hostname` (and 127.0.0.1 when ip_san), made with openssl."""
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text(f"subjectAltName=DNS:{hostname}" + (",IP:127.0.0.1\n" if ip_san else "\n"))

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=stad test CA",
        "-keyout", str(ca_key), "-out", str(ca))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hostname}", "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return TlsFiles(ca=ca, cert=cert, key=key)


def make_password_file(directory: Path, users: dict[str, str]) -> Path:
    path = directory / "passwd"
    path.touch()
    for user, password in users.items():
        subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, capture_output=True)
    return path


def start_fresh(broker: Mosquitto) -> None:
    """Start a broker nothing knows the port of yet: if another process took the port, it moves."""
    for attempt in range(5):
        try:
            broker.start()
            return
        except PortTaken:
            if attempt == 4:
                raise
            broker.port = free_port()


@pytest.fixture
def make_broker():
    """Factory: make_broker(users={...}, tls=True) → a started Mosquitto; all killed at teardown."""
    started: list[Mosquitto] = []
    dirs: list[str] = []
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto mosquitto-clients)")

    def make(users: dict[str, str] | None = None, tls: bool = False, start: bool = True,
             tls_hostname: str = "localhost", ip_san: bool = True, acl: str | None = None,
             conf: list[str] = ()) -> Mosquitto:
        directory = Path(tempfile.mkdtemp(prefix="stad-mosquitto-"))
        dirs.append(str(directory))
        broker = Mosquitto(dir=directory, port=free_port(), extra_conf=list(conf))
        if users:
            broker.password_file = make_password_file(directory, users)
        if tls:
            broker.tls = make_tls_files(directory, tls_hostname, ip_san)
        if acl is not None:
            broker.acl_file = directory / "acl"
            broker.acl_file.write_text(acl)
        started.append(broker)
        if start:
            start_fresh(broker)
        return broker

    yield make
    for broker in started:
        broker.kill()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def broker(make_broker) -> Mosquitto:
    return make_broker()


class Collector:
    """A paho subscriber that records what arrives: a persistent session, so a broker restart
    delivers what was queued for it."""

    def __init__(self, port: int, topics: list[str], client_id: str | None = None, persistent: bool = True,
                 host: str = "127.0.0.1", tls: tuple[Path, Path, Path] | None = None):
        """`tls`: (CA, client certificate, key) for a TLS listener that requires a client certificate."""
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.topics = topics
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"collector-{free_port()}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *args: self.subscribed.clear()
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()     # set once the broker acknowledged every topic
        self._pending: set[int] = set()
        self.client.reconnect_delay_set(0.1, 0.5)
        if tls is not None:
            ca, cert, key = tls
            self.client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        props = Properties(PacketTypes.CONNECT)
        if persistent:
            props.SessionExpiryInterval = 3600
        self.client.connect_async(host, port, clean_start=not persistent, properties=props)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.subscribed.clear()
        with self.lock:
            for t in self.topics:
                self._pending.add(client.subscribe(t, qos=1)[1])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.lock:
            self._pending.discard(mid)
            if not self._pending:
                self.subscribed.set()

    def wait_subscribed(self, timeout: float = 15.0) -> None:
        """Wait for the SUBACK of every topic: from then on the broker routes them to us."""
        if not self.subscribed.wait(timeout):
            raise AssertionError(f"no SUBACK for {self.topics} within {timeout} s")

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append(msg)
            self.arrived.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until predicate(messages) is true."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.arrived.wait(left)
            return True

    def on(self, suffix: str) -> list[mqtt.MQTTMessage]:
        with self.lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MosquittoSub:
    """`mosquitto_sub` printing `topic payload` lines; ready once it has subscribed to every topic."""

    def __init__(self, port: int, topics: list[str], count: int, timeout_s: int = 30, extra: list[str] = ()):
        marker = f"ready/{free_port()}"
        publish_retained(port, marker, "ready")
        # mosquitto_sub block-buffers a pipe: line-buffer it, or lines die with it on terminate().
        args = (["stdbuf", "-oL"] if shutil.which("stdbuf") else []) + ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v", "-q", "1", "-W", str(timeout_s),
                "-C", str(count + 1), *extra]
        for t in [*topics, marker]:     # the marker last: its retained copy arrives after the others are subscribed
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.early: list[str] = []      # retained messages that came before the marker
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"mosquitto_sub did not start: {self.proc.stderr.read()}")
            if line.startswith(marker):
                break
            self.early.append(line)
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        # Read continuously: a full pipe would block mosquitto_sub and stall its session.
        for line in self.proc.stdout:
            with self._lock:
                self.early.append(line)

    def _parsed(self) -> list[tuple[str, str]]:
        with self._lock:
            return [tuple(line.rstrip("\n").split(" ", 1)) for line in self.early if line.strip()]

    def take(self, n: int, timeout_s: float = 15) -> list[tuple[str, str]]:
        """Wait until n messages have arrived (or the timeout), then stop and return all of them."""
        deadline = time.monotonic() + timeout_s
        while len(self._parsed()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.stop()

    def until(self, predicate, timeout_s: float = 15) -> list[tuple[str, str]]:
        """Wait until predicate(messages so far) holds (or the timeout), then stop and return all."""
        wait_until(lambda: predicate(self._parsed()), timeout_s)
        return self.stop()

    def stop(self) -> list[tuple[str, str]]:
        """Stop it now and return what it printed."""
        self.proc.terminate()
        return self.lines()

    def lines(self, timeout_s: float = 30) -> list[tuple[str, str]]:
        self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=timeout_s)
        return self._parsed()



def publish_retained(port: int, topic: str, payload: str) -> None:
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", payload, "-r", "-q", "1"],
                   check=True, timeout=10)
