"""A CSV header ending in a separator (`timestamp,value,` — a spreadsheet's export) feeds a single-series file's one
value column to a single sensor, as `timestamp,value` does (review32).

A replay without `columns` maps a single-series file's one other column to the config's single sensor (NAB's
`timestamp,value`). The blank name after the last separator counted as a second column, so the file mapped nothing:
every file rejected (`no sensor columns — none of ['timestamp', 'value', ''] maps to a sensor`), while check-config
said the config was fine. qa37 had already taken a blank name for none when it named the header's other columns
(`ReplayConfig.other_columns`); the mapping now does too. A real replay source reading real files.
"""
from __future__ import annotations

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
