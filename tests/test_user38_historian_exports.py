"""A plant historian's exports trained on (user38): what `stad-convert train` said, refused or trained on unsaid.

Each test builds a small historian-style CSV in tmp_path and reads it with the converter's own reader
(convert.data.read_series: the agent's replay source and aligner, no torch) or the real CLI's main in this process
(a refusal comes before torch is imported). Each failed on 740108ec:

- a file of decimal commas under a units line was refused naming the units line ("read past, nothing to do") as its
  first rejected line, not the numbers;
- a sensor written by exception (a value only when it changed) trained missing on most ticks, exit 0;
- a status word (`Shutdown`) in a cell was rejected and the reading before it carried on, a stopped plant trained as
  its last running values;
- local time without an offset across the end of daylight saving time was said only as "its time steps back";
- a weekly recording split by time was said as "each day's 21:36–22:48";
- a weekend with the plant stopped (every value at 0) was trained on as normal running unsaid;
- a tag renamed mid-file (two half-empty columns) was said only as the sensor's missing share.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import yaml

from agent.config import from_dict
from conftest import convert_in_process
from convert.data import read_series, training_sources
from convert.show import data_lines

T0 = 1_792_108_800          # 2026-10-16T00:00:00Z, a Friday
STEPS = 8


def config(folder: Path, sensors=("a", "b", "c"), carry_s: float = 120, **source) -> dict:
    return {"tick_s": 60, "sensors": list(sensors), "topology": "none", "sinks": [],
            "window": {"steps": STEPS, "carry_forward_s": carry_s}, "warmup": {"ticks": 40},
            "sources": [{"type": "replay", "path": str(folder), "separator": ";", "time_column": "Timestamp",
                         **source}]}


def series_of(folder: Path, **kw):
    cfg = from_dict(config(folder, **kw), base_dir=str(folder))
    return read_series(cfg, training_sources(cfg))


def waves(n: int, seed: int = 38) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i = np.arange(n)[:, None]
    return np.array([10.0, 50.0, 3.0]) + np.sin(i * np.array([0.3, 0.17, 0.11])) + 0.05 * rng.standard_normal((n, 3))


def write(folder: Path, name: str, rows: list[str], header: str = "Timestamp;a;b;c") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def iso(ts: float) -> str:
    return np.datetime_as_string(np.datetime64(int(ts), "s")).replace("T", " ")


def test_decimal_commas_under_a_units_line_refused_naming_the_numbers(capsys, tmp_path):
    values = waves(300)
    rows = ["(local);g;A;bar"] + [f"{iso(T0 + 60 * k)};" + ";".join(f"{v:.3f}".replace(".", ",") for v in row)
                                  for k, row in enumerate(values)]
    write(tmp_path / "hist", "week.csv", rows)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config(tmp_path / "hist")))
    proc = convert_in_process(capsys, "train", "-c", str(tmp_path / "train.yaml"), "-o", str(tmp_path / "b"),
                              "--no-export", "--quiet")
    assert proc.returncode == 2, proc.stderr
    said = proc.stderr.strip().splitlines()[-1]
    assert "week.csv: none of its rows could be read (300 bad number, 1 bad time; the first: week.csv:3: bad number" \
           in said, said
    assert "(a decimal comma? write a point)" in said, said


def report_by_exception(values: np.ndarray, deadband: float) -> list[str]:
    """Rows as a historian's recorded export writes them: a cell only when its value moved past the deadband."""
    last = [None] * values.shape[1]
    rows = []
    for k, row in enumerate(values):
        cells = []
        for j, v in enumerate(row):
            if last[j] is not None and abs(v - last[j]) < deadband:
                cells.append("")
            else:
                last[j] = v
                cells.append(f"{v:.3f}")
        if any(cells):
            rows.append(f"{iso(T0 + 60 * k)};" + ";".join(cells))
    return rows


