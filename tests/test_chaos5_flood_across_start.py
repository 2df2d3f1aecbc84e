"""bench/chaos.py's flood credited to the life that takes it, ready or not (the chaos5 round, seed 502, tflite): a flood
began in one life, the driver killed it (-9) and started the next while the flood still ran; the new life bound its
udp port before its READY=1 and its kernel dropped 35 182 of the flood's datagrams, counted in its summary — but the
driver credited a flood's datagrams only to a life that had said READY, so the invariant `rejects counted` read
'0 sent as kernel drop, 35182 counted' (the agent's count was right; the driver's bound was short)."""
from __future__ import annotations

import socket
import subprocess
import sys

from conftest import bench_module, end_processes, wait_until


def test_a_flood_is_credited_to_a_life_that_runs_before_it_says_ready(tmp_path):
    chaos = bench_module("chaos")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A process standing for an agent between its bind and its READY=1: the port bound, nothing read yet.
    bound = tmp_path / "bound"
    proc = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys, pathlib\n"
        f"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', {port}))\n"
        f"pathlib.Path({str(bound)!r}).write_text('1')\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE)
    try:
        assert wait_until(bound.exists, 60, proc=proc)
        agent = chaos.Agent(tmp_path, tmp_path / "agent.yaml")
        life = chaos.Life(0, proc, tmp_path / "agent-000.stderr", notify=None)
        agent.lives.append(life)
        assert not life.ready
        feeder = chaos.Feeder(port, agent, 1, chaos.Stream({"a": (1.0, 0.1, 0.0)}, alternate=False))
        flood = chaos.Flood(feeder, 0.3, 1)
        flood.start()
        flood.join(60)
        assert not flood.is_alive() and flood.sent > 0
        assert 0 < life.flood_sent <= flood.sent, (life.flood_sent, flood.sent)
        feeder.sock.close()
    finally:
        proc.stdin.close()
        end_processes(proc)
