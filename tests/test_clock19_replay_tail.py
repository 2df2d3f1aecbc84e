"""A warm-up recording much longer than `warmup.replay_max_ticks`, in one file, is read from its tail:
the ticks the warm-up keeps are exactly those a whole read keeps (ts, values, missing, carried), and
the rejects of the part never read are not counted."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from agent.config import from_dict
from agent.records import Rejects
from agent.sources.replay import warmup_source
from agent.warmup import TAIL_MARGIN, TAIL_SAMPLE_BYTES, read_replay, tail_lead
from agent.window import Aligner

T0 = 1.7e9
LIMIT = 300


def config(tmp_path: Path, recording: Path, separator: str = ",") -> object:
    live = tmp_path / "live.csv"
    live.write_text("timestamp,a,b\n" + "".join(f"{T0 + 10**7 + i:.0f},1,2\n" for i in range(5)))
    conf = {"sensors": ["a", "b"], "tick_s": 1.0, "topology": "none",
            "sources": [{"type": "replay", "path": str(live), "separator": separator}],
            "window": {"steps": 16, "carry_forward_s": 3},
            "warmup": {"ticks": 200, "replay": str(recording), "replay_max_ticks": LIMIT},
            "alerts": {"min_duration_ticks": 2, "cooldown_ticks": 0}, "sinks": [], "state_dir": str(tmp_path / "state")}
    if separator != ",":
        conf["sources"][0]["time_column"] = "datetime"
        conf["sources"][0]["time_format"] = "%Y-%m-%d %H:%M:%S"
    return from_dict(conf, base_dir=str(tmp_path))


def whole_read(cfg) -> tuple[list, Rejects]:
    """The newest LIMIT ticks of every record of the recording through one aligner: the whole read."""
    rejects = Rejects()
    source = warmup_source(cfg.resolve(cfg.warmup.replay), cfg.warmup_reader()[0], cfg.sensor_names(), rejects,
                           base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    (name, records), = source.recordings()
    return Aligner.for_agent(cfg, rejects).align_all(records)[-LIMIT:], rejects


def assert_same_ticks(rows, expected) -> None:
    assert len(rows) == len(expected) == LIMIT
    assert rows.ts.tolist() == [r.ts for r in expected]
    np.testing.assert_array_equal(rows.values, np.array([r.values for r in expected]))
    np.testing.assert_array_equal(rows.missing, np.array([r.missing for r in expected]))
    np.testing.assert_array_equal(rows.carried, np.array([r.carried for r in expected]))


def warmup_beside_whole_read(cfg) -> tuple[str, Rejects, Rejects]:
    """The warm-up's read of the recording (from its tail, when long) and the whole read: the same ticks
    (asserted); the warm-up's line and rejects, and the whole read's rejects."""
    expected, whole_rejects = whole_read(cfg)
    rejects = Rejects()
    kept, line = read_replay(cfg, rejects)
    assert_same_ticks(kept, expected)
    return line, rejects, whole_rejects


def readings(n: int, seed: int, steps=(1, 1, 1, 1, 2, 5)) -> list[tuple[float, str, str]]:
    """`n` stamps with gaps (1 to 5 s, so some ticks carried, some missing) and their two cells,
    an empty cell now and then (a missing reading)."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.choice(steps, n))
    a, b = 10 + rng.standard_normal(n), 5 + rng.standard_normal(n)
    blank = rng.random((n, 2)) < 0.05
    blank[:, 1] &= ~blank[:, 0]                         # never both: a row with no reading is a reject
    return [(float(t), "" if blank[i, 0] else f"{a[i]:.4f}", "" if blank[i, 1] else f"{b[i]:.4f}")
            for i, t in enumerate(ts)]


def sought_from(line: str) -> int:
    found = re.search(r"\(from byte ([\d,]+)\)|its first ([\d,]+) bytes", line)
    assert found, line
    return int((found.group(1) or found.group(2)).replace(",", ""))


