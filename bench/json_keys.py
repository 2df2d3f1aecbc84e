"""The per-record cost of refusing duplicate JSON keys (qa22): json.loads alone against
agent.sources.lines.loads_object (json.loads with an object_pairs_hook), and parse_json_line as the
sources call it, on the three record shapes, interleaved round by round in one process. Prints JSON.

Run: python bench/json_keys.py [--rounds 30] [--n 20000]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agent.records import Rejects  # noqa: E402
from agent.sources.lines import loads_object, parse_json_line  # noqa: E402

LINES = [
    '{"ts": 1767592800, "sensor": "S01_flow", "value": 4200.0}',
    '{"ts": "2026-01-05T06:00:00Z", "values": {"S01_flow": 4200.0, "S01_speed": 98.1, "S01_occ": 0.12}}',
    '{"ts": 1767592800.5, "S01_flow": 4200.0, "S01_speed": 98.1, "label": 0}',
]


def per_record_us(fn, lines: list[str]) -> float:
    t0 = time.perf_counter()
    for line in lines:
        fn(line)
    return (time.perf_counter() - t0) / len(lines) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    lines = (LINES * (args.n // len(LINES) + 1))[:args.n]
    rejects = Rejects()
    variants = {"json.loads": json.loads, "loads_object": loads_object,
                "parse_json_line": lambda text: parse_json_line(text, "bench", rejects)}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(per_record_us(fn, lines))
    p50 = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"us_per_record_p50": {k: round(v, 3) for k, v in p50.items()},
                      "loads_object_vs_json_loads": round(p50["loads_object"] / p50["json.loads"], 3),
                      "hook_us_per_record": round(p50["loads_object"] - p50["json.loads"], 3),
                      "hook_share_of_parse_json_line": round((p50["loads_object"] - p50["json.loads"]) / p50["parse_json_line"], 3),
                      "rejects": dict(rejects.counts), "loadavg": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
