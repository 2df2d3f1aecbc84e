"""`stad-agent listen` when the broker does not answer its check as user16's code assumed. A node's `offline` is shown
once the broker answers an UNSUBSCRIBE sent after it; a broker that went on holding the connection without answering
(hung: stopped mid-answer) held that `offline`, and every alert after it, until paho's keepalive dropped the
connection — or for ever, at a broker that does not answer an UNSUBSCRIBE. Now: no answer within the connection's
keepalive_s → `state unknown`, never `offline`; a later answer shows it, said late. And a broker restarted with a
password file refuses listen's login at the reconnect: a clear error (exit 1) after the line that says the broker was
lost, never an `offline` (user18).

Real parts: Mosquitto on a free 127.0.0.1 port (SIGSTOP mid-probe; SIGTERM, then started with a password file), a real
agent with an MQTT sink (its Last Will `offline` is the gateway going away), `stad-agent listen -c` on the agent's
config (keepalive_s 5), all waited on conditions."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import agent_env, end_processes, pump_agent_config, wait_for
from mqtt_broker import make_broker, broker, make_password_file  # noqa: F401 — fixtures
from mqtt_relay import UNSUBSCRIBE, DroppingRelay

ROOT = Path(__file__).resolve().parent.parent
NODE = "lab/gw-test"
KEEPALIVE_S = 5          # the least a config takes: listen's check waits this long for the broker's answer


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _start(tmp_path: Path, port: int, protocol: str = "5", listen_args: tuple[str, ...] = (), quiet: bool = False
           ) -> tuple[subprocess.Popen, subprocess.Popen, Path, Path]:
    """A real agent publishing to the broker, and `listen -c` on its config (and `listen_args`): (agent, listen,
    listen's stdout, stderr). `quiet`: no anomaly, so no alert or fault event: its status is all listen gets."""
    sink = {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "protocol": protocol,
                                        "keepalive_s": KEEPALIVE_S, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0}}
    cfg = pump_agent_config(tmp_path, [sink], speed=20.0)
    if quiet:
        data = yaml.safe_load(cfg.read_text())
        data["sources"][0]["anomalies"] = []
        cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=ROOT, env=agent_env(),
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.err").open("w"))
    out, err = tmp_path / "listen.out", tmp_path / "listen.err"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", "-c", str(cfg), *listen_args], cwd=ROOT,
                              env=agent_env(),
                              stdout=out.open("w"), stderr=err.open("w"))
    return agent, listen, out, err


