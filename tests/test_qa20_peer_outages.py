"""A source whose peer goes away, refuses, or comes back: the agent keeps running, says what is wrong
(which source, which peer) once per outage and not per retry, counts it where an operator looks
(/metrics and health's `rejected`), and reads again when the peer is back.

Real peers: a mosquitto the `mqtt` source subscribes at (killed, restarted on the same port, restarted
with a password file that no longer admits the agent, then one that does), and a pymodbus device the
`modbus` source polls (killed, restarted). The agent is a real `stad-agent run`; every wait is on a
condition (a log line, a scraped counter), never a fixed time.
"""
from __future__ import annotations

import re
import signal
import urllib.request
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from conftest import ModbusDevice, free_port, start_logged_agent, wait_for
from mqtt_broker import make_broker, make_password_file  # noqa: F401 — make_broker: a pytest fixture


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def counter(text: str, series: str) -> float:
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else -1.0


def rejected(port: int, reason: str) -> float:
    return counter(scrape(port), f'stad_records_rejected_total{{reason="{reason}"}}')


def records(port: int) -> float:
    return counter(scrape(port), "stad_records_total")


def agent_config(tmp_path: Path, source: dict, metrics_port: int) -> Path:
    cfg = {"node": {"id": "qa20-gw"}, "tick_s": 0.5, "topology": "none", "sensors": ["a", "b"],
           "sources": [source], "window": {"steps": 8, "carry_forward_s": 1, "idle_flush_s": 1},
           "warmup": {"ticks": 40}, "scoring": {"chain": ["numpy"]},
           "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
           "state_dir": "state"}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def lines(tmp_path: Path, text: str) -> list[str]:
    return [line for line in (tmp_path / "agent.err").read_text().splitlines() if text in line]


def stop(proc) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=90)


class Publisher:
    """Readings for sensors a and b on plant/a and plant/b, one pair per `send()`."""

    def __init__(self, port: int):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plc-{free_port()}")
        self.client.username_pw_set("plc", "plc-pw")
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        self.n = 0

    def send(self) -> None:
        self.n += 1
        for sensor in ("a", "b"):
            self.client.publish(f"plant/{sensor}", str(10 + self.n % 7))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def read_more(proc, metrics_port: int, publish, what: str) -> None:
    """The agent receives records again: publish (or poll) until stad_records_total grows by 4."""
    before = max(records(metrics_port), 0)

    def grew() -> bool:
        if publish is not None:
            publish()
        return records(metrics_port) >= before + 4
    wait_for(grew, what, 90, proc)


def admit(broker, gw_password: str) -> None:
    """The broker's password file, written again: the gateway's user with `gw_password`."""
    broker.password_file.unlink()
    broker.password_file = make_password_file(broker.dir, {"gw": gw_password, "plc": "plc-pw"})


def test_an_mqtt_source_whose_broker_goes_away_refuses_and_comes_back(tmp_path, make_broker):
    # On the old code the source's outages were only in the log: no counter in health or /metrics
    # (stad_records_rejected_total had no `mqtt unreachable` / `mqtt refused` series).
    broker = make_broker(users={"gw": "gw-pw", "plc": "plc-pw"})
    (tmp_path / "gw.pw").write_text("gw-pw\n")
    port = free_port()
    source = {"type": "mqtt", "topics": {"plant/a": "a", "plant/b": "b"}, "qos": 1,
              "broker": {"host": "127.0.0.1", "port": broker.port, "username": "gw", "password": {"file": "gw.pw"},
                         "reconnect_min_s": 0.1, "reconnect_max_s": 1}}
    proc = start_logged_agent(agent_config(tmp_path, source, port), tmp_path)
    plc = Publisher(broker.port)
    where = f"MQTT source: cannot use broker 127.0.0.1:{broker.port}"
    try:
        wait_for(lambda: rejected(port, "mqtt unreachable") == 0, "the metrics endpoint", 90, proc)
        read_more(proc, port, plc.send, "records before the outage")

        broker.kill()                                       # the broker goes away mid-stream
        wait_for(lambda: rejected(port, "mqtt unreachable") >= 4, "the failed reconnects counted", 90, proc)
        said = lines(tmp_path, where)
        # One line: the loss with why it cannot reconnect (qa27; two lines before), not a line per attempt.
        assert len(said) == 1, said
        assert "connection lost" in said[0] and "reconnecting: broker unreachable" in said[0], said
        assert all("no samples until it is back" in line for line in said), said

        broker.start()                                      # back on the same port
        wait_for(lambda: lines(tmp_path, f"MQTT source: connected to 127.0.0.1:{broker.port}"), "the reconnect",
                 90, proc)
        read_more(proc, port, plc.send, "records after the broker came back")

        broker.kill()                                       # back, but no longer admitting the agent
        admit(broker, "another-pw")
        broker.start()
        wait_for(lambda: rejected(port, "mqtt refused") >= 3, "the refused connects counted", 90, proc)
        refused = lines(tmp_path, "connection refused")
        assert len(refused) == 1 and where in refused[0] and "not authorised" in refused[0], refused

        broker.kill()                                       # the password is taken again
        admit(broker, "gw-pw")
        broker.start()
        wait_for(lambda: len(lines(tmp_path, "MQTT source: connected to")) >= 2, "the second reconnect", 90, proc)
        read_more(proc, port, plc.send, "records after the refusal ended")
        assert proc.poll() is None
    finally:
        plc.close()
        code = stop(proc)
    assert code == 0, (tmp_path / "agent.err").read_text()[-3000:]
    assert "Traceback" not in (tmp_path / "agent.err").read_text()


