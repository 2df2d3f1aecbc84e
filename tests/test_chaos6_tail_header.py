"""`warmup.replay`'s tail read takes its CSV columns from the header in force at the byte it seeks to (chaos5's
"seen, left"; the chaos6 round). Two recordings joined (`cat a.csv b.csv`), the second with its columns in another
order, and the whole longer than `replay_max_ticks`: a whole read reads the rows after the second header by it
(chaos5), but the tail read took the file's first header from its top and read the tail's rows by it — sensor a
warmed up on b's readings and b on a's, unsaid. Real files; the warm-up's ticks against a whole read's."""
from __future__ import annotations

from test_clock19_replay_tail import config, readings, sought_from, warmup_beside_whole_read


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
