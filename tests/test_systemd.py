"""The agent under a fake systemd, and the unit file under the real systemd-analyze.

The fake systemd is what systemd gives a Type=notify service: NOTIFY_SOCKET (a filesystem path or an
abstract '@' address) bound by the test as an AF_UNIX datagram socket, and WATCHDOG_USEC. The agent
runs as `python -m agent run -c CFG` on a paced pump simulation.

How the stall test proves the pings come from the processing loop: the agent's second jsonl sink
writes into a FIFO whose pipe buffer the test shrinks to one page and then stops draining. The
processing loop blocks in write() on that pipe while the process itself keeps running (it is not
stopped: /proc says so, and its source thread keeps producing), so a timer thread would keep pinging;
the agent's pings stop, and resume once the test drains the FIFO again.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from agent.sdnotify import Notifier
from conftest import WATCHDOG_USEC, NotifySocket, pump_agent_config, running_agent, stop_agent, wait_for
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "stad-agent.service"
F_SETPIPE_SZ = 1031

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt-get install -y systemd)")


def process_state(pid: int) -> str:
    # /proc/PID/stat: "pid (comm) S ..." — the state letter follows the last ')'.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def summary_events(stderr: str) -> dict[str, int]:
    m = re.search(r"alerts raised \d+ \(events ([^)]*)\)", stderr)
    assert m, f"no summary line in the agent's stderr:\n{stderr[-3000:]}"
    if m.group(1) == "none":
        return {}
    return {k: int(v) for k, v in (part.split(": ") for part in m.group(1).split(", "))}


# ---- the notify protocol -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_ready_watchdog_stopping_and_flush_on_sigterm(tmp_path, kind):
    address = str(tmp_path / "notify.sock") if kind == "path" else f"@stad-test-{uuid.uuid4().hex}"
    notify = NotifySocket(address)
    alerts = tmp_path / "alerts.jsonl"
    cfg = pump_agent_config(tmp_path, [{"type": "jsonl", "path": str(alerts)}])
    started = time.monotonic()
    with running_agent(cfg, notify) as proc:
        ready = notify.wait_for("READY=1")[0]
        assert ready > started
        # The first STATUS= rides with READY=1 and names the scoring tier.
        assert any("tier=numpy" in s for s in notify.lines("STATUS="))
        # No watchdog ping before READY=1: the loop only starts after it.
        assert all(t >= ready for t in notify.times("WATCHDOG=1"))
        pings = notify.wait_for("WATCHDOG=1", count=6)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        half = WATCHDOG_USEC / 2e6
        # At most one per half period (rate-limited; the times are the kernel's, NotifySocket), and as a rule not
        # much later than that: the median gap — a loop starved of the CPU pings late (one gap of 1.85 s in 44 runs
        # at load ~33, qa40), a rate limit that held pings back would make every gap long.
        assert min(gaps) >= half * 0.9, gaps
        assert sorted(gaps)[len(gaps) // 2] <= 1.5 * half + 0.5, gaps
        # Periodic STATUS= with the tier, tick count and alerts.
        wait_for(lambda: any(re.search(r"tier=\S+ ticks=\d+ alerts=\d+", s) for s in notify.lines("STATUS=")),
                 f"a periodic STATUS= line (got {notify.lines('STATUS=')[-5:]})", 120.0, proc)
        assert proc.poll() is None, proc.stderr.read()

        term = time.monotonic()
        err = stop_agent(proc)      # one SIGTERM, as systemd sends it
        exited = time.monotonic()
        stopping = notify.wait_for("STOPPING=1")
        assert term <= stopping[0] <= exited

    assert proc.returncode == 0, err[-3000:]
    assert "stopped: signal SIGTERM" in err
    assert len(notify.times("STOPPING=1")) == 1
    assert notify.lines("STATUS=")[-1].startswith("STATUS=stopped: signal SIGTERM")
    # The jsonl sink was flushed and closed: whole lines only, and every alert event counted by the
    # agent is in the file, each opened alert with its end — but for one still open at the stop, which
    # a SIGTERM leaves open for the next start to continue (README "Restarts"): the last one, said in the log.
    text = alerts.read_text()
    assert text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("event") == "fault" and line["kind"] == "missing" for line in lines), \
        "the dropouts should have produced missing-sensor fault events"
    written: dict[str, int] = {}
    for line in lines:
        if line["kind"] == "alert":
            written[line["event"]] = written.get(line["event"], 0) + 1
    assert written == summary_events(err)
    opened = {line["alert_id"] for line in lines if line["kind"] == "alert" and line["event"] == "new"}
    ended = {line["alert_id"] for line in lines if line["kind"] == "alert" and line["event"] == "end"}
    left_open = opened - ended
    assert ended <= opened and len(left_open) <= 1, (opened, ended)
    if left_open:
        [alert_id] = left_open
        news = [line["alert_id"] for line in lines if line["kind"] == "alert" and line["event"] == "new"]
        assert news[-1] == alert_id
    assert re.findall(r"alert (\S+) \(next seq \d+\) left open at the stop", err) == sorted(left_open)


def test_watchdog_pings_stop_while_the_processing_loop_is_blocked(tmp_path):
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    fifo = tmp_path / "stall.fifo"
    os.mkfifo(fifo)
    # Open the read end first so the agent's open() for writing does not block; shrink the pipe.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(reader, F_SETPIPE_SZ, 4096)
    draining = threading.Event()
    draining.set()
    done = threading.Event()
    drained = bytearray()

    def drain():
        while not done.is_set():
            if not draining.is_set():
                time.sleep(0.02)
                continue
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if chunk:
                drained.extend(chunk)
            else:
                time.sleep(0.01)      # no writer yet, or it closed

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    cfg = pump_agent_config(tmp_path, [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")},
                                  {"type": "jsonl", "path": str(fifo)}])
    try:
        with running_agent(cfg, notify) as proc:
            notify.wait_for("READY=1")
            notify.wait_for("WATCHDOG=1", count=3)

            draining.clear()                    # the sink's writes now fill the pipe, then block
            paused = time.monotonic()
            stalled = None
            deadline = paused + 120             # a deadline: the pipe fills as fast as the loaded machine writes
            while time.monotonic() < deadline:
                last = max(notify.times("WATCHDOG=1"))
                if time.monotonic() - last > 2.0:      # four ping periods without a ping
                    stalled = last
                    break
                time.sleep(0.1)
            assert stalled is not None, "the pings went on although the processing loop was blocked"
            assert proc.poll() is None
            assert process_state(proc.pid) != "T"    # running (blocked in write), not stopped
            threads = len(os.listdir(f"/proc/{proc.pid}/task"))
            assert threads >= 2                      # the source thread is still there

            resumed_at = time.monotonic()
            draining.set()
            # The pings resume once the loop is unblocked (waited on, not timed: a busy machine is slow).
            notify.wait_for("WATCHDOG=1", count=2, after=resumed_at)
            err = stop_agent(proc)
    finally:
        done.set()
        drainer.join(timeout=30)        # before the close: a read on a closed descriptor is EBADF in the thread
        os.close(reader)
    assert proc.returncode == 0, err[-3000:]
    assert notify.times("STOPPING=1")
    assert drained, "nothing went through the FIFO"


@pytest.mark.broker
def test_sigterm_flushes_the_mqtt_outbox_to_a_real_broker(tmp_path, make_broker):
    """The roadside shape: the password comes from a systemd credential ($CREDENTIALS_DIRECTORY)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from agent.outbox import Outbox
    from agent.sinks.mqtt import OUTBOX_FILE

    broker = make_broker(users={"gw-test": "s3cret-pw", "watcher": "w"})
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "stad-edge.mqtt-password").write_text("s3cret-pw\n")
    (creds / "stad-edge.mqtt-password").chmod(0o400)

    got: list[mqtt.MQTTMessage] = []
    lock = threading.Lock()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher", protocol=mqtt.MQTTv5)
    watcher.username_pw_set("watcher", "w")
    watcher.on_connect = lambda c, u, f, rc, p: c.subscribe("stad/#", qos=1)
    watcher.on_message = lambda c, u, m: (lock.acquire(), got.append(m), lock.release())
    watcher.connect("127.0.0.1", broker.port)
    watcher.loop_start()

    notify = NotifySocket(str(tmp_path / "notify.sock"))
    alerts = tmp_path / "alerts.jsonl"
    cfg = pump_agent_config(tmp_path, [
        {"type": "jsonl", "path": str(alerts)},
        {"type": "mqtt", "prefix": "stad",
         "broker": {"host": "127.0.0.1", "port": broker.port, "client_id": "gw-test", "username": "gw-test",
                    "password": {"credential": "stad-edge.mqtt-password"}}}])
    with running_agent(cfg, notify, {"CREDENTIALS_DIRECTORY": str(creds)}) as proc:
        notify.wait_for("READY=1")
        # Run until an alert has been raised, so that there is something to flush.
        wait_for(lambda: alerts.exists() and '"kind":"alert"' in alerts.read_text(), "an alert in the jsonl", 120.0,
                 proc)
        err = stop_agent(proc)
    assert proc.returncode == 0, err[-3000:]
    assert notify.times("STOPPING=1")

    sent = {(e["alert_id"], e["seq"]) for e in map(json.loads, alerts.read_text().splitlines())
            if e["kind"] == "alert"}
    deadline = time.monotonic() + 60        # a deadline: the loop ends as soon as all is in
    while True:
        with lock:
            received = {(e["alert_id"], e["seq"]) for e in (json.loads(m.payload) for m in got
                                                              if m.topic.endswith("/alerts"))}
            status = [m.payload.decode() for m in got if m.topic.endswith("/status")]
        if sent <= received and status and status[-1] == "offline" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    watcher.disconnect()
    watcher.loop_stop()
    assert sent and sent <= received, (sent - received, err[-2000:])
    assert status[-1] == "offline", status
    outbox = Outbox(tmp_path / "state" / OUTBOX_FILE, max_events=1000, max_age_s=3600)
    try:
        assert outbox.depth == 0
    finally:
        outbox.close()


