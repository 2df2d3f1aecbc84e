"""A replay's gap between two recordings is no outage: said once on the log, counted, no fault event (user30).

user29 restarted an agent on the next day's recording: it told a `source` fault ("every sensor replay carries
fell silent together") and its fault_end (`cleared after 85251s`) at the same instant — a control room paged for
how the recordings were made, found after the fact. A folder of daily files did the same inside one run. A silence
inside one recording is what the recording shows, and is still told as a fault. Real agents on real files; the
fault events read from the jsonl sink.
"""
from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import agent_env

GAP_LINE = "a gap between recordings, not a fault"


def day(date: str, start_min: int, minutes: int, skip: range = range(0)) -> str:
    """A recording of `minutes` 1-s rows from `date` 07:start_min, the minutes in `skip` left out (a silence)."""
    rows = []
    for s in range(minutes * 60):
        m = start_min + s // 60
        if s // 60 in skip:
            continue
        rows.append(f"{date} {7 + m // 60:02d}:{m % 60:02d}:{s % 60:02d};{2 + (s * 7) % 11 / 10:.2f};"
                    f"{230 + (s * 3) % 7 / 10:.2f};{125 + (s * 5) % 13 / 10:.2f}")
    return "datetime;Current;Voltage;Flow\n" + "\n".join(rows) + "\n"


def config(path: str) -> dict:
    return {"tick_s": 1, "sensors": ["current", "voltage", "flow"], "warmup": {"ticks": 60},
            "window": {"carry_forward_s": 2}, "scoring": {"chain": ["numpy"]}, "state_dir": "st",
            "sinks": [{"type": "jsonl", "path": "st/events.jsonl"}],
            "sources": [{"type": "replay", "path": path, "separator": ";", "time_column": "datetime",
                         "columns": {"Current": "current", "Voltage": "voltage", "Flow": "flow"}}]}


def run(tmp_path, path: str) -> subprocess.CompletedProcess:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(config(path)))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "a.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=agent_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def fault_events(tmp_path) -> list[dict]:
    lines = (tmp_path / "st" / "events.jsonl").read_text().splitlines()
    return [ev for ev in map(json.loads, lines) if ev.get("event") in ("fault", "fault_end")]


def test_a_folder_of_daily_files_tells_no_fault_between_them_and_one_inside_a_recording(tmp_path):
    (tmp_path / "days").mkdir()
    # day 1: 10 minutes with 3 silent ones in the middle (the device was off: a fault); day 2: the next day
    (tmp_path / "days" / "2026-11-06.csv").write_text(day("2026-11-06", 0, 10, skip=range(5, 8)))
    (tmp_path / "days" / "2026-11-07.csv").write_text(day("2026-11-07", 0, 6))
    done = run(tmp_path, "days")
    faults = fault_events(tmp_path)
    assert [(ev["event"], ev["kind"]) for ev in faults] == [("fault", "source"), ("fault_end", "source")], faults
    assert faults[0]["start"].startswith("2026-11-06T07:05:0"), faults[0]     # the silence inside day 1
    assert faults[1]["ts"].startswith("2026-11-06T07:08:00"), faults[1]
    said = [line for line in done.stderr.splitlines() if GAP_LINE in line]
    assert len(said) == 1, done.stderr[-3000:]
    assert ("every sensor silent between 2026-11-06.csv (its last stamp 2026-11-06T07:09:59Z) and the recording "
            "2026-11-07.csv (its first stamp 2026-11-07T07:00:00Z)") in said[0], said
    summary = done.stderr.strip().splitlines()[-1]
    assert "sensor faults 1 (source: 1)" in summary, summary
    assert "gaps between recordings passed (no fault event): 1;" in summary, summary


def test_the_next_days_recording_after_a_restart_tells_no_fault(tmp_path):
    (tmp_path / "2026-11-06.csv").write_text(day("2026-11-06", 0, 6))
    (tmp_path / "2026-11-07.csv").write_text(day("2026-11-07", 0, 6))
    first = run(tmp_path, "2026-11-06.csv")
    assert GAP_LINE not in first.stderr
    second = run(tmp_path, "2026-11-07.csv")
    assert "first new data after a gap" in second.stderr, second.stderr[-3000:]     # restored, a day later
    assert fault_events(tmp_path) == []
    said = [line for line in second.stderr.splitlines() if GAP_LINE in line]
    assert len(said) == 1 and "between the state this run resumed from and the recording 2026-11-07.csv" in said[0], \
        second.stderr[-3000:]
    summary = second.stderr.strip().splitlines()[-1]
    assert "sensor faults 0 (none)" in summary and "gaps between recordings passed (no fault event): 1;" in summary, \
        summary
