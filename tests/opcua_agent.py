"""A real `stad-agent run` subscribed to a real asyncua server process (tests/opcua_server.py, driven by commands on
its standard input), for the OPC UA source tests (tests/test_source2_*.py, tests/test_source3_*.py)."""
from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from conftest import REPO, OpcUaServer, free_port, start_logged_agent, wait_for
from mqtt_broker import Collector
from source1_events import faults, said

SENSORS = ["accel1", "pressure", "temp_motor"]
#: the source's intervals (seconds), and what the tests' deadlines are made of
OPCUA = {"sampling_interval_ms": 100, "publishing_interval_ms": 100, "timeout_s": 2, "check_interval_s": 0.2,
         "reconnect_min_s": 0.2, "reconnect_max_s": 1}
FAULTS = {"missing_s": 1, "clear_s": 1, "stuck_s": 36000, "flatline_s": 36000}
CARRY_S = 1
#: a loaded machine (2 cores, ~8 jobs): every deadline is this many times what the config says
MARGIN = 10


class Server(OpcUaServer):
    """tests/opcua_server.py with --commands: `command("remove temp_motor")` returns once the server did it. Its
    standard error goes to a file, not a pipe: a server that serves a whole session of tests would fill a pipe no
    one reads with asyncua's warnings, and block."""

    def start(self) -> None:
        self.removed: set[str] = set()
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / self.script), str(self.port), "--commands",
                                      *self.args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", f"{line} {self.errors() if self.proc.poll() is not None else ''}"

    def errors(self) -> str:
        """What the server wrote to its standard error so far."""
        self.err.seek(0)
        return self.err.read()

    def reset(self) -> None:
        """Running (started again if a test killed or stopped it) with no command's effect left and no subscription
        (tests/opcua_server.py `reset`): as a fresh server, without starting one."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.command("reset")
        self.removed.clear()

    def command(self, line: str) -> str:
        """What the server's answer `DONE line` adds after the line (only `reads` adds anything)."""
        verb, _, name = line.partition(" ")
        if verb in ("remove", "drop", "add"):
            (self.removed.discard if verb == "add" else self.removed.add)(name)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        assert select.select([self.proc.stdout], [], [], 60)[0], f"the server did not answer {line!r}"
        answer = self.proc.stdout.readline().strip()
        assert f"{answer} ".startswith(f"DONE {line} "), (line, answer, self.errors())
        return answer[len(f"DONE {line}"):].strip()

    def read_sizes(self) -> list[int]:
        """The node count of each Read request the server was sent since it started or was last reset."""
        return [int(n) for n in self.command("reads").split()]

    def stop(self) -> None:
        """SIGTERM: asyncua closes its sessions and its socket."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0, self.errors()


@pytest.fixture
def server(opcua_shared_server):
    """The pytest process's server (tests/conftest.py `opcua_shared_server`), reset for this test: running, no node
    held, slowed, muted or removed, no subscription of an earlier test's left."""
    opcua_shared_server.reset()
    return opcua_shared_server


def config(port: int, security=None, **nodes):
    """The OPC UA source's config on tests/opcua_server.py at `port` (Skid1.pressure and temp_motor unless `nodes`),
    at the tests' short intervals."""
    from agent.sources.opcua import OpcUaConfig
    return OpcUaConfig(url=f"opc.tcp://127.0.0.1:{port}/stad-test",
                       nodes=nodes or {"pressure": "ns=2;s=Skid1.pressure", "temp_motor": "ns=2;s=Skid1.temp_motor"},
                       sampling_interval_ms=100, publishing_interval_ms=100, timeout_s=2, check_interval_s=0.2,
                       reconnect_min_s=0.2, reconnect_max_s=1.0, security=security)


class Reader:
    """Runs a source's records() in a thread, as the agent does, keeping what arrives."""

    def __init__(self, source):
        self.source = source
        self.records = []
        self.thread = threading.Thread(target=lambda: self.records.extend(source.records()), daemon=True)
        self.thread.start()

    def sensors(self, since: int = 0) -> set[str]:
        return {s for r in list(self.records)[since:] for s in r.values}

    def close(self) -> None:
        self.source.close()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


class Agent:
    """`stad-agent run` subscribed to SENSORS on `server`, its health on `broker`, its metrics on a free port."""

    def __init__(self, tmp_path: Path, server: Server, broker, node: str, fault_cfg: dict | None = None,
                 carry_s: float = CARRY_S, tick_s: float = 0.5):
        self.tmp, self.metrics = tmp_path, free_port()
        self.label = f"opcua opc.tcp://127.0.0.1:{server.port}/stad-test"
        self.health = Collector(broker.port, [f"stad/+/{node}/health"])
        self.health.wait_subscribed()
        (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
            "node": {"id": node}, "tick_s": tick_s, "topology": "group", "sensors": SENSORS,
            "sources": [{"type": "opcua", "url": f"opc.tcp://127.0.0.1:{server.port}/stad-test",
                         # temp_motor by browse path: resolved again when its node comes back
                         "nodes": {"accel1": "ns=2;s=Skid1.accel1", "pressure": "ns=2;s=Skid1.pressure",
                                   "temp_motor": "/0:Objects/2:Skid1/2:temp_motor"}, **OPCUA}],
            "window": {"steps": 8, "carry_forward_s": carry_s, "idle_flush_s": 0.5}, "warmup": {"ticks": 16},
            "scoring": {"chain": ["numpy"]}, "faults": fault_cfg or FAULTS,
            "sinks": [{"type": "jsonl", "path": "alerts.jsonl"},
                      {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}, "health_interval_s": 1}],
            "metrics": {"listen": f"127.0.0.1:{self.metrics}"}, "state_dir": "state"}))
        self.proc = start_logged_agent(tmp_path / "agent.yaml", tmp_path)
        self.down = f'stad_source_down{{source="{self.label}"}}'

    def wait(self, predicate, what: str, timeout: float) -> object:
        return wait_for(predicate, what, timeout, self.proc)

    def last_health(self) -> dict | None:
        with self.health.lock:
            msgs = list(self.health.messages)
        return json.loads(msgs[-1].payload) if msgs else None

    def source_health(self) -> dict:
        """Health's entry for the OPC UA source in the last health message ({} before the first)."""
        return ((self.last_health() or {}).get("sources") or {}).get(self.label, {})

    def records_in(self) -> int:
        return (self.last_health() or {}).get("records_in", 0)

    def events(self) -> list[dict]:
        return faults(self.tmp)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=90)
        finally:
            self.health.client.loop_stop()
            self.health.client.disconnect()

    def alerts(self) -> list[dict]:
        path = self.tmp / "alerts.jsonl"
        return [e for e in map(json.loads, path.read_text().splitlines()) if e.get("kind") == "alert"]




def frozen_until_stuck(agent: Agent, server: Server, ready, what: str, stuck_within: float) -> None:
    """Once `ready()` (waited for as `what`), temp_motor held until its `stuck` fault (within `stuck_within` s), then
    varied until that fault's end; the agent stopped cleanly, and the node varying again, whatever happens."""
    try:
        agent.wait(ready, what, 60)
        server.command("hold temp_motor")
        agent.wait(lambda: ("fault", "stuck", "temp_motor") in said(agent.events()), "temp_motor's stuck fault",
                   stuck_within)
        server.command("vary temp_motor")
        agent.wait(lambda: ("fault_end", "stuck", "temp_motor") in said(agent.events()), "its end once it moves",
                   (FAULTS["clear_s"] + OPCUA["check_interval_s"]) * MARGIN)
    finally:
        server.command("vary temp_motor")
        assert agent.stop() == 0
