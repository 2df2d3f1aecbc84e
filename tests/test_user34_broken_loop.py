"""user34: a pumping station's zone pressure on a broken 4–20 mA loop, read from a real Modbus TCP device by the real
agent, with no `min` / `max` in `sensors` (configs/industrial.yaml gives none): the PLC's input card reports the
register's rail value, 0xFFFF — 655.35 bar at scale 0.01. On 19acb1bf that was a `spike` fault until `clear_s`, then
an incident alert while the loop stayed broken (score 1 433 in the walk; two loops at once: an alert on their first
tick). It must be a sensor fault and never an incident: now an `out_of_range` fault on its tick that says it is the
register's rail (agent/register_ranges.py). A signed register's -32768 is the same (the second test), and a sensor
with its own range keeps it."""
from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timezone
from pathlib import Path

import yaml

from conftest import interrupt_agent, start_logged_agent, wait_for
from modbus_device import ModbusServer

#: sensor → (holding register, data type, scale, normal engineering value, noise)
STATION = {"PT201_downstream": (0, "uint16", 0.01, 4.2, 0.03), "PT202_zone": (1, "uint16", 0.01, 3.5, 0.03),
           "FT201_flow": (2, "uint16", 0.1, 80.0, 1.5), "M1_current": (3, "uint16", 0.01, 42.0, 0.4),
           "TT102_outdoor": (4, "int16", 0.1, -3.0, 0.2)}


def normal(rng: random.Random) -> dict[str, float]:
    return {s: v + noise * rng.gauss(0, 1) for s, (_, _, _, v, noise) in STATION.items()}


def word(sensor: str, value: float) -> int:
    _, kind, scale, _, _ = STATION[sensor]
    n = int(round(value / scale))
    return n & 0xFFFF if kind == "int16" else n


class Plc(threading.Thread):
    """Writes the station's normal readings into the device every 0.2 s; `rail` maps a register to the word its
    broken input reads instead."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        from pymodbus.client import ModbusTcpClient
        self.client = ModbusTcpClient("127.0.0.1", port=port)
        self.rail: dict[str, int] = {}
        self.stop = threading.Event()
        self.rng = random.Random(5)

    def run(self) -> None:
        self.client.connect()
        while not self.stop.is_set():
            values = normal(self.rng)
            words = [self.rail.get(s, word(s, values[s])) for s in STATION]
            self.client.write_registers(0, words, device_id=1)
            self.stop.wait(0.2)
        self.client.close()


def config(tmp_path: Path, port: int, ranged: dict[str, tuple[float, float]]) -> Path:
    rng = random.Random(7)
    recording = tmp_path / "warm"
    recording.mkdir()
    start = datetime(2026, 12, 6, tzinfo=timezone.utc).timestamp()
    with (recording / "2026-12-06.jsonl").open("w") as f:
        for i in range(900):
            stamp = datetime.fromtimestamp(start + i + 0.5, timezone.utc).isoformat().replace("+00:00", "Z")
            values = {s: round(word(s, v) * STATION[s][2] if STATION[s][1] == "uint16" else v, 3)
                      for s, v in normal(rng).items()}
            f.write(json.dumps({"ts": stamp, "values": values}) + "\n")
    sensors = [{"name": s, "group": "station", **({"min": ranged[s][0], "max": ranged[s][1]} if s in ranged else {})}
               for s in STATION]
    cfg = {"node": {"id": "ps7-gw-01", "site": "ps7"}, "tick_s": 1, "topology": "group", "sensors": sensors,
           "sources": [{"type": "modbus", "host": "127.0.0.1", "port": port, "poll_s": 1,
                        "registers": {s: r for s, (r, *_) in STATION.items()},
                        "scale": {s: sc for s, (_, _, sc, _, _) in STATION.items()},
                        "data_types": {s: t for s, (_, t, *_) in STATION.items() if t != "uint16"}}],
           "window": {"steps": 8, "carry_forward_s": 3, "lateness_ticks": 1, "idle_flush_s": 2},
           "warmup": {"replay": str(recording)}, "scoring": {"chain": ["numpy"]},
           "faults": {"clear_s": 3},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / "state" / "alerts.jsonl")}],
           "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def events(tmp_path: Path) -> list[dict]:
    path = tmp_path / "state" / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def alerted(tmp_path: Path) -> bool:
    return any(e.get("kind") == "alert" for e in events(tmp_path))


def judged(tmp_path: Path) -> dict[str, str]:
    """sensor → the kind its fault events said (a station fault's each sensor's)."""
    said: dict[str, str] = {}
    for e in events(tmp_path):
        if e.get("event") in ("fault", "fault_update"):
            said.update(e["evidence"].get("kinds") or {e["sensor"]: e["kind"]})
    return said


def rail_and_back(tmp_path: Path, ranged: dict[str, tuple[float, float]], rails: dict[str, int]) -> list[dict]:
    """The agent warm on a recording, then `rails` on the live device until each such sensor is judged out_of_range
    (or an alert opens), then the readings back until a fault ends; the events."""
    with ModbusServer({r: 0 for r, *_ in STATION.values()}) as device:
        plc = Plc(device.port)
        plc.start()
        proc = start_logged_agent(config(tmp_path, device.port, ranged), tmp_path)
        try:
            wait_for(lambda: "the window is refilled" in (tmp_path / "agent.err").read_text(), "the first score",
                     timeout=120, proc=proc)
            plc.rail = rails
            wait_for(lambda: alerted(tmp_path) or all(judged(tmp_path).get(s) == "out_of_range" for s in rails),
                     "an out_of_range fault of each broken sensor, or an alert", timeout=120, proc=proc)
            plc.rail = {}
            wait_for(lambda: alerted(tmp_path) or any(e.get("event") == "fault_end" for e in events(tmp_path)),
                     "the faults' end", timeout=120, proc=proc)
        finally:
            plc.stop.set()
            interrupt_agent(proc)
            plc.join(30)
    return events(tmp_path)


def test_a_broken_loops_rail_value_is_an_out_of_range_fault_never_an_incident(tmp_path):
    got = rail_and_back(tmp_path, {}, {"PT202_zone": 0xFFFF})
    assert not [e for e in got if e.get("kind") == "alert"], got
    fault = next(e for e in got if e.get("event") == "fault")
    assert (fault["sensor"], fault["kind"]) == ("PT202_zone", "out_of_range"), fault
    summary = fault["evidence"]["summary"]
    assert "reads 655.35" in summary and "holding register 1 (uint16 × 0.01)" in summary, summary
    assert "65535 (0xFFFF)" in summary and "broken 4–20 mA loop" in summary, summary


def test_a_signed_registers_rail_is_a_fault_and_a_configured_range_is_kept(tmp_path):
    got = rail_and_back(tmp_path, {"PT202_zone": (0.0, 10.0)},
                        {"TT102_outdoor": 0x8000, "PT202_zone": 0xFFFF})
    assert not [e for e in got if e.get("kind") == "alert"], got
    assert judged(tmp_path) == {"TT102_outdoor": "out_of_range", "PT202_zone": "out_of_range"}, got
    summaries = json.dumps([e["evidence"] for e in got])
    assert "reads -3276.8" in summaries and "-32768 (0x8000)" in summaries, summaries
    assert "outside its range [0, 10]" in summaries, summaries      # its own range, no register's note
