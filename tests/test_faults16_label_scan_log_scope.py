"""The converter's label scan (convert/data.py `label_scan`) reads a file through a replay source of its own, and its
lines (a header again, a labels window) were said once already by the training read, so it quiets them. It did so by
setting the `stad.replay` logger disabled — process-wide: while a scan ran, a replay read by another thread of the
same process (an agent's source, another training) lost its warnings without a trace (faults16). Now only the
scanning thread's records are dropped.

Real files, a real ReplaySource in a second thread. The other replay is read while the scan's quieting is known to be
in force (its filter on the `stad.replay` logger — before faults16, the logger disabled — there from the scan's first record to its last), and that is
checked again after, so the overlap is a fact, not a timing guess; a scan that ended too soon is run again on a
longer file."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from agent import config
from agent.records import Rejects
from agent.sources.replay import ReplaySource
from conftest import wait_until
from convert.data import label_scan, training_sources

DEADLINE_S = 120.0


def _scanned_file(path: Path, rows: int) -> None:
    """A CSV whose label-like column the scan reads, with the header again halfway (a line the scan's replay says)."""
    lines = ["timestamp,x,anomaly_flag"]
    for i in range(rows):
        if i == rows // 2:
            lines.append("timestamp,x,anomaly_flag")
        lines.append(f"{1767225600 + i},{1.0 + (i % 7) * 0.01},{1 if i % 1000 == 5 else 0}")
    path.write_text("\n".join(lines) + "\n")


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.threadName, record.getMessage()))


def test_another_threads_replay_warnings_are_heard_while_a_label_scan_runs(tmp_path: Path):
    other = tmp_path / "other.csv"          # a replay another thread reads: a header again with other columns
    other.write_text("timestamp,x\n1767225600,1.0\ntimestamp,y\n1767225601,2.0\n")
    cfg = config.from_dict({"sensors": ["x"], "sources": [{"type": "replay", "path": "scan.csv"}], "tick_s": 1,
                            "window": {"steps": 16}, "warmup": {"ticks": 30}, "sinks": []}, base_dir=str(tmp_path))
    src = training_sources(cfg)[0]
    kept, replay_log = _Kept(), logging.getLogger("stad.replay")
    replay_log.addHandler(kept)

    def quieted() -> bool:     # the scan's quieting in force: its filter (before faults16, the logger disabled)
        return bool(replay_log.filters) or replay_log.disabled

    try:
        rows = 200_000
        for _ in range(4):
            scanned = tmp_path / "scan.csv"
            _scanned_file(scanned, rows)
            found: dict = {}
            scan = threading.Thread(target=lambda: found.update(label_scan(src, scanned, {"x": "x"}, ["anomaly_flag"])),
                                    name="label-scan")
            scan.start()
            wait_until(lambda: quieted() or not scan.is_alive(), DEADLINE_S)
            reading_before = quieted()
            reader = ReplaySource(config.from_dict({
                "sensors": ["x"], "sources": [{"type": "replay", "path": str(other)}], "tick_s": 1,
                "window": {"steps": 16}, "warmup": {"ticks": 30}, "sinks": []}).sources[0], ["x"], Rejects())
            read = list(reader.records())
            reading_after = quieted()
            scan.join(DEADLINE_S)
            assert not scan.is_alive()
            if reading_before and reading_after:
                break
            rows *= 2                       # the scan ended before the other read did: a longer file
        assert reading_before and reading_after, "the scan never overlapped the other replay's read"
        assert list(found) == ["anomaly_flag"] and found["anomaly_flag"][0] > 0, found     # the scan did its work
        assert len(read) == 2
        mine = [m for t, m in kept.lines if t != "label-scan"]
        assert any("the header again" in m and "other.csv" in m for m in mine), kept.lines
        # the scan's own header-again line stays quiet (said once by the training read)
        assert not [m for t, m in kept.lines if t == "label-scan"], kept.lines
        assert not replay_log.filters and not replay_log.disabled     # nothing left behind
    finally:
        replay_log.removeHandler(kept)
