"""`stad-agent listen` back from a broker restart before the gateway: Mosquitto 2.0.11 stopped with SIGTERM keeps
the Last Will it published as it went (`offline`, retained) in the database it starts again with, so a listen that
re-subscribed before the gateway reconnected got that `offline` as the gateway's status, the broker answered its
check, and it printed `lab/gw-test is offline` then `… is online` — the gateway blamed for the broker's restart,
which test_user16_listen_broker_stop.py forbids; it lost that race in 3 of 4 runs at load ~24 (qa40). Now that
retained `offline` of a node listen knew online is held until the node says `online`, or its reconnect back-off
(`reconnect_max_s`) has passed. Real Mosquitto, a real agent (SIGSTOPped while the broker restarts: a gateway
slower to reconnect than listen), a real `listen` process."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from conftest import agent_env, end_processes, pump_agent_config, wait_for
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

ROOT = Path(__file__).resolve().parent.parent
NODE = "lab/gw-test"
#: what listen says at once when it holds the broker's kept `offline` (qa41), up to its first " ("
PENDING = f"{NODE}: state unknown — the broker came back holding its `offline`"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _mark(port: int) -> None:
    """A payload on the gateway's alerts topic that listen cannot show (it logs `not an alert event`): listen has
    taken everything the broker sent it before this — the retained status of its re-subscription among it."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="qa40-mark")
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish("stad/lab/gw-test/alerts", b"qa40-mark", qos=1).wait_for_publish(timeout=60)
    finally:
        c.disconnect()
        c.loop_stop()


def _start(tmp_path, broker, reconnect_max_s: float, listen_args: list[str]):
    sink = {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2,
                                        "reconnect_max_s": reconnect_max_s}}
    cfg = pump_agent_config(tmp_path, [sink], speed=20.0)
    agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=ROOT, env=agent_env(),
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.err").open("w"))
    out, err = tmp_path / "listen.out", tmp_path / "listen.err"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", *listen_args(cfg)], cwd=ROOT,
                              env=agent_env(), stdout=out.open("w"), stderr=err.open("w"))
    return cfg, agent, listen, out, err


def _restart_broker_listen_first(broker, agent, listen, out, err) -> None:
    """Broker stopped (its Last Will of the agent kept), the agent held still, the broker started again, listen
    back and past its re-subscription's retained status."""
    wait_for(lambda: f"{NODE} is online" in out.read_text(), "listen shows the gateway online", proc=listen)
    broker.stop()
    wait_for(lambda: any("lost the broker" in line for line in _lines(out)), "listen says it lost the broker",
             proc=listen)
    agent.send_signal(signal.SIGSTOP)           # a gateway slower to come back than listen (its back-off)
    broker.start()
    wait_for(lambda: err.read_text().count("listen: following") >= 2, "listen subscribed again", proc=listen)
    _mark(broker.port)
    wait_for(lambda: "qa40-mark" in err.read_text(), "listen took what came before the mark", proc=listen)


def test_listen_back_before_the_gateway_does_not_show_the_brokers_kept_will(tmp_path, broker):
    cfg, agent, listen, out, err = _start(tmp_path, broker, 1.0, lambda cfg: [
        "--host", "127.0.0.1", "--port", str(broker.port), "--site", "lab", "--node", "gw-test"])
    try:
        _restart_broker_listen_first(broker, agent, listen, out, err)
        assert not any("is offline" in line for line in _lines(out)), _lines(out)
        agent.send_signal(signal.SIGCONT)       # the gateway reconnects: its `online`
        wait_for(lambda: sum(f"{NODE} is online" in line for line in _lines(out)) >= 2,
                 "the gateway shown online again", proc=listen)
        assert not any("is offline" in line for line in _lines(out)), _lines(out)
    finally:
        end_processes(listen, agent)            # listen first: the agent's clean stop says its own `offline`
    # qa41: the hold is said at once (before, nothing for up to reconnect_max_s: the console read "still online")
    assert [line.split(" ", 1)[1].split(" (")[0] for line in _lines(out)
            if not line.split(" ", 1)[1].startswith("lost the broker")] == \
        [f"{NODE} is online", PENDING, f"{NODE} is online"], _lines(out)


def test_a_gateway_not_back_within_its_reconnect_max_s_is_shown_offline_saying_why(tmp_path, broker):
    """listen -c: the gateway config's reconnect_max_s (2 s) is how long its retained `offline` is held."""
    cfg, agent, listen, out, err = _start(tmp_path, broker, 2.0, lambda cfg: ["-c", str(cfg)])
    try:
        assert yaml.safe_load(cfg.read_text())["sinks"][0]["broker"]["reconnect_max_s"] == 2.0
        _restart_broker_listen_first(broker, agent, listen, out, err)
        agent.kill()                            # it never comes back
        agent.wait()
        said = wait_for(lambda: [line for line in _lines(out) if "is offline" in line], "the gateway shown offline",
                        proc=listen)
    finally:
        end_processes(agent, listen)
    assert said[0].split(" ", 1)[1].startswith(f"{NODE} is offline (the status the broker held when listen came "
                                               f"back; it was online when listen lost the broker, and has not said "
                                               f"`online` within 2 s — its reconnect_max_s"), said
    assert [line.split(" ", 1)[1].split(" (")[0] for line in _lines(out)
            if not line.split(" ", 1)[1].startswith("lost the broker")] == \
        [f"{NODE} is online", PENDING, f"{NODE} is offline"], _lines(out)
