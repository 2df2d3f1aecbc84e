"""`stad-agent listen` when the broker itself stops: Mosquitto publishes every connected client's Last Will as
it shuts down (SIGTERM, `systemctl restart mosquitto`), so the gateway's `offline` reached listen as listen's own
connection ended, and listen printed `lab/gw-test is offline` — the gateway blamed for the broker's restart, and
nothing said when listen was back (user14, user16). A real Mosquitto on a free port, a real agent with an MQTT
sink, a real `listen` process: the broker stopped and started again, then the agent stopped cleanly (its own
`offline`, which listen must still show)."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env, end_processes, pump_agent_config, wait_for
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

ROOT = Path(__file__).resolve().parent.parent
NODE = "lab/gw-test"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_broker_stop_is_not_the_gateway_going_offline(tmp_path, broker, protocol):
    sink = {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2,
                                        "reconnect_max_s": 1.0}}
    cfg = pump_agent_config(tmp_path, [sink], speed=20.0)
    agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=ROOT, env=agent_env(),
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.err").open("w"))
    out, err = tmp_path / "listen.out", tmp_path / "listen.err"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port",
                               str(broker.port), "--site", "lab", "--node", "gw-test", "--protocol", protocol], cwd=ROOT, env=agent_env(),
                              stdout=out.open("w"), stderr=err.open("w"))
    try:
        wait_for(lambda: f"{NODE} is online" in out.read_text(), "listen shows the gateway online", proc=listen)

        broker.stop()           # SIGTERM: the broker publishes the agent's Last Will `offline` as it goes
        said = wait_for(lambda: [line for line in _lines(out)[1:] if "lost the broker" in line or "is offline" in line],
                        "listen says something of the broker's stop", proc=listen)
        assert "lost the broker" in said[0], _lines(out)
        assert "gateway state unknown" in said[0] and f"{NODE} was online" in said[0], said[0]
        assert f"the `offline` of {NODE} that came as the connection ended is not shown" in said[0], said[0]
        assert not any("is offline" in line for line in _lines(out)), _lines(out)

        broker.start()          # same port and persistence: listen and the agent reconnect
        wait_for(lambda: any(f"{NODE} is online" in line for line in _lines(out)[2:]),
                 "the gateway's state shown again once listen is back", proc=listen)
        assert not any("is offline" in line for line in _lines(out)), _lines(out)

        # The gateway's own `offline` (a clean stop publishes it before it disconnects) is still shown.
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, (tmp_path / "agent.err").read_text()[-3000:]
        wait_for(lambda: any(f"{NODE} is offline" in line for line in _lines(out)),
                 "listen shows the gateway's own offline", proc=listen)
    finally:
        end_processes(agent, listen)
    lines = _lines(out)
    assert [line.split(" ", 1)[1] for line in lines if NODE in line and "lost the broker" not in line] == \
        [f"{NODE} is online", f"{NODE} is online", f"{NODE} is offline"], lines
    assert listen.returncode == 0, err.read_text()
