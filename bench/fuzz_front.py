"""Fuzz the agent's two front doors with real processes: the config (`check-config` against `run`) and the
records (stdin, udp and replay lines). Prints JSON.

Run: python bench/fuzz_front.py [--part config|records|both] [--seed 1] [--mutants 60] [--jobs 2]

Part `config`. Three small configs are built in a scratch directory, each passing check-config and running:
`replay` (a CSV recording; terminal, jsonl and an MQTT sink with TLS files and a password file, its broker
absent), `bundle` (the simulated corridor scored by a copy of the builtin bundle) and `live` (udp, stdin, Modbus,
MQTT and OPC UA sources whose peers are absent). Each mutant changes one thing: a key dropped, another type, out of
range, an unknown key, a key moved to another block, an empty list, a list entry twice, a path that is no file /
a directory / an empty or garbage file / a FIFO, a bundle file truncated or deleted, its manifest edited, a TLS
file truncated or swapped, a source or sink of each kind with fields missing. For each, `stad-agent check-config`
and `stad-agent run --max-ticks 3` are run as processes. run's verdict: exit 2 = refused; exit 1, a traceback or
a `source … failed` line = refused later; exit 0, or still running 4 s after its banner (a live source waits for
its peer; then SIGTERM and it must exit 0) = started. A mismatch is check-config 0 with run refusing, or
check-config 2 with run starting; both 2 must name the same problems. A traceback or a hang of either is a crash.

Part `records`. One clean stream (3 sensors, a spike that alerts) is fed through stdin, udp, a JSONL replay and a
CSV replay, then the same stream with bad lines between the good ones: malformed JSON, NaN / inf / 1e999, strings
for numbers, 1e300, far-future and far-past and duplicate and out-of-order stamps, unknown sensors, a 10 MB line,
invalid UTF-8, and the good lines themselves with a BOM or CRLF. Each bad line touches a (tick, sensor) whose good
reading came before it, so that whatever the agent does with it, the clean run's alerts must come out unchanged:
exit 0, no traceback, every alert event the same, every bad line counted as rejected under a reason of
agent/records.py REJECT_REASONS, and each reason's first lines named with the file:line or source.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_config import fuzz_config, fuzz_manifest  # noqa: E402
from fuzz_records import fuzz_records  # noqa: E402
from machine import machine_info  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["config", "records", "manifest", "both"], default="both",
                    help="both: config and records (manifest: the builtin bundle's manifest, key by key)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mutants", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--base", default=None, help="mutate this base only (replay, bundle, live, or a shipped config's "
                                                  "name: demo, skab, …)")
    ap.add_argument("--sources", default="stdin,udp,replay,csv")
    args = ap.parse_args(argv)
    result = {"bench": "fuzz_front", "machine": machine_info(), "load": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="fuzz-front-") as d:
        root = Path(d)
        if args.part in ("config", "both"):
            result["config"] = fuzz_config(args.seed, args.mutants, args.jobs, root / "config", args.base)
        if args.part == "manifest":
            result["manifest"] = fuzz_manifest(args.jobs, root / "manifest")
        if args.part in ("records", "both"):
            result["records"] = fuzz_records(args.seed, root / "records", args.sources.split(","))
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1, default=str))
    bad = (result.get("config", {}).get("mismatches") or result.get("config", {}).get("crashes")
           or result.get("manifest", {}).get("mismatches") or result.get("manifest", {}).get("crashes")
           or result.get("records", {}).get("problems"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
