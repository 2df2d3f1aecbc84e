"""user25: `stad-agent simulate` writes a config's simulate source as the CSV recordings train and warm-up read.

Before, README had no way to turn the simulator into recordings (user24 and user25 each wrote one against
`Simulation`). The command runs as a process; its files are read back by the agent's own replay source (as
`stad-convert train` and `warmup.replay` read them): one file per UTC day, every tick, the simulator's values to
6 significant digits, a dropped reading as an empty cell (missing), the ground truth in `anomaly`; a second run
into the same folder overwrites nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from agent.config import load
from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource
from agent.sources.simulate import Simulation

REPO = Path(__file__).resolve().parent.parent
PUMP = ["accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow"]


def _simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "simulate", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 10, "topology": "group", "sensors": [{"name": s, "group": "skid1"} for s in PUMP], "sinks": [],
        "sources": [{"type": "simulate", "scenario": "pump", "seed": 3, "start": "2026-11-01T20:00:00Z",
                     "anomalies": [{"kind": "dropout", "at_s": 600, "duration_s": 300, "target": "flow"},
                                   {"kind": "incident", "at_s": 3600, "duration_s": 900, "target": "pump"}]}]}))
    return path


def test_the_files_are_the_simulation_read_back_by_the_replay_source(tmp_path):
    cfg_path = _config(tmp_path)
    out = tmp_path / "recordings"
    done = _simulate("-c", str(cfg_path), "-o", str(out), "--days", "0.25")      # 20:00 → 02:00: two UTC days
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["2026-11-01.csv", "2026-11-02.csv"]
    assert "2,160 rows in 2 file(s)" in done.stderr
    assert "for `warmup.replay` write a run with `anomalies: []`" in done.stderr     # a warm-up reads no labels
    assert (out / "2026-11-01.csv").read_text().splitlines()[0] == "timestamp," + ",".join(PUMP) + ",anomaly"

    cfg = load(str(cfg_path))
    src = cfg.sources[0]
    src.duration_s = 0.25 * 86400
    expected = list(rec for _, rec in Simulation(src, PUMP, 10.0))
    replay = ReplayConfig(path=str(out), label_columns=["anomaly"])
    read = list(ReplaySource(replay, PUMP, Rejects(), str(tmp_path), 10.0).records())
    assert len(read) == len(expected) == 2160
    dropped = 0
    for got, want in zip(read, expected):
        assert got.ts == want.ts
        assert got.label == want.label
        assert set(got.values) == set(want.values)
        dropped += "flow" not in got.values
        for sensor, value in want.values.items():
            assert abs(got.values[sensor] - value) <= 1e-5 * abs(value)
    assert dropped == 30                                    # the 300-s dropout: 30 empty cells, missing readings
    assert sum(r.label for r in read) >= 90                 # the 900-s incident labelled, the dropout too

    again = _simulate("-c", str(cfg_path), "-o", str(out), "--days", "0.25")
    assert again.returncode == 2
    assert "2026-11-01.csv exists already" in again.stderr


def test_a_config_without_a_simulate_source_or_an_end_is_refused_naming_what_to_give(tmp_path):
    cfg_path = _config(tmp_path)
    endless = _simulate("-c", str(cfg_path), "-o", str(tmp_path / "out"))
    assert endless.returncode == 2
    assert "sources[0].duration_s: the simulator runs until stopped; give --days" in endless.stderr
    modbus = tmp_path / "plc.yaml"
    modbus.write_text(yaml.safe_dump({"sensors": PUMP, "sinks": [],
                                      "sources": [{"type": "modbus", "registers": {s: i for i, s in enumerate(PUMP)}}]}))
    none = _simulate("-c", str(modbus), "-o", str(tmp_path / "out"), "--days", "1")
    assert none.returncode == 2
    assert "no `simulate` source to write" in none.stderr
    assert not (tmp_path / "out").exists()
