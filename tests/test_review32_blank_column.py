"""A CSV header ending in a separator (`timestamp,value,` — a spreadsheet's export) feeds a single-series file's one
value column to a single sensor, as `timestamp,value` does (review32).

A replay without `columns` maps a single-series file's one other column to the config's single sensor (NAB's
`timestamp,value`). The blank name after the last separator counted as a second column, so the file mapped nothing:
every file rejected (`no sensor columns — none of ['timestamp', 'value', ''] maps to a sensor`), while check-config
said the config was fine. qa37 had already taken a blank name for none when it named the header's other columns
(`ReplayConfig.other_columns`); the mapping now does too. A real replay source reading real files.
"""
from __future__ import annotations

import subprocess
import sys

import yaml

from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource as Replay


def _series(tmp_path, header: str) -> ReplayConfig:
    csv = tmp_path / "machine_temp.csv"
    ending = "," if header.endswith(",") else ""
    csv.write_text(header + "\n" + "".join(f"2014-02-18 16:0{m}:00,{50 + m}.5{ending}\n" for m in range(4)))
    return ReplayConfig(path=str(csv))


def test_a_header_ending_in_a_separator_feeds_the_single_sensor(tmp_path):
    rejects = Rejects()
    recs = list(Replay(_series(tmp_path, "timestamp,value,"), ["temp"], rejects).records())
    assert [r.values for r in recs] == [{"temp": 50.5}, {"temp": 51.5}, {"temp": 52.5}, {"temp": 53.5}]
    assert rejects.as_dict() == {}


def test_two_named_columns_still_map_none_to_a_single_sensor(tmp_path):
    """Which of two columns is the sensor's only the user knows: still refused, named."""
    rejects = Rejects()
    cfg = _series(tmp_path, "timestamp,value,other")
    (tmp_path / "machine_temp.csv").write_text("timestamp,value,other\n2014-02-18 16:00:00,1,2\n")
    assert list(Replay(cfg, ["temp"], rejects).records()) == []
    assert rejects.as_dict() == {"no sensor columns": 1}


def _check(tmp_path, cfg: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                          text=True, timeout=120)


def test_check_config_notes_csv_files_whose_header_maps_no_sensor(tmp_path):
    """Without `columns`, a CSV file whose header names no sensor (nor is a single series for a single sensor) gives
    nothing: `run` rejects each such file (`no sensor columns`). check-config said ok without a word (review32);
    now a note names how many, the first, its header, and the key that maps them. A real `stad-agent check-config`."""
    data = tmp_path / "data"
    data.mkdir()
    for name, header in (("a.csv", "timestamp,temp"), ("b.csv", "timestamp,Temperature"), ("c.csv", "timestamp,t2")):
        (data / name).write_text(f"{header}\n2014-02-18 16:00:00,50.5\n")
    cfg = {"sensors": ["temp"], "sources": [{"type": "replay", "path": str(data)}], "sinks": [],
           "state_dir": str(tmp_path / "state"), "window": {"steps": 8}, "warmup": {"ticks": 40}}
    res = _check(tmp_path, cfg)
    assert res.returncode == 0, res.stderr
    # one sensor: each single-series file feeds it, whatever its column's name (NAB's `value`)
    assert "maps no sensor" not in res.stderr, res.stderr
    cfg["sensors"] = ["temp", "flow"]               # two sensors: a single series no longer maps by itself
    res = _check(tmp_path, cfg)
    assert res.returncode == 0, res.stderr
    assert (f"note: sources[0]: 2 of its 3 CSV file(s) have a header that maps no sensor (first: b.csv: "
            f"timestamp,Temperature): each is rejected whole (no sensor columns); name their columns' sensors in "
            f"`columns`") in res.stderr, res.stderr


def test_check_config_says_a_comment_line_above_the_header_is_read_as_the_header(tmp_path):
    """A file exported with a comment line above its header (`# exported 2026-12-07`): the replay reads the first line
    that is not blank as the header, so the file maps no sensor. check-config's note advised `columns`, which cannot
    map a comment (convert6's finding); it now says to remove the comment line, as the converter's refusal does. A
    real `stad-agent check-config` on real files."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("timestamp,temp,flow\n2014-02-18 16:00:00,50.5,3.0\n")
    (data / "b.csv").write_text("# exported by the historian\ntimestamp,temp,flow\n2014-02-18 16:00:00,50.5,3.0\n")
    cfg = {"sensors": ["temp", "flow"], "sources": [{"type": "replay", "path": str(data)}], "sinks": [],
           "state_dir": str(tmp_path / "state"), "window": {"steps": 8}, "warmup": {"ticks": 40}}
    res = _check(tmp_path, cfg)
    assert res.returncode == 0, res.stderr
    assert ("note: sources[0]: 1 of its 2 CSV file(s) have a header that maps no sensor (first: b.csv: # exported by "
            "the historian): each is rejected whole (no sensor columns); its first line that is not blank is read as "
            "the header: remove the comment line(s) above the header") in res.stderr, res.stderr
    assert "`columns`" not in res.stderr, res.stderr
