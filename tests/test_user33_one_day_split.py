"""Train on one recorded day says which hours validated and tested it (user33: a day of MQTT traffic, time split
70/15/15, trained and verified with no word that the threshold saw 16:48–20:24 alone; docs/converter.md said so,
`train` and `inspect` did not).

Real parts: a day-long CSV read by the converter's own reader (convert.data.read_series), its split and segments."""
from __future__ import annotations

from agent.config import from_dict
from convert.data import read_series, training_sources
from convert.show import data_lines


def lines_for(tmp_path, days: int) -> list[str]:
    rec = tmp_path / "rec"
    rec.mkdir()
    for d in range(days):
        rows = [f"2026-11-{23 + d}T{i * 30 // 3600:02d}:{i * 30 % 3600 // 60:02d}:{i * 30 % 60:02d}Z,{100 + i % 7},"
                f"{3 + i % 5}" for i in range(2880)]
        (rec / f"2026-11-{23 + d}.csv").write_text("timestamp,a,b\n" + "\n".join(rows) + "\n")
    cfg = from_dict({"tick_s": 30, "sensors": ["a", "b"], "window": {"steps": 8}, "warmup": {"ticks": 40},
                     "sinks": [], "sources": [{"type": "replay", "path": str(rec)}]}, base_dir=str(rec))
    series = read_series(cfg, training_sources(cfg))
    return data_lines({"split": series.split.as_dict(), "sources": [{"type": "replay", "path": str(rec)}],
                       "segments": series.segments}, 30.0)


def test_one_recorded_day_says_the_hours_its_threshold_saw(tmp_path):
    said = [line for line in lines_for(tmp_path, 1) if "split by time" in line]
    assert said == ["  split by time: validation is this day's 16:48–20:24 UTC and test 20:24–00:00 (of "
                    "2026-11-23.csv): the threshold never saw the other hours of the day — with 4 recordings of a "
                    "day or more, --split auto validates and tests on whole days"]


def test_two_days_say_each_days_hours(tmp_path):
    said = [line for line in lines_for(tmp_path, 2) if "split by time" in line]
    assert len(said) == 1 and said[0].startswith("  split by time: validation is each day's 16:48–20:24 UTC")
