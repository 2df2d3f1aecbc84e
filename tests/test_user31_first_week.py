"""user31, a plant engineer's first week from a clean clone: daily CSV exports of a SKAB-like pump skid, a sensor
(`BearingTemp`) added on the third day, so the first two days' headers lack its column.

- check-config said "ok" on the training config and the gateway's `warmup.replay`, and nothing of the two files
  without the column; on the gateway config it printed a bare `rejected 2026-11-02.csv:1: missing column — …` line
  beside its "ok" (its reading of the warm-up's first record logged the reject). It now says, in one note per
  `columns` entry, which files lack the column and what that does; the bare line is gone.
- `stad-convert train` said of those two files `sensor bearing_temp never observed in it (its column is blank or no
  number on every row)`: wrong, the column is not in their header at all. It now says so.

Real files, the real CLI (check-config as a process) and the converter's own reading of the folder (no torch).
"""
from __future__ import annotations

import logging

from agent.config import from_dict
from bundle_check_config import accepted_by_check_config

COLUMNS = {"Accelerometer1RMS": "accel1", "Current": "current", "BearingTemp": "bearing_temp"}
FORMAT = {"separator": ";", "time_column": "datetime", "columns": COLUMNS}


def _days(folder):
    """Four daily files, 100 rows each; `BearingTemp` from the third day on."""
    folder.mkdir()
    for d, day in enumerate(("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-06")):
        added = d >= 2
        header = "datetime;Accelerometer1RMS;Current" + (";BearingTemp" if added else "")
        rows = [f"{day} 06:{s // 60:02d}:{s % 60:02d};{0.2 + (s * 7919 % 13) * 0.001:.4f};"
                f"{2.4 + (s * 104729 % 11) * 0.01:.3f}" + (f";{85 + (s % 7) * 0.1:.1f}" if added else "")
                for s in range(100)]
        (folder / f"{day}.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def _cfg(tmp_path, days, **extra):
    return {"tick_s": 1, "sensors": ["accel1", "current", "bearing_temp"], "sinks": [], "state_dir": "state",
            "window": {"steps": 8}, **extra}


def test_check_config_names_the_files_a_mapped_column_is_missing_from(tmp_path):
    days = _days(tmp_path / "days")
    train = _cfg(tmp_path, days, sources=[{"type": "replay", "path": str(days), **FORMAT}])
    err = accepted_by_check_config(tmp_path, train)
    assert ("note: sources[0]: column 'BearingTemp' (sensor bearing_temp) is in 2 of its 4 CSV file(s)' headers, "
            "not in 2026-11-02.csv, 2026-11-03.csv: their ticks give bearing_temp no reading") in err, err
    assert "Accelerometer1RMS' (sensor" not in err           # in every header: nothing said

    # the gateway's warm-up on the same folder (train's keys): the same note under warmup.replay, no bare reject line
    gateway = _cfg(tmp_path, days, sources=[{"type": "stdin"}],
                   warmup={"ticks": 20, "replay": str(days), "replay_format": FORMAT})
    err = accepted_by_check_config(tmp_path, gateway)
    assert ("note: warmup.replay: column 'BearingTemp' (sensor bearing_temp) is in 2 of its 4 CSV file(s)' headers, "
            "not in 2026-11-02.csv, 2026-11-03.csv") in err, err
    assert "rejected" not in err, err


def test_train_says_a_file_has_no_column_for_the_sensor_not_a_blank_one(tmp_path, caplog):
    from convert.data import read_series
    days = _days(tmp_path / "days")
    cfg = from_dict(_cfg(tmp_path, days, sources=[{"type": "replay", "path": str(days), **FORMAT}]),
                    base_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        read_series(cfg, cfg.sources)
    said = [r.getMessage() for r in caplog.records if "never observed" in r.getMessage()]
    assert len(said) == 2, said
    assert said[0].startswith("2026-11-02.csv: sensor bearing_temp never observed in it (no column for bearing_temp "
                              "in its header 'datetime', 'Accelerometer1RMS', 'Current')"), said
    assert not any("blank" in line for line in said), said


def test_a_column_renamed_between_files_is_told_how_to_read_it(tmp_path):
    # The historian renamed `Volume Flow RateRMS` to `FlowRate_RMS` on the last day; mapping both names to `flow` is
    # refused (two columns of one sensor: the second reading would replace the first). The refusal said only "each
    # sensor is one column's"; it now says what to do when the two names are one column renamed.
    import subprocess
    import sys

    import yaml
    days = _days(tmp_path / "days")
    cfg = _cfg(tmp_path, days, sources=[{"type": "replay", "path": str(days), "separator": ";",
                                         "time_column": "datetime",
                                         "columns": {**COLUMNS, "Current": "flow", "Current_A": "flow"}}])
    cfg["sensors"] = ["accel1", "flow", "bearing_temp"]
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert ("sources[0].columns.Current_A: sensor 'flow' is read from column 'Current' already: each sensor is one "
            "column's (a column renamed between files: give the files with the old name the new one in their header, "
            "and map the new name)") in res.stderr, res.stderr
