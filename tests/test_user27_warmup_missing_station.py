"""check-config notes the sensors `warmup.replay`'s recordings give no column (user27: a 13th loop-detector
station added to a corridor warmed up on recordings of the first 12 passed check-config with "ok"; `run` then
warned each new sensor "did not move in this warm-up"; since qa47 it learns them live before scoring them). Real CSV
files, the real `check-config` command."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import agent_env

REPO = Path(__file__).resolve().parent.parent
MEASURES = ("flow", "occ", "speed")


def recordings(folder: Path, stations: list[str]) -> Path:
    folder.mkdir()
    columns = [f"{s}_{m}" for s in stations for m in MEASURES]
    rows = [",".join(["timestamp", *columns])]
    for i in range(200):
        stamp = f"2026-12-05T{i * 30 // 3600:02d}:{i * 30 // 60 % 60:02d}:{i * 30 % 60:02d}Z"
        rows.append(",".join([stamp, *(str(1000 + (i * 7 + j) % 13) for j in range(len(columns)))]))
    (folder / "2026-12-05.csv").write_text("\n".join(rows) + "\n")
    return folder


def check(tmp_path: Path, stations: list[str], replay_format: str = "") -> subprocess.CompletedProcess:
    sensors = ", ".join(f"{s}_{m}" for s in stations for m in MEASURES)
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""tick_s: 30
topology: corridor
sensors: [{sensors}]
sources: [{{type: stdin}}]
warmup: {{ticks: 100, replay: rec{replay_format}}}
sinks: []
state_dir: state
""")
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(cfg)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=agent_env())


def test_a_station_added_since_the_recordings_is_noted(tmp_path):
    recordings(tmp_path / "rec", ["K012", "K014"])
    done = check(tmp_path, ["K012", "K014", "K036"])
    assert done.returncode == 0, done.stderr
    assert ("warmup.replay: 3 of the 9 sensors have no column in its 1 CSV file(s) (K036_flow, K036_occ, "
            "K036_speed): no normal is learned for them") in done.stderr, done.stderr
    assert "on live ticks (no warmup.replay)" in done.stderr, done.stderr


def test_recordings_of_every_sensor_and_a_columns_map_missing_one(tmp_path):
    recordings(tmp_path / "rec", ["K012", "K014"])
    whole = check(tmp_path, ["K012", "K014"])
    assert whole.returncode == 0, whole.stderr
    assert "have no column" not in whole.stderr, whole.stderr
    mapped = check(tmp_path, ["K012", "K014"], ", replay_format: {columns: {K012_flow: K012_flow, K012_occ: K012_occ, "
                                               "K012_speed: K012_speed, K014_flow: K014_flow}}")
    assert mapped.returncode == 0, mapped.stderr
    assert "2 of the 6 sensors have no column in its 1 CSV file(s) (K014_occ, K014_speed)" in mapped.stderr, \
        mapped.stderr
