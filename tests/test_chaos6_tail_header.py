"""`warmup.replay`'s tail read takes its CSV columns from the header in force at the byte it seeks to (chaos5's
"seen, left"; the chaos6 round). Two recordings joined (`cat a.csv b.csv`), the second with its columns in another
order, and the whole longer than `replay_max_ticks`: a whole read reads the rows after the second header by it
(chaos5), but the tail read took the file's first header from its top and read the tail's rows by it — sensor a
warmed up on b's readings and b on a's, unsaid. Real files; the warm-up's ticks against a whole read's."""
from __future__ import annotations

import re

import numpy as np

from agent.config import from_dict
from agent.records import Rejects
from agent.sources.replay import warmup_source
from agent.warmup import read_replay
from agent.window import Aligner

T0 = 1.7e9
LIMIT = 300


def config(tmp_path, recording):
    live = tmp_path / "live.csv"
    live.write_text("timestamp,a,b\n" + "".join(f"{T0 + 10**7 + i:.0f},1,2\n" for i in range(5)))
    return from_dict({"sensors": ["a", "b"], "tick_s": 1.0, "topology": "none",
                      "sources": [{"type": "replay", "path": str(live)}], "window": {"steps": 16, "carry_forward_s": 3},
                      "warmup": {"ticks": 200, "replay": str(recording), "replay_max_ticks": LIMIT},
                      "sinks": [], "state_dir": str(tmp_path / "state")}, base_dir=str(tmp_path))


def readings(n: int, seed: int) -> list[tuple[float, str, str]]:
    """`n` stamps 1 to 5 s apart and their two cells, now and then one empty (a missing reading)."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.choice([1, 1, 1, 1, 2, 5], n))
    a, b = 10 + rng.standard_normal(n), 5 + rng.standard_normal(n)
    blank = rng.random((n, 2)) < 0.05
    blank[:, 1] &= ~blank[:, 0]
    return [(float(t), "" if blank[i, 0] else f"{a[i]:.4f}", "" if blank[i, 1] else f"{b[i]:.4f}")
            for i, t in enumerate(ts)]


def warmup_beside_whole_read(cfg) -> tuple[str, Rejects, Rejects]:
    """The warm-up's read (from the file's tail) and a whole read through one aligner: the same newest LIMIT ticks,
    values and all (asserted); the warm-up's line, its rejects and the whole read's."""
    whole_rejects = Rejects()
    source = warmup_source(cfg.resolve(cfg.warmup.replay), cfg.warmup_reader()[0], cfg.sensor_names(), whole_rejects,
                           base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    (_, records), = source.recordings()
    expected = Aligner.for_agent(cfg, whole_rejects).align_all(records)[-LIMIT:]
    rejects = Rejects()
    rows, line = read_replay(cfg, rejects)
    assert len(rows) == len(expected) == LIMIT
    assert rows.ts.tolist() == [r.ts for r in expected]
    np.testing.assert_array_equal(rows.values, np.array([r.values for r in expected]))
    np.testing.assert_array_equal(rows.missing, np.array([r.missing for r in expected]))
    np.testing.assert_array_equal(rows.carried, np.array([r.carried for r in expected]))
    return line, rejects, whole_rejects


def sought_from(line: str) -> int:
    found = re.search(r"its first ([\d,]+) bytes", line)
    assert found, line
    return int(found.group(1).replace(",", ""))


def joined_recording(tmp_path, again: str, first: int = 8_000, n: int = 20_000):
    """`first` rows under `timestamp,a,b`, then the header `again` and the rest in its columns' order."""
    rows = readings(n, seed=6)
    lines = ["timestamp,a,b"] + [f"{t:.0f},{a},{b}" for t, a, b in rows[:first]]
    cols = [c.strip().removeprefix("\ufeff") for c in again.split(",")]
    for t, a, b in rows[first:]:
        cells = {"timestamp": f"{t:.0f}", "a": a, "b": b, "note": "x"}
        lines.append(",".join(cells[c] for c in cols))
    lines.insert(first + 1, again)
    recording = tmp_path / "joined.csv"
    recording.write_text("\n".join(lines) + "\n")
    return recording, recording.read_bytes().index(again.encode())


def test_a_header_again_before_the_tail_reads_the_tail_by_its_columns(tmp_path):
    recording, again_at = joined_recording(tmp_path, "timestamp,b,a")
    cfg = config(tmp_path, recording)
    line, rejects, whole_rejects = warmup_beside_whole_read(cfg)       # the same ticks, values and all
    assert sought_from(line) > again_at         # the tail starts after the second header: it was not read in it
    assert rejects.total == 0 and whole_rejects.total == 0


def test_a_header_again_with_a_bom_and_a_column_more_before_the_tail(tmp_path):
    recording, again_at = joined_recording(tmp_path, "\ufefftimestamp,note,b,a")
    cfg = config(tmp_path, recording)
    line, rejects, _ = warmup_beside_whole_read(cfg)
    assert sought_from(line) > again_at and rejects.total == 0


def test_a_file_with_one_header_is_read_from_its_tail_as_before(tmp_path):
    recording, _ = joined_recording(tmp_path, "timestamp,a,b")     # the same header again: passed over
    cfg = config(tmp_path, recording)
    line, rejects, _ = warmup_beside_whole_read(cfg)
    assert "sought past" in line and rejects.total == 0
