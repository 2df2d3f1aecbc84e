"""A CSV recording whose header comes again mid-file (two recordings joined: `cat a.csv b.csv > all.csv`), from the
chaos5 round's records fuzz (sensors that change set mid-stream). On the code before, the second header was one
`bad time` reject (`another layout: set the source's time_format`) and every row after it was read by the first
header's columns: with the columns in another order, sensor a took c's readings, unsaid, and the agent alerted on
the mixed-up data (2 alerts where the same data under one header gives 1)."""
from __future__ import annotations

import logging
import math

from conftest import bench_module

from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource

T0 = 1_767_600_000


def reading(k: int, sensor: str) -> float:
    return round({"a": math.sin(k / 5), "b": math.cos(k / 7), "c": 10 + 0.1 * math.sin(k / 3)}[sensor], 4)


def block(columns: list[str], ks: range, header: bool = True) -> list[str]:
    rows = [",".join(["timestamp", *columns])] if header else []
    return rows + [",".join([str(T0 + k), *(str(reading(k, c)) for c in columns)]) for k in ks]


def replay(path, sensors=("a", "b", "c")) -> tuple[list, Rejects]:
    rejects = Rejects()
    return list(ReplaySource(ReplayConfig(path=str(path)), list(sensors), rejects).records()), rejects


def test_a_header_again_with_its_columns_reordered_reads_the_rows_after_it_by_it(tmp_path, caplog):
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(block(["a", "b", "c"], range(0, 20)) + block(["c", "b", "a"], range(20, 40))) + "\n")
    with caplog.at_level(logging.WARNING, logger="stad.replay"):
        recs, rejects = replay(path)
    assert [r.ts for r in recs] == [T0 + k for k in range(40)]
    for k, rec in enumerate(recs):
        assert rec.values == {s: reading(k, s) for s in "abc"}, rec.origin
    assert rejects.total == 0, rejects.as_dict()         # nothing lost: the header is no row of data
    said = [r.getMessage() for r in caplog.records if "header again" in r.getMessage()]
    assert said == ["joined.csv:22: the header again, with other columns ('timestamp,c,b,a'; were 'timestamp,a,b,c'): "
                    "the rows from here are read by it"]


def test_the_same_header_again_is_passed_over_and_a_header_of_fewer_sensors_reads_those(tmp_path):
    # the third file a spreadsheet's export: its header after a BOM (U+FEFF, no whitespace to strip())
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(block(["a", "b", "c"], range(0, 10)) + block(["a", "b", "c"], range(10, 20))
                              + ["\ufeff" + line for line in block(["b", "a"], range(20, 30))[:1]]
                              + block(["b", "a"], range(20, 30))[1:]) + "\n", encoding="utf-8")
    recs, rejects = replay(path)
    assert rejects.total == 0, rejects.as_dict()
    assert len(recs) == 30
    assert all(rec.values == {s: reading(k, s) for s in "ab"} for k, rec in enumerate(recs) if k >= 20)


def test_a_header_again_that_maps_no_sensor_skips_its_rows_counted_once_and_said(tmp_path, caplog):
    path = tmp_path / "joined.csv"
    # x, y, z: three columns as the first header has, so its rows were read as a, b, c on the code before
    other = ["timestamp,x,y,z"] + [f"{T0 + k},1,2,3" for k in range(10, 25)]
    path.write_text("\n".join(block(["a", "b", "c"], range(0, 10)) + other + block(["a", "b", "c"], range(25, 30)))
                    + "\n")
    with caplog.at_level(logging.WARNING, logger="stad.replay"):
        recs, rejects = replay(path)
    assert [r.ts for r in recs] == [T0 + k for k in (*range(10), *range(25, 30))]
    assert all(rec.values == {s: reading(round(rec.ts - T0), s) for s in "abc"} for rec in recs)
    assert rejects.as_dict() == {"no sensor columns": 1}
    assert rejects.first["no sensor columns"][0] == "joined.csv:12"
    said = " | ".join(r.getMessage() for r in caplog.records)
    assert "joined.csv:12: 15 row(s) after this header skipped" in said


def test_the_records_fuzz_csv_part_with_headers_again_finds_nothing(tmp_path):
    # bench/fuzz_records.py's CSV part, one seed (two agent runs as processes, a few seconds): its recording joins
    # the header again, in another column order, 1-8 rows long, and its alerts must be the clean run's.
    res = bench_module("fuzz_records").fuzz_records(41, tmp_path, ["csv"])
    assert res["problems"] == []
    assert res["sources"]["csv"]["headers_again"] >= 1
    assert res["sources"]["csv"]["alerts_clean"] >= 2