def test_a_modbus_source_whose_device_goes_away_and_comes_back(tmp_path):
    pytest.importorskip("pymodbus")
    device = ModbusDevice(free_port())
    device.start()
    port = free_port()
    source = {"type": "modbus", "host": "127.0.0.1", "port": device.port, "poll_s": 0.5,
              "registers": {"a": 1, "b": 2}}
    proc = start_logged_agent(agent_config(tmp_path, source, port), tmp_path)
    where = f"modbus 127.0.0.1:{device.port}"
    try:
        read_more(proc, port, None, "records before the outage")
        device.kill()
        wait_for(lambda: rejected(port, "modbus unreachable") >= 3, "the failed polls counted (3.5 s of back-off)", 90, proc)
        assert len(lines(tmp_path, f"{where} unreachable")) == 1
        device.start()
        wait_for(lambda: lines(tmp_path, f"{where} reachable again"), "the device back", 120, proc)
        read_more(proc, port, None, "records after the device came back")
        assert len(lines(tmp_path, f"{where} unreachable")) == 1
        assert proc.poll() is None
    finally:
        device.kill()
        code = stop(proc)
    assert code == 0, (tmp_path / "agent.err").read_text()[-3000:]


def test_the_ticks_of_a_modbus_outage_are_missing_not_invented(tmp_path):
    """The real source's records through the agent's aligner: every tick of the outage has no reading
    of its own; after `carry_forward_s` its values are missing (NaN), not the last ones held on."""
    pytest.importorskip("pymodbus")
    import threading

    from agent import typed
    from agent.records import Rejects
    from agent.sources.modbus import ModbusConfig, ModbusSource
    from agent.window import Aligner
    device = ModbusDevice(free_port())
    device.start()
    rejects = Rejects()
    cfg = typed.build(ModbusConfig, {"type": "modbus", "host": "127.0.0.1", "port": device.port, "poll_s": 0.2,
                                     "registers": {"a": 1, "b": 2}}, "test")
    source = ModbusSource(cfg, ["a", "b"], rejects)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(source.records()), daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(got) >= 5, "readings before the outage", 60)
        device.kill()
        wait_for(lambda: rejects.counts["modbus unreachable"] >= 4, "the failed polls (3 s of back-off)", 60)
        before = len(got)
        device.start()
        wait_for(lambda: len(got) >= before + 5, "readings after the outage", 120)
    finally:
        source.close()
        reader.join(30)
        device.kill()
    gap_from, gap_to = max(r.ts for r in got[:before]), got[before].ts
    tick = 0.2
    rows = Aligner(["a", "b"], tick, carry_forward_s=0.4, lateness_ticks=0, rejects=Rejects()).align_all(got)
    inside = [r for r in rows if gap_from + tick <= r.ts and r.ts + tick <= gap_to]
    assert len(inside) >= 5, (gap_from, gap_to, len(rows))
    assert not any((~r.missing & ~r.carried).any() for r in inside)      # no reading of its own
    assert sum(r.carried.any() for r in inside) <= 2                      # carried for 0.4 s at most
    held = [r for r in inside if r.missing.all()]
    assert len(held) >= len(inside) - 2 and all(np.isnan(r.values).all() for r in held)
