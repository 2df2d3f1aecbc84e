"""Two agents connecting as one client id: listen says the flipping status once, not line by line (mqttsrc5).

user27 gave two agents the same node (so the same MQTT client id): the broker dropped each for the other at every
reconnect and published the dropped one's Last Will, and listen printed 47 `is online` / `is offline` lines in 23 s.
Here two real MQTT clients as a gateway's sink connects (the same client id, a retained `offline` Will on the node's
status topic, a retained `online` at each connect, a reconnect a fraction of a second after each drop) take the
session from each other at a real Mosquitto, and a real `listen -c` process follows the node; its config's
broker.stable_s is 2 s (carried since this round: test_listen_config_keys.py). Every wait is on a condition."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from conftest import agent_env, wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture

STATUS = "plant5/stad/site5/gw-5/status"


def twin(port: int) -> mqtt.Client:
    """One of the two, under the client id both agents' sinks would take."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="stad-site5-gw-5", protocol=mqtt.MQTTv311)
    client.will_set(STATUS, "offline", qos=1, retain=True)
    client.on_connect = lambda c, userdata, flags, rc, props: c.publish(STATUS, "online", qos=1, retain=True)
    client.reconnect_delay_set(1, 1)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    return client


def test_a_status_flipping_again_and_again_is_said_once_then_its_end(tmp_path: Path, make_broker):
    broker = make_broker()
    config = tmp_path / "agent.yaml"
    config.write_text(f"""node: {{id: gw-5, site: site5}}
sensors:
  - {{name: a, group: g}}
sources:
  - {{type: stdin}}
sinks:
  - type: mqtt
    prefix: plant5/stad
    broker: {{host: 127.0.0.1, port: {broker.port}, stable_s: 2}}
""")
    out = tmp_path / "listen.out"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", "-c", str(config), "--timeout", "120"],
                              stdout=out.open("w"), stderr=subprocess.STDOUT, env=agent_env(), cwd=tmp_path)
    first = second = None
    try:
        assert wait_until(lambda: "following" in out.read_text(), 60, proc=listen), out.read_text()
        first, second = twin(broker.port), twin(broker.port)
        assert wait_until(lambda: "its status changed 4 times" in out.read_text(), 60, proc=listen), out.read_text()
        second.loop_stop()      # one agent left: its session holds (the other's socket closed without a word)
        second.disconnect()
        second = None
        assert wait_until(lambda: "of its status not shown since" in out.read_text(), 60, proc=listen), \
            out.read_text()
        said = out.read_text()
        lines = [line for line in said.splitlines() if "gw-5 is " in line]
        assert said.count("its status changed 4 times") == 1, said
        assert said.count("of its status not shown since") == 1, said
        assert len(lines) <= 6, said        # before: a line for each change, as long as the two flipped
        assert lines[-1].split(" is ")[1].startswith("online"), lines[-1]
    finally:
        for client in (first, second):
            if client is not None:
                client.loop_stop()
                client.disconnect()
        listen.terminate()
        listen.wait(30)


def test_two_listens_given_one_session_id_are_told_so_once(tmp_path: Path, make_broker):
    """listen's own client id is the broker's choice (unique); only `--session ID` can clash. Two consoles given
    the same one take the session from each other every reconnect: said once, naming `--session`, not a
    lost/connected pair of lines a second (the agents' hint, node.id, said before)."""
    broker = make_broker()
    outs = [tmp_path / f"listen{i}.out" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port",
                               str(broker.port), "--session", "ops-room", "--timeout", "120"],
                              stdout=out.open("w"), stderr=subprocess.STDOUT, env=agent_env(), cwd=tmp_path)
             for out in outs]
    hint = "another `stad-agent listen --session ops-room`? give each console its own"
    try:
        assert wait_until(lambda: any(hint in out.read_text() for out in outs), 90), \
            [out.read_text()[-2000:] for out in outs]
        said = [out.read_text() for out in outs]
        assert all(text.count(hint) <= 1 for text in said), said
        assert not any("node.id" in text for text in said), said
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
