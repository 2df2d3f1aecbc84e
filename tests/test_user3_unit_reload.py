"""`systemctl reload stad-agent`: the README's troubleshooting and the roadside table tell the operator
to reload (SIGHUP: the model bundle, and a line saying whether an edited config would start). Without
an ExecReload= in the unit, systemd refuses the reload ('Job type reload is not applicable'). The
unit's ExecReload command, run as systemd runs it ($MAINPID the agent's pid), must reach a real agent
as a SIGHUP."""
from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

from conftest import NotifySocket, agent_env, free_port, wait_for

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "stad-agent.service"


def exec_reload() -> list[str]:
    lines = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith("ExecReload=")]
    assert len(lines) == 1, "the unit has no ExecReload= (systemctl reload is refused)"
    return shlex.split(lines[0])


def test_the_units_exec_reload_sends_the_agent_a_sighup(tmp_path):
    argv = exec_reload()
    port = free_port()
    cfg = {"node": {"id": "gw-reload", "site": "lab"}, "tick_s": 1, "topology": "group", "sensors": ["a", "b", "c"],
           "sources": [{"type": "udp", "bind": "127.0.0.1", "port": port}], "window": {"steps": 16},
           "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "a.jsonl"}],
           "state_dir": "state"}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    notify = NotifySocket(f"@stad-user3-{uuid.uuid4().hex[:12]}")
    err_path = tmp_path / "agent.stderr"
    with err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err,
                                env=agent_env(NOTIFY_SOCKET=notify.address))
    try:
        notify.wait_for("READY=1", timeout=90)
        reload = subprocess.run([a.replace("$MAINPID", str(proc.pid)) for a in argv], capture_output=True,
                                text=True, timeout=60)
        assert reload.returncode == 0, reload.stderr
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        sent = [0.0]

        def said() -> bool:     # the SIGHUP is answered at the next tick: keep the ticks coming, one a second
            if time.monotonic() - sent[0] >= 1.0:
                sender.sendto(json.dumps({"a": 1.0, "b": 2.0, "c": 3.0}).encode(), ("127.0.0.1", port))
                sent[0] = time.monotonic()
            return "no model bundle to reload" in err_path.read_text()
        wait_for(said, "the agent's SIGHUP line", 90, proc)
        sender.close()
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=90)
        notify.close()
