"""A PLC that is not there is said once, in the agent's words — `modbus H:P unreachable (the device
at H:P refused the connection …); retrying …` — and not again by pymodbus as `ERROR pymodbus.logging: Connection to (…)
failed` and `ERROR … Repeating....`, which an integrator read in the journal as a second,
unexplained failure (user6's walk). A real agent process polling a port nothing listens on."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import agent_env, free_port, wait_for

pytest.importorskip("pymodbus")


def _skid(tmp_path: Path, port: int) -> Path:
    cfg = {"node": {"id": "p7-gw-skid1", "site": "plant7"}, "tick_s": 1, "topology": "group",
           "sensors": [{"name": s, "group": "skid1"} for s in ("PT101", "FT101")],
           "sources": [{"type": "modbus", "host": "127.0.0.1", "port": port, "poll_s": 0.2,
                        "registers": {"PT101": 100, "FT101": 101}}],
           "window": {"steps": 8}, "warmup": {"ticks": 20},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")}
    path = tmp_path / "skid1.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("level, pymodbus_shown", [("info", False), ("debug", True)])
def test_an_unreachable_plc_is_said_by_the_agent_alone(tmp_path, level, pymodbus_shown):
    err = tmp_path / "agent.err"
    agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(_skid(tmp_path, free_port())),
                              "--log-level", level], cwd=tmp_path, env=agent_env(),
                             stdout=subprocess.DEVNULL, stderr=err.open("w"))
    try:
        # pymodbus logs the failed connect before the source's own line (the same thread): once that
        # line is there, so is pymodbus's, unless it is quieted.
        wait_for(lambda: "refused the connection (nothing listens on port" in err.read_text()
                 and (not pymodbus_shown or "pymodbus" in err.read_text()), "the agent's unreachable line",
                 timeout=120, proc=agent)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=120) == 0
    said = err.read_text()
    assert said.count("unreachable (the device at 127.0.0.1:") == 1, said
    assert ("pymodbus" in said) is pymodbus_shown, said
    assert "modbus unreachable: " in said, said         # the stop's summary counts the failed polls
