"""A source that cannot go on is a failure systemd sees, never "input ended" (qa21).

A live source's thread that raised ended the agent with exit 0 and "input ended", its open alert ended
(`shutdown`), as if a recording had been replayed to its end: `Restart=on-failure` does not restart an
exit 0, and the gateway stayed blind until someone looked. Real triggers, real peers:

- a standard input that is a TCP connection its sender resets (systemd's `StandardInput=socket`,
  inetd, socat): the read raises ECONNRESET. Now: the agent stops as on a signal, says which source
  failed and why (log, summary, the last health), keeps its open alert for the next start — which
  continues it — and exits 3;
- a standard input closed or open for writing only (`nohup` from a terminal): the first read failed.
  Now refused at the start, named, exit 1;
- a Modbus device that resets the connection: pymodbus's ConnectionResetError ended the source. Now
  an outage like any other (tests/test_qa21_bad_inputs.py for the source itself): the agent runs on.
"""
from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, STDIN_AGENT, wait_for
from modbus_peers import MisbehavingModbus

CONFIG = STDIN_AGENT


def _agent(cfg: Path, *extra: str, shell_redirect: str = "", **popen) -> subprocess.Popen:
    """`stad-agent run`; with `shell_redirect`, started by a shell that applies it (`<&-`), as a user would."""
    command = [sys.executable, "-m", "agent", "run", "-c", str(cfg), *extra]
    if shell_redirect:
        command = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *command]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _lines(start: float, n: int, spike_from: int | None = None, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    rows = [{"ts": start + i, "a": (1000.0 if spike_from is not None and i >= spike_from else 1.0) + rnd.gauss(0, .1),
             "b": 2 + rnd.gauss(0, .1), "c": 3 + rnd.gauss(0, .1)} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_stdin_connection_reset_by_its_sender_stops_the_agent_with_exit_3_and_its_alert_open(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(CONFIG)
    alerts = tmp_path / "alerts.jsonl"
    with socket.create_server(("127.0.0.1", 0)) as server:
        sender = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
    with conn, sender:
        proc = _agent(cfg, stdin=conn)
        start = int(time.time()) - 90           # a live source's stamps are near this host's clock
        sender.sendall(_lines(start, 80, spike_from=70))
        new = wait_for(lambda: [e for e in _events(alerts) if e["event"] == "new"], "an alert", 90, proc)
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))     # close → RST
        sender.close()
        _, err = proc.communicate(timeout=90)
    # Old code: exit 0, "stopped: input ended", the alert ended with reason shutdown.
    assert proc.returncode == 3, err[-3000:]
    assert "stopped: source stdin failed: ConnectionResetError" in err, err[-3000:]
    assert "stopping: source stdin failed, its input did not end (exit 3" in err
    alert_id = new[0]["alert_id"]
    assert not [e for e in _events(alerts) if e["event"] == "end"], _events(alerts)
    assert f"alert {alert_id} (next seq" in err and "left open at the stop" in err

    # The next start continues it (a restart under systemd): the same alert, not ended as `restart`.
    # Its data follows the first run's last record (start + 79): stamped `now - 5` instead, the restart's
    # gap was the time the first run took from its start to the alert, over the window (8 ticks) once
    # the machine was busy (qa27: at load ~18 every run ended it `restart`, gap_s 11).
    before = len(_events(alerts))
    second = _agent(cfg, stdin=subprocess.PIPE)
    _, err2 = second.communicate(_lines(start + 80, 5, spike_from=0, seed=2).decode(), timeout=90)
    assert second.returncode == 0, err2[-3000:]
    after = _events(alerts)[before:]
    assert after and all(e["alert_id"] == alert_id and e["reason"] != "restart" for e in after), after


@pytest.mark.parametrize("stdin", ["closed", "write-only"])
def test_a_stdin_that_cannot_be_read_is_refused_at_the_start(tmp_path, stdin):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(CONFIG)
    if stdin == "closed":
        proc = _agent(cfg, shell_redirect="<&-")
    else:
        with open(os.devnull, "w") as write_only:      # as nohup reopens a terminal's stdin
            proc = _agent(cfg, stdin=write_only)
    _, err = proc.communicate(timeout=90)
    # Old code: exit 0, "stopped: input ended" (a TypeError or EBADF in the source's thread).
    assert proc.returncode == 1, err[-3000:]
    assert "cannot start: stdin source: standard input is " in err, err[-3000:]
    assert "input ended" not in err


def test_a_modbus_device_that_resets_connections_does_not_stop_the_agent(tmp_path):
    pytest.importorskip("pymodbus")
    device = MisbehavingModbus("reset")
    try:
        cfg = tmp_path / "agent.yaml"
        cfg.write_text(CONFIG.replace(
            "sources: [{type: stdin}]",
            f"sources: [{{type: modbus, host: 127.0.0.1, port: {device.port}, poll_s: 0.05, "
            "registers: {a: 0, b: 1, c: 2}}]"))
        proc = _agent(cfg, "--max-ticks", "3", stdin=subprocess.DEVNULL)
        _, err = proc.communicate(timeout=90)
    finally:
        device.close()
    # Old code: the first reset ended the source and the agent, exit 0, "input ended", no tick.
    assert proc.returncode == 0, err[-3000:]
    assert "stopped: reached --max-ticks 3" in err, err[-3000:]
    assert "modbus unreachable" in err and f"modbus 127.0.0.1:{device.port} unreachable" in err