def sparse_values(n: int) -> np.ndarray:
    """a and b move every minute; c is a temperature that steps by 0.5 every 20 minutes."""
    values = waves(n)
    values[:, 2] = 40.0 + 0.5 * ((np.arange(n) // 20) % 6)
    return values


def test_a_sensor_written_by_exception_refuses_training_with_the_carry_to_set(capsys, tmp_path):
    write(tmp_path / "hist", "week.csv", report_by_exception(sparse_values(900), deadband=0.01))
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config(tmp_path / "hist")))
    proc = convert_in_process(capsys, "train", "-c", str(tmp_path / "train.yaml"), "-o", str(tmp_path / "b"),
                              "--no-export", "--quiet", "--epochs", "1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    said = proc.stderr.strip().splitlines()[-1]
    assert "further apart than window.carry_forward_s (120 s) holds one: c on" in said, said
    assert "its readings 20 min apart (median" in said, said
    assert "report by exception" in said and "Set window.carry_forward_s: 1200 in this training config" in said, said


def test_the_carry_it_names_reads_such_an_export_whole(tmp_path):
    write(tmp_path / "hist", "week.csv", report_by_exception(sparse_values(900), deadband=0.01))
    series = series_of(tmp_path / "hist", carry_s=1200)
    assert series.missing.mean(axis=0).max() == 0.0


def test_a_status_word_ends_the_carry_of_the_reading_before_it(tmp_path, caplog):
    values = waves(400)
    rows = report_by_exception(values, deadband=0.0)
    # the plant stops at minute 200: the historian writes Shutdown in every tag, then nothing until minute 300
    rows = rows[:200] + [f"{iso(T0 + 60 * 200)};Shutdown;Shutdown;Shutdown"] + rows[300:]
    write(tmp_path / "hist", "week.csv", rows)
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series = series_of(tmp_path / "hist", carry_s=7200)
    at = {int(t): i for i, t in enumerate(series.ts)}
    carried = [k for k in range(200, 300) if T0 + 60 * k in at and not series.missing[at[T0 + 60 * k]].all()]
    assert carried == [], "the last running values were carried through the stop"
    assert T0 + 60 * 199 in at and T0 + 60 * 300 in at          # (the stop: a gap between two pieces)
    assert "week.csv: 3 status word(s) in place of readings (of a, b, c)" in caplog.text, caplog.text


def local_stamps(n: int, start: str, stamps_s: list[int]) -> list[str]:
    return [f"{np.datetime_as_string(np.datetime64(start) + np.timedelta64(s, 's')).replace('T', ' ')}" for s in
            stamps_s[:n]]


def test_local_time_across_the_end_of_summer_time_is_said(tmp_path, caplog):
    # Europe/Berlin, 25 Oct 2026: 00:00 … 02:59 CEST, then 02:00 … CET again; written without an offset
    wall = [60 * k for k in range(180)] + [7200 + 60 * k for k in range(240)]
    values = waves(len(wall))
    stamps = local_stamps(len(wall), "2026-10-25T00:00:00", wall)
    write(tmp_path / "hist", "week.csv",
          [f"{t};" + ";".join(f"{v:.3f}" for v in row) for t, row in zip(stamps, values)])
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series_of(tmp_path / "hist")
    assert ("week.csv: its clock steps back an hour: the end of daylight saving time, at week.csv:182 (Sun "
            "2026-10-25 02:59:00 → 02:00:00) — its times are local, written without a UTC offset, and read as "
            "UTC") in caplog.text, caplog.text
    assert "Export UTC, or stamps with their offset" in caplog.text


def test_utc_stamps_say_no_clock_change(tmp_path, caplog):
    values = waves(600)
    write(tmp_path / "hist", "week.csv", [f"{iso(T0 + 60 * k)};" + ";".join(f"{v:.3f}" for v in row)
                                          for k, row in enumerate(values)])
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series = series_of(tmp_path / "hist")
    assert "daylight saving" not in caplog.text and "renamed" not in caplog.text
    assert "status word" not in caplog.text and not series.off_levels


def test_a_week_split_by_time_is_said_by_its_days(tmp_path):
    n = 7 * 24 * 60 // 10          # a week at 10-min ticks
    values = waves(n)
    write(tmp_path / "hist", "week.csv", [f"{iso(T0 + 600 * k)};" + ";".join(f"{v:.3f}" for v in row)
                                          for k, row in enumerate(values)])
    cfg = from_dict({**config(tmp_path / "hist"), "tick_s": 600, "window": {"steps": STEPS, "carry_forward_s": 600}},
                    base_dir=str(tmp_path))
    series = read_series(cfg, training_sources(cfg))
    said = [line for line in data_lines({"split": series.split.as_dict(), "segments": series.segments,
                                         "sources": [{"type": "replay", "path": "hist"}]}, 600.0)
            if "split by time" in line]
    assert said == ["  split by time: validation is the recording's 70–85 % — of week.csv Tue 2026-10-20 21:40 to "
                    "Wed 2026-10-21 22:50 UTC, and test to Fri 2026-10-23 00:00: the threshold never saw its other "
                    "days — with 4 recordings of a day or more, --split auto validates and tests on whole recordings"]


def test_a_stopped_weekend_is_said_with_its_ticks_and_parts(tmp_path, caplog):
    n = 7 * 24 * 6                  # a week at 10-min ticks; stopped from Saturday 06:00 to Monday 05:00
    usual = np.array([10.0, 50.0, 3.0])
    values = usual + 0.1 * (waves(n) - usual)       # a pump's running values move by a few per cent
    stop = slice((1 * 24 + 6) * 6, (3 * 24 + 5) * 6)
    values[stop] = [0.0, 0.0, 0.0]
    write(tmp_path / "hist", "week.csv", [f"{iso(T0 + 600 * k)};" + ";".join(f"{v:.3f}" for v in row)
                                          for k, row in enumerate(values)])
    cfg = from_dict({**config(tmp_path / "hist"), "tick_s": 600, "window": {"steps": STEPS, "carry_forward_s": 600}},
                    base_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series = read_series(cfg, training_sources(cfg))
    assert [(s["ticks"], s["stopped"], s["parts"]) for s in series.off_levels] == [(282, True, {"train": 282})]
    assert json.loads(json.dumps(series.off_levels)) == series.off_levels          # the manifest's data.off_levels
    assert ("week.csv: 282 ticks from 2026-10-17T06:00:00.000Z to 2026-10-19T04:50:00.000Z (282 train) with a, b, c "
            "off their usual levels (over 8 robust deviations, or near 0) — the plant stopped? trained on as normal "
            "running") in caplog.text, caplog.text
    lines = data_lines({"split": series.split.as_dict(), "segments": series.segments, "off_levels": series.off_levels,
                        "sources": [{"type": "replay", "path": "hist"}]}, 600.0)
    assert any(line.startswith("  off its usual levels: week.csv: 282 ticks") for line in lines), lines


def test_a_tag_renamed_mid_file_is_said_with_the_new_column(tmp_path, caplog):
    values = waves(600)
    rows = [f"{iso(T0 + 60 * k)};{row[0]:.3f};{row[1]:.3f};" + (f"{row[2]:.3f};" if k < 400 else f";{row[2]:.3f}")
            for k, row in enumerate(values)]
    write(tmp_path / "hist", "week.csv", rows, header="Timestamp;A;B;C;C_new")
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series_of(tmp_path / "hist", columns={"A": "a", "B": "b", "C": "c"})
    assert (f"week.csv: sensor c (column 'C') has no reading after {iso(T0 + 60 * 399).replace(' ', 'T')}.000Z, where "
            "column 'C_new', read for no sensor, has its first — a tag renamed part way through the export? c is "
            "trained as missing over the last 33 % of the file: split the file at the rename and swap the two names "
            "in the later part's header ('C' ↔ 'C_new': the old column is blank there") in caplog.text, caplog.text


def test_a_column_added_mid_file_is_no_rename(tmp_path, caplog):
    values = waves(600)
    rows = [f"{iso(T0 + 60 * k)};{row[0]:.3f};{row[1]:.3f};{row[2]:.3f};" + (f"{k}" if k >= 400 else "")
            for k, row in enumerate(values)]
    write(tmp_path / "hist", "week.csv", rows, header="Timestamp;A;B;C;D")
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series_of(tmp_path / "hist", columns={"A": "a", "B": "b", "C": "c"})
    assert "renamed" not in caplog.text, caplog.text


def long_rows(n: int) -> list[str]:
    return [f"{tag};{iso(T0 + 60 * k)};{v:.3f}" for k in range(n)
            for tag, v in (("FT105.PV", 120 + k % 7), ("M101_AMPS.PV", 2 + 0.1 * (k % 3)))]


def test_a_long_export_is_refused_naming_its_tags_and_the_layout_to_write(capsys, tmp_path):
    write(tmp_path / "hist", "export.csv", long_rows(300), header="Tagname;Timestamp;Value")
    for n, columns in enumerate((None, {"Value": "a"})):           # as read, and with check-config's advice followed
        cfg = config(tmp_path / "hist", sensors=("a",), **({"columns": columns} if columns else {}))
        (tmp_path / f"train{n}.yaml").write_text(yaml.safe_dump(cfg))
        proc = convert_in_process(capsys, "train", "-c", str(tmp_path / f"train{n}.yaml"), "-o",
                                  str(tmp_path / f"b{n}"), "--no-export", "--quiet", "--epochs", "1")
        assert proc.returncode == 2, proc.stderr[-2000:]
        said = proc.stderr.strip().splitlines()[-1]
        assert ("export.csv: a long export — one row per tag and time (header 'Tagname', 'Timestamp', 'Value'; column "
                "'Tagname' names 'FT105.PV', 'M101_AMPS.PV')") in said, said
        assert "Export it wide (one column per tag" in said, said


def test_a_wide_export_with_one_name_per_row_is_no_long_export(tmp_path):
    values = waves(300)
    write(tmp_path / "hist", "wide.csv", [f"{iso(T0 + 60 * k)};PS3;" + ";".join(f"{v:.3f}" for v in row)
                                          for k, row in enumerate(values)], header="Timestamp;Name;a;b;c")
    assert len(series_of(tmp_path / "hist")) == 300


def test_one_file_per_tag_is_refused_naming_two_of_them(capsys, tmp_path):
    values = waves(300)
    for j, tag in enumerate(("A", "B", "C")):
        write(tmp_path / "hist", f"{tag}.csv", [f"{iso(T0 + 60 * k)};{row[j]:.3f}" for k, row in enumerate(values)],
              header=f"Timestamp;{tag}")
    cfg = config(tmp_path / "hist", columns={"A": "a", "B": "b", "C": "c"})
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    proc = convert_in_process(capsys, "train", "-c", str(tmp_path / "train.yaml"), "-o", str(tmp_path / "b"),
                              "--no-export", "--quiet", "--epochs", "1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    said = proc.stderr.strip().splitlines()[-1]
    assert said.endswith("A.csv and B.csv cover the same time (17940 s) with no sensor in common (a in one, b in the "
                         "other): one file per tag? The replay reads each file of a folder as a recording of its own, "
                         "so the model would never see those sensors at one tick. Join them into one file with a "
                         "column per tag and a row per time (or export the tags together), then train"), said
