"""One file reached through two hard links, given twice, is one entry twice (chaos6's "left"; the chaos7 round).
chaos6 compared a file key as this host resolves its path (realpath): two hard links are two paths to one inode, so a
recording linked as `rec.csv` and `copy.csv` was read twice (every record twice, the time base stepping back and
forth) and two JSONL sinks on linked names wrote every alert event twice into one file — check-config said ok. Now
preflight compares an existing file by device and inode. The real agent, check-config and run, on real hard links."""
from __future__ import annotations

import math
import os

import pytest

from entries_twice_agent import config_text, run_agent


def _write(tmp_path, sources: str, sinks: str):
    (tmp_path / "rec.csv").write_text("timestamp,a\n" + "".join(
        f"{1_767_600_000 + k},{math.sin(k / 5):.4f}\n" for k in range(300)))
    os.link(tmp_path / "rec.csv", tmp_path / "copy.csv")
    (tmp_path / "alerts.jsonl").write_text("")
    os.link(tmp_path / "alerts.jsonl", tmp_path / "also.jsonl")
    config = tmp_path / "agent.yaml"
    config.write_text(config_text("[a]", sources, sinks))
    return config


@pytest.mark.parametrize("what", ["sources", "sinks"])
def test_two_hard_links_to_one_file_are_one_entry_twice(tmp_path, what):
    if what == "sources":
        config = _write(tmp_path, "[{type: replay, path: rec.csv}, {type: replay, path: copy.csv}]",
                        "[{type: terminal}]")
        first, again = "rec.csv", "copy.csv"
    else:
        config = _write(tmp_path, "[{type: replay, path: rec.csv}]",
                        "[{type: jsonl, path: alerts.jsonl}, {type: jsonl, path: also.jsonl}]")
        first, again = "alerts.jsonl", "also.jsonl"
    for args in (("check-config",), ("run", "--max-ticks", "3")):
        res = run_agent(*args, "-c", str(config), cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr[-2000:])
        assert (f"{what}[1]: the same as {what}[0], every key alike" in res.stderr
                and f"path {first!r} and {again!r} are one file" in res.stderr), (args, res.stderr[-2000:])
        assert "Traceback" not in res.stderr


def test_two_files_alike_in_content_are_two_entries(tmp_path):
    config = _write(tmp_path, "[{type: replay, path: rec.csv}]",
                    "[{type: jsonl, path: alerts.jsonl}, {type: jsonl, path: other.jsonl}]")
    (tmp_path / "other.jsonl").write_text("")           # another inode, the same (empty) content
    res = run_agent("check-config", "-c", str(config), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