def test_notifier_without_socket_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    n = Notifier.from_env()
    assert not n.enabled and n.interval is None
    n.ready("x")
    n.ping()
    n.stopping()


def test_watchdog_meant_for_another_pid_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "s"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert Notifier.from_env().interval is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier.from_env().interval == pytest.approx(1.0)


def test_ping_is_rate_limited_and_stopping_sent_once(tmp_path):
    notify = NotifySocket(str(tmp_path / "n.sock"))
    try:
        n = Notifier(notify.address, watchdog_usec=400_000)
        for _ in range(50):
            n.ping()
        n.status("a\nb")
        n.stopping("bye")
        n.stopping("again")
        notify.wait_for("STOPPING=1")       # datagrams arrive in order: every ping sent before it is in
        assert len(notify.times("WATCHDOG=1")) == 1
        assert "STATUS=a b" in notify.lines("STATUS=")
        assert len(notify.times("STOPPING=1")) == 1
        time.sleep(0.21)                    # the rate limit's half period passes (a duration is the subject)
        n.ping()
        notify.wait_for("WATCHDOG=1", count=2)
    finally:
        notify.close()


def test_sd_notify_never_blocks_when_nothing_reads_the_socket(tmp_path, caplog):
    """A full NOTIFY_SOCKET queue (a hung or absent reader) drops notifications; the loop goes on."""
    path = str(tmp_path / "unread.sock")
    unread = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unread.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    unread.bind(path)           # bound, never read
    try:
        n = Notifier(path, watchdog_usec=2)
        done = threading.Event()

        def loop():
            for _ in range(3000):
                n.status("x" * 200)
                n.ping()
            done.set()
        threading.Thread(target=loop, daemon=True).start()
        assert done.wait(120), "sd_notify blocked the loop"
        assert n.dropped > 0
        warned = [r for r in caplog.records if r.name == "stad.sdnotify" and r.levelname == "WARNING"]
        assert len(warned) == 1 and "dropping notifications" in warned[0].getMessage()
    finally:
        unread.close()


