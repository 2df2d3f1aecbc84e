"""qa37: what evaluate and check-config say of a replay CSV's label columns counts the sensors' own columns as
sensors'. With no `columns` mapping a column named as a sensor is that sensor's (and a single-series file's one
value column feeds a single sensor), but `ReplayConfig.other_columns` left out only mapped columns: evaluate on
`timestamp,a,b` (sensors a, b, no label column) said "name the column that marks anomalous rows, e.g.
label_columns: [a] (the header's other columns: 'a', 'b')" — a sensor's readings proposed as the labels — and
check-config's "columns besides the time and the sensors'" listed the sensors. A real CSV, the real CLIs."""
from __future__ import annotations

import subprocess
import sys

import yaml

from agent.sources.replay import ReplayConfig
from conftest import REPO, agent_env


def test_other_columns_are_neither_the_time_nor_a_sensors():
    header = ["timestamp", "a", "b", "anomaly"]
    assert ReplayConfig().other_columns(header, ["a", "b"]) == ["anomaly"]
    assert ReplayConfig(columns={"a": "pump"}).other_columns(header, ["pump"]) == ["b", "anomaly"]
    # NAB's single series: its one value column is the single sensor's, whatever its name
    assert ReplayConfig().other_columns(["timestamp", "value"], ["cpu"]) == []
    assert ReplayConfig(label_columns=["anomaly"]).other_columns(["timestamp", "value", "anomaly"], ["cpu"]) == \
        ["anomaly"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, cwd=REPO,
                          env=agent_env(), timeout=300)


def test_evaluate_proposes_no_sensor_as_the_label_column(tmp_path):
    data = tmp_path / "day.csv"
    data.write_text("timestamp,a,b\n" + "".join(f"{1.7e9 + i:.0f},{i % 7},{i % 5}\n" for i in range(300)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "sinks": [], "window": {"steps": 8},
                                   "warmup": {"ticks": 50}, "sources": [{"type": "replay", "path": str(data)}]}))
    res = _run("evaluate", "-c", str(cfg), "--scorer", "numpy")
    assert "label_columns: [anomaly] (the header's other columns: none)" in res.stderr, res.stderr[-2000:]
    assert "label_columns: [a]" not in res.stderr


def test_check_config_names_no_sensor_among_the_other_columns(tmp_path):
    data = tmp_path / "day.csv"
    data.write_text("timestamp,a,b,anomaly\n" + "".join(f"{1.7e9 + i:.0f},{i % 7},{i % 5},0\n" for i in range(20)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "sinks": [], "window": {"steps": 8},
                                   "warmup": {"ticks": 50},
                                   "sources": [{"type": "replay", "path": str(data), "label_columns": ["anomally"]}]}))
    res = _run("check-config", "-c", str(cfg))
    said = res.stdout + res.stderr
    assert res.returncode == 2 and "did you mean 'anomaly'?" in said, said
    assert "besides the time and the sensors': 'anomaly'" in said, said
