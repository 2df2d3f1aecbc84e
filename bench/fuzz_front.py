"""Fuzz the agent's two front doors with real processes: the config (`check-config` against `run`) and the
records (stdin, udp and replay lines). Prints JSON.

Run: python bench/fuzz_front.py [--part config|records|both] [--seed 1] [--mutants 60] [--jobs 2]

Part `config` (bench/fuzz_config.py): configs that pass check-config and run, each mutant changing one thing, run
as processes (bench/fuzz_processes.py); a mismatch is check-config and run disagreeing, a crash a traceback or a
hang of either. Part `manifest` (the same module): the builtin bundle's manifest, key by key. Part `records`
(bench/fuzz_records.py): a clean stream and the same stream with bad lines between the good ones, through stdin,
udp and JSONL and CSV replays: the clean run's alerts must come out unchanged and every bad line be counted under
its reason. Each module's docstring says what it draws and how it judges.
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
