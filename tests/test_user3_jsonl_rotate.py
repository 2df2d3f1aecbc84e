"""The JSONL sink under log rotation: a file renamed away (logrotate's default, or `mv`) or
removed is followed by a new file at the configured path; `copytruncate` keeps whole lines."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from agent import config
from agent.sinks import open_sink
from conftest import alert_event


def jsonl_sink(path: Path):
    cfg = config.from_dict({"sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
                            "sinks": [{"type": "jsonl", "path": str(path)}], "state_dir": str(path.parent)})
    return open_sink(cfg.sinks[0], cfg.sink_context())


def seqs(path: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in path.read_text().splitlines()]


def test_a_file_renamed_away_is_followed_by_a_new_one_at_the_path(tmp_path, caplog):
    path = tmp_path / "alerts.jsonl"
    sink = jsonl_sink(path)
    sink.emit(alert_event("gw-7-a", 0))
    sink.emit(alert_event("gw-7-a", 1))
    os.rename(path, tmp_path / "alerts.jsonl.1")          # what logrotate does without copytruncate
    with caplog.at_level(logging.INFO, logger="stad.sink.jsonl"):
        sink.emit(alert_event("gw-7-a", 2))
        sink.emit(alert_event("gw-7-a", 3))
    sink.close()
    assert seqs(tmp_path / "alerts.jsonl.1") == [0, 1]
    assert seqs(path) == [2, 3]
    assert caplog.text.count("rotated away") == 1
    assert sink.last_alert() == ("gw-7-a", 3)


def test_a_removed_file_is_made_again(tmp_path):
    path = tmp_path / "alerts.jsonl"
    sink = jsonl_sink(path)
    sink.emit(alert_event("gw-7-a", 0))
    path.unlink()
    sink.emit(alert_event("gw-7-a", 1))
    sink.close()
    assert seqs(path) == [1]


def test_copytruncate_keeps_appending_whole_lines_from_the_start(tmp_path):
    path = tmp_path / "alerts.jsonl"
    sink = jsonl_sink(path)
    sink.emit(alert_event("gw-7-a", 0))
    (tmp_path / "alerts.jsonl.1").write_bytes(path.read_bytes())
    with open(path, "r+b") as fh:                           # logrotate copytruncate
        fh.truncate(0)
    sink.emit(alert_event("gw-7-a", 1))
    sink.close()
    assert path.read_text().startswith("{") and seqs(path) == [1]
