"""review21: `stad-convert train` with `tick_s: 10` on SKAB's 1-s recordings refused with `not
enough data for windows of 64 ticks … rejected while reading: 129928 duplicate` — true, and no
word that the config's tick is the cause (nine of every ten readings fell on a tick that already
had one). The refusal's reject summary must point at tick_s when readings were duplicates."""
from __future__ import annotations

from pathlib import Path

from agent import config
from convert.data import read_series


def _cfg(tmp_path: Path, tick_s: float) -> config.AgentConfig:
    rows = [f"2020-03-09 10:{i // 60:02d}:{i % 60:02d};{1.0 + (i % 7) * 0.01};{2.0 + (i % 5) * 0.01}"
            for i in range(1200)]
    (tmp_path / "pump.csv").write_text("datetime;Pressure;Current\n" + "\n".join(rows) + "\n")
    return config.from_dict({
        "sensors": ["pressure", "current"], "tick_s": tick_s, "window": {"steps": 16},
        "sources": [{"type": "replay", "path": "pump.csv", "separator": ";", "time_column": "datetime",
                     "columns": {"Pressure": "pressure", "Current": "current"}}], "sinks": []},
        base_dir=str(tmp_path))


def test_duplicates_from_a_tick_longer_than_the_recordings_period_name_tick_s(tmp_path):
    cfg = _cfg(tmp_path, 10)
    text = read_series(cfg, cfg.sources).rejected_text()
    assert "duplicate" in text and "tick_s" in text, text


def test_the_recordings_own_period_rejects_nothing(tmp_path):
    cfg = _cfg(tmp_path, 1)
    assert read_series(cfg, cfg.sources).rejected_text() == ""