# ---- the unit file ------------------------------------------------------------------------------

def _unit_with_exec(tmp_path: Path) -> Path:
    """The unit as shipped, with ExecStart pointed at an executable that exists here.

    `systemd-analyze verify` refuses an ExecStart= binary that does not exist, and the real one lives in
    /opt/stad-edge/venv (see tests/test_install.py for the unit installed next to a real venv).
    """
    exe = tmp_path / "opt" / "stad-agent"
    exe.parent.mkdir(parents=True)
    os.symlink(sys.executable, exe)
    text = UNIT.read_text().replace("/opt/stad-edge/venv/bin/stad-agent", str(exe))
    out = tmp_path / "units" / "stad-agent.service"
    out.parent.mkdir()
    out.write_text(text)
    return out


@needs_systemd_analyze
def test_unit_verifies_without_any_warning(tmp_path):
    unit = _unit_with_exec(tmp_path)
    res = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60)
    # verify exits 0 on unknown keys and misspelt values: any stderr at all is a failure.
    assert res.stderr == "" and res.returncode == 0, res.stderr


@needs_systemd_analyze
def test_unit_security_exposure_is_at_most_1_5(tmp_path):
    unit = _unit_with_exec(tmp_path)
    res = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    m = re.search(r"Overall exposure level for stad-agent\.service: (\d+(?:\.\d+)?)", res.stdout)
    assert m, res.stdout + res.stderr
    assert float(m.group(1)) <= 1.5, res.stdout


def test_unit_has_the_required_settings():
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    one = {k: v[-1] for k, v in settings.items()}
    assert one["Type"] == "notify"
    assert one["ExecStart"] == "/opt/stad-edge/venv/bin/stad-agent run -c /etc/stad-edge/agent.yaml"
    assert one["DynamicUser"] == "yes" and one["CapabilityBoundingSet"] == ""
    assert one["MemoryDenyWriteExecute"] == "yes" and one["UMask"] == "0077"
    assert one["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert one["StateDirectory"] == "stad-edge" and one["ConfigurationDirectory"] == "stad-edge"
    assert sorted(settings["LoadCredential"]) == ["stad-edge.mqtt-password", "stad-edge.opcua-password",
                                                "stad-edge.tls-key"]
    for key in ("WatchdogSec", "StartLimitBurst", "StartLimitIntervalSec", "MemoryMax", "CPUQuota", "TasksMax"):
        assert one.get(key), key
    assert one["Restart"] == "on-failure"
    # python -OO: no docstrings in memory (perf72), its bytecode written by install.sh; none written by the service
    assert {"PYTHONOPTIMIZE=2", "PYTHONDONTWRITEBYTECODE=1"} <= set(one["Environment"].split())
    # ... read from the prefix install.sh fills, the standard library's too (user19; tests/test_install_bytecode.py)
    assert "PYTHONPYCACHEPREFIX=/opt/stad-edge/pycache" in one["Environment"].split()
    assert 'PYCACHE="$OPT_DIR/pycache"' in (REPO / "systemd" / "install.sh").read_text()
    assert "DeviceAllow=" in UNIT.read_text()     # the serial-sensor drop-in is documented