def _unread_from(pid: int, port: int) -> int:
    """Bytes waiting unread in process `pid`'s TCP connection to 127.0.0.1:`port` (its receive queue)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if fields[9] in inodes and int(fields[2].split(":")[1], 16) == port:
            return int(fields[4].split(":")[1], 16)
    return 0


def test_a_broker_stopped_mid_check_leaves_the_state_unknown_never_offline(tmp_path, broker):
    agent, listen, out, err = _start(tmp_path, broker.port, quiet=True)
    try:
        wait_for(lambda: f"{NODE} is online" in out.read_text(), "listen shows the gateway online", proc=listen)

        # The broker must stop after it sent the gateway's `offline` and before it reads listen's check: listen is
        # stopped while the gateway dies, so the Last Will waits in listen's socket; then the broker is stopped.
        listen.send_signal(signal.SIGSTOP)
        agent.kill()
        agent.wait(timeout=30)
        # (quiet: no event is sent to listen, so a PUBLISH's worth of bytes waiting in its socket is the Last Will;
        # a PINGRESP is 2 bytes)
        will = len(f"stad/{NODE}/status") + len("offline")
        wait_for(lambda: _unread_from(listen.pid, broker.port) >= will, "the gateway's Last Will waits in listen's socket")
        broker.pause()
        wait_for(broker.paused, "the broker stopped")
        listen.send_signal(signal.SIGCONT)

        said = wait_for(lambda: [line for line in _lines(out)[1:] if "state unknown" in line or "is offline" in line],
                        "listen says the gateway's state is unknown", timeout=60, proc=listen)
        assert f"{NODE}: state unknown" in said[0], _lines(out)
        assert f"has not answered listen's check in {KEEPALIVE_S} s (keepalive_s)" in said[0], said[0]
        assert not any("is offline" in line for line in _lines(out)), _lines(out)

        # The broker back: its answer (late, or after listen's reconnect the retained Last Will checked again) shows
        # the gateway offline — it is: it was killed.
        broker.resume()
        wait_for(lambda: any(f"{NODE} is offline" in line for line in _lines(out)),
                 "listen shows the gateway offline once the broker answers", timeout=60, proc=listen)
    finally:
        end_processes(agent, listen)
        broker.resume()
    lines = _lines(out)
    unknown = next(i for i, line in enumerate(lines) if "state unknown" in line)
    offline = next(i for i, line in enumerate(lines) if "is offline" in line)
    assert unknown < offline, lines
    assert listen.returncode == 0, err.read_text()


# MQTT 3.1.1 not here: listen there retries a refused login for ever (paho 2 hands the CONNACK's return code on as
# MQTT 5's reason code, which agent/mqtt_client.refusal_reason reads in its 3.1.1 table: not authorised is not
# known as such, nor as permanent) — outside this round's files; the fix and this case are in the user18 note.
@pytest.mark.parametrize("protocol", ["5"])
def test_a_broker_back_with_a_password_file_is_a_clear_error_after_the_loss(tmp_path, broker, protocol):
    agent, listen, out, err = _start(tmp_path, broker.port, protocol)
    try:
        wait_for(lambda: f"{NODE} is online" in out.read_text(), "listen shows the gateway online", proc=listen)

        broker.stop()           # SIGTERM: the broker publishes the agent's Last Will `offline` as it goes
        wait_for(lambda: "lost the broker" in out.read_text(), "listen says it lost the broker", proc=listen)
        broker.password_file = make_password_file(broker.dir, {"operator": "secret"})
        broker.start()          # anonymous clients are refused now: listen's reconnect too
        assert listen.wait(timeout=90) == 1, err.read_text()
    finally:
        end_processes(agent, listen)
    lines, errors = _lines(out), err.read_text()
    assert not any("is offline" in line for line in lines), lines
    assert "gateway state unknown" in next(line for line in lines if "lost the broker" in line), lines
    [giving_up] = [line for line in errors.splitlines() if "giving up" in line]
    assert "the broker refused listen's login when it reconnected: not authorised" in giving_up, errors
    assert "the broker's users or settings changed while listen ran" in giving_up, errors


def test_a_broker_that_never_answers_the_check_holds_nothing_and_shows_no_offline(tmp_path, broker):
    """A broker that keeps the connection (pings answered) and never answers an UNSUBSCRIBE: before, listen held the
    `offline` and every event after it, from every node it follows, for as long as the connection lasted."""
    relay = DroppingRelay(broker.port, UNSUBSCRIBE)
    agent, listen, out, err = _start(tmp_path, broker.port, listen_args=("--port", str(relay.port), "--node", "+"))
    other = {"event": "new", "alert_id": "gw-other-relay-1", "seq": 0, "ts": "2026-12-05T21:00:00Z", "site": "lab",
             "node": "gw-other", "score": 12.5, "threshold": 9.0, "tier": "numpy", "top_sensors": []}
    try:
        wait_for(lambda: f"{NODE} is online" in out.read_text(), "listen shows the gateway online", proc=listen)
        agent.kill()            # its Last Will `offline` reaches listen, whose check the relay drops
        agent.wait(timeout=30)
        wait_for(lambda: relay.dropped >= 1, "listen's check sent after the `offline`", proc=listen)
        # another gateway's alert, after the `offline`: before, held with it
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t",
                        "stad/lab/gw-other/alerts", "-m", json.dumps(other)], check=True, timeout=30)
        wait_for(lambda: "gw-other-relay-1" in out.read_text(), "the other gateway's alert shown", timeout=60,
                 proc=listen)
        # a second `offline` unanswered, the connection still up: the line says the broker may never answer
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-r", "-t",
                        "stad/lab/gw-other/status", "-m", "offline"], check=True, timeout=30)
        second = wait_for(lambda: [line for line in _lines(out) if "lab/gw-other: state unknown" in line],
                          "the second check said unanswered", timeout=60, proc=listen)
        assert "none of listen's last 2 checks on this connection was answered" in second[0], second
        assert "may not answer an UNSUBSCRIBE at all" in second[0], second
    finally:
        end_processes(agent, listen)
        relay.close()
    lines = _lines(out)
    unknown = next(i for i, line in enumerate(lines) if f"{NODE}: state unknown" in line)
    assert "none of listen's last" not in lines[unknown], lines[unknown]       # one unanswered check says no more
    alert = next(i for i, line in enumerate(lines) if "gw-other-relay-1" in line)
    assert unknown < alert, lines                  # in the order they came
    assert not any("is offline" in line for line in lines), lines
    assert not any("lost the broker" in line for line in lines), lines      # the connection held all along
    assert listen.returncode == 0, err.read_text()
