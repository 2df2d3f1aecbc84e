"""A live agent's lives on a UDP sender stamped with this host's clock (qa17's, shared with user15's clean-stop test):
the sender, the config, a run until its first tick and some records more (SIGTERM), a clean restart."""
from __future__ import annotations

import json
import random
import socket
import threading
import time
from pathlib import Path

import yaml

from conftest import free_port, start_logged_agent, wait_for

SENSORS = ["a_x", "a_y", "b_x", "b_y"]
TICK = 0.25


class Sender:
    """A device sending every sensor (bar `silent`) every tick, stamped with this host's clock."""

    def __init__(self, port: int):
        self.port, self.sent, self.silent = port, 0, set()
        self.shift: dict[str, float] = {}      # a level added to a sensor from then on (a process that moved)
        self.clock_offset = 0.0                # seconds its own clock stands from this host's (a controller 40 s fast)
        self.station_clock: dict[str, float] = {}  # a station (sensor prefix) with a clock of its own, in datagrams of
                                                    # its own: seconds it stands from this host's (summer time, user35)
        self.copies = 1                        # each datagram sent this many times (a controller that repeats, qa55)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        r = random.Random(1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            while not self.stopped.wait(TICK):      # (the device's cadence: the input, not a wait)
                values = {k: 10 + r.gauss(0, 1) + self.shift.get(k, 0.0) for k in SENSORS if k not in self.silent}
                for offset, some in self._by_clock(values):
                    datagram = json.dumps({"ts": time.time() + offset, "values": some}).encode()
                    for _ in range(self.copies):
                        out.sendto(datagram, ("127.0.0.1", self.port))
                self.sent += 1

    def _by_clock(self, values: dict[str, float]) -> list[tuple[float, dict[str, float]]]:
        """(clock offset, values) per datagram: one for every sensor, or one per station when stations have clocks."""
        if not self.station_clock:
            return [(self.clock_offset, values)]
        stations = sorted({k.split("_")[0] for k in values})
        return [(self.station_clock.get(st, self.clock_offset), {k: v for k, v in values.items() if k.split("_")[0] == st})
                for st in stations]

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "node": {"id": "gw-r", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": SENSORS,
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": port}],
        "window": {"steps": 16, "carry_forward_s": 3 * TICK, "lateness_ticks": 1, "idle_flush_s": 1.5 * TICK},
        "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 1}))
    return path


def run_once(cfg: Path, tmp_path: Path, name: str, sender: Sender, ticks_after_first: int) -> str:
    """`stad-agent run` until its first tick is logged and the sender has sent `ticks_after_first`
    more records; SIGTERM; its stderr."""
    proc = start_logged_agent(cfg, tmp_path, name)
    err = tmp_path / f"{name}.err"
    try:
        wait_for(lambda: "first tick" in err.read_text(), f"{name}: first tick", timeout=120, proc=proc)
        sent = sender.sent
        wait_for(lambda: sender.sent >= sent + ticks_after_first, f"{name}: {ticks_after_first} records",
                 timeout=120, proc=proc)
    finally:
        proc.terminate()
        proc.wait(60)
    return err.read_text()


def faults(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [e for e in map(json.loads, path.read_text().splitlines()) if e.get("event") in ("fault", "fault_end")]


def restart(tmp_path: Path, silent_after: set[str], down_ticks: int = 8) -> tuple[str, list[dict]]:
    """Run, clean stop, ~`down_ticks` ticks down, run again (the sender silent for `silent_after`
    from the stop on): the second run's log and the sensor-fault events written after the restart."""
    port = free_port()
    cfg = write_config(tmp_path, port)
    sender = Sender(port)
    try:
        run_once(cfg, tmp_path, "run1", sender, ticks_after_first=30)
        assert (tmp_path / "state" / "checkpoint.bin").exists()
        before = len(faults(tmp_path / "alerts.jsonl"))
        sender.silent = set(silent_after)
        sent = sender.sent                  # the downtime: as long as the device takes to send down_ticks records
        wait_for(lambda: sender.sent >= sent + down_ticks, f"{down_ticks} records sent while the agent is down",
                 timeout=120)
        err = run_once(cfg, tmp_path, "run2", sender, ticks_after_first=40)
    finally:
        sender.stop()
    return err, faults(tmp_path / "alerts.jsonl")[before:]