def test_a_long_csv_is_read_from_its_tail_and_keeps_the_ticks_a_whole_read_keeps(tmp_path):
    recording = tmp_path / "long.csv"
    rows = readings(20_000, seed=1)
    lines = ["timestamp,a,b"] + [f"{t:.0f},{a},{b}" for t, a, b in rows]
    lines[100] = "not a time,1,2"                       # early: in the part never read
    lines[-50] = f"{rows[-50][0]:.0f},1,oops"           # late: read, counted once
    recording.write_text("\n".join(lines) + "\n")
    cfg = config(tmp_path, recording)
    line, rejects, whole_rejects = warmup_beside_whole_read(cfg)
    assert whole_rejects.counts["bad time"] == 1 and whole_rejects.counts["bad number"] == 1
    start = sought_from(line)
    assert 0 < start < recording.stat().st_size and recording.read_bytes()[start - 1:start] == b"\n"
    assert "not read, sought past to the file's tail (long.csv: its first" in line
    assert "their ticks and rejects are not counted" in line
    assert rejects.as_dict() == {"bad number": 1}        # the skipped line's bad time was never read
    where, _ = rejects.first["bad number"]
    assert where.startswith("long.csv (from byte ")     # the line counted from the byte sought to


def test_lines_much_longer_before_the_tail_make_the_first_guess_short_and_it_reaches_further_back(tmp_path):
    recording = tmp_path / "varied.csv"
    rows = readings(12_000, seed=2, steps=(1,))         # a line a tick, so the guess's lines are its ticks
    pad = "x" * 400                                      # a long note on every row but the last 1,000
    lines = ["timestamp,a,b,note"] + [f"{t:.0f},{a},{b},{pad if i < len(rows) - 1000 else ''}"
                                      for i, (t, a, b) in enumerate(rows)]
    recording.write_text("\n".join(lines) + "\n")
    cfg = config(tmp_path, recording)
    line, rejects, _ = warmup_beside_whole_read(cfg)
    assert rejects.total == 0
    size = recording.stat().st_size
    sample = recording.read_bytes()[-TAIL_SAMPLE_BYTES:]
    first_guess = len(sample) / sample.count(b"\n") * (LIMIT + tail_lead(cfg)) * TAIL_MARGIN
    assert size - sought_from(line) > 1.5 * first_guess   # twice the guess back (less the line it started in)


def test_a_skab_like_csv_with_a_header_and_semicolons_is_read_from_its_tail(tmp_path):
    import time
    recording = tmp_path / "skab.csv"
    rows = readings(15_000, seed=3)
    body = [f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t))};{a};{b};0;0" for t, a, b in rows]
    # SKAB's mixed line ends: CRLF in the first half, LF after
    text = "\r\n".join(["datetime;a;b;anomaly;changepoint"] + body[:7_500]) + "\r\n" + "\n".join(body[7_500:]) + "\n"
    recording.write_bytes(text.encode())
    cfg = config(tmp_path, recording, separator=";")
    line, rejects, _ = warmup_beside_whole_read(cfg)
    assert rejects.total == 0 and "sought past" in line


def test_a_jsonl_recording_with_a_line_per_sensor_is_read_from_its_tail(tmp_path):
    recording = tmp_path / "long.jsonl"
    out = []
    for t, a, b in readings(10_000, seed=4):         # two lines a tick: the first guess (a line a tick) is short
        out += [json.dumps({"ts": t, "sensor": s, "value": float(v)}) for s, v in (("a", a), ("b", b)) if v]
    recording.write_text("\n".join(out) + "\n")
    cfg = config(tmp_path, recording)
    line, rejects, _ = warmup_beside_whole_read(cfg)
    assert rejects.total == 0 and "sought past" in line


def test_a_recording_out_of_time_order_in_its_tail_is_read_whole(tmp_path):
    recording = tmp_path / "stepped.csv"
    rows = readings(12_000, seed=5)
    lines = ["timestamp,a,b"] + [f"{t:.0f},{a},{b}" for t, a, b in rows]
    lines[-400], lines[-390] = lines[-390], lines[-400]   # two rows swapped: a late record in the tail
    recording.write_text("\n".join(lines) + "\n")
    cfg = config(tmp_path, recording)
    line, rejects, whole_rejects = warmup_beside_whole_read(cfg)
    assert "sought past" not in line and f"{len(rows):,}" not in line
    assert rejects.as_dict() == whole_rejects.as_dict()   # counted once: the try from the tail was dropped
