"""The fault events an agent under test has written to its jsonl file, and a series of its /metrics, for the
source-fault tests (tests/test_source1_*.py, tests/test_source2_*.py)."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path


def faults(tmp_path: Path) -> list[dict]:
    """The fault / fault_end lines of tmp_path/alerts.jsonl written whole so far, in order."""
    path = tmp_path / "alerts.jsonl"
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]
    return [e for e in map(json.loads, lines) if e.get("event") in ("fault", "fault_end")]


def said(events: list[dict]) -> list[tuple]:
    """(event, kind, sensor) of each: what a subscriber is told, in order."""
    return [(e["event"], e["kind"], e["sensor"]) for e in events]


def metric(port: int, series: str) -> str | None:
    """The value of `series` (name and labels, as exposed) on the agent's /metrics at `port`; None when it is not
    there or the agent does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return next((line.split()[-1] for line in text.splitlines() if line.startswith(series + " ")), None)
