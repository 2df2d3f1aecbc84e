"""A group topology's fault tracker fed tick rows (a, b, c on skid1, d on skid2; a udp feed, which is not down
while d reads), every event checked against the shipped schema: test_faults5_station.py, test_faults6_*.py."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row

ROOT = Path(__file__).resolve().parents[1]
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
SENSORS = ["a", "b", "c", "d"]
T0 = 1_790_000_000.0


def tracker(tmp_path, **faults):
    """A numpy agent's fault tracker: missing decided 3 s past the 2-s carry-forward, cleared after 2 s."""
    return Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group",
        "sensors": [{"name": "a", "group": "skid1"}, {"name": "b", "group": "skid1"}, {"name": "c", "group": "skid1"},
                    {"name": "d", "group": "skid2"}],
        "sources": [{"type": "udp", "port": 0}],
        "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3, "clear_s": 2, "stuck_s": 3600, "flatline_s": 3600, **faults}, "sinks": [],
    }, base_dir=str(tmp_path))).health


class Feed:
    """Tick rows into a tracker: each sensor read (varying values) or silent; every event schema-checked."""

    def __init__(self, tr, k: int = 0):
        self.tr, self.k = tr, k

    def run(self, ticks: int, silent: set[str] = frozenset()) -> list:
        out = []
        for _ in range(ticks):
            values = np.array([10 + self.k % 3, 20 + self.k % 5, 40 + self.k % 2, 30 + self.k % 4], float)
            missing = np.array([s in silent for s in SENSORS])
            row = Row(ts=T0 + self.k, values=np.where(missing, np.nan, values), missing=missing, carried=np.zeros(4, bool))
            for ev in self.tr.observe(row):
                jsonschema.validate(ev.to_dict(), FAULT_SCHEMA)
                out.append(ev)
            self.k += 1
        return out
