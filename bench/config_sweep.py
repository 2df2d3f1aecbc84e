"""check-config against `run`, one key at a time, every key: the systematic half beside bench/fuzz_front.py's random
draws. Prints JSON.

Run: python bench/config_sweep.py [--values bounds|blanks] [--jobs 2] [--limit N] [--base demo,industrial]

The configs are fuzz_config.bases(): configs/*.yaml made runnable here, and the fuzz bench's replay, bundle and live
configs. Every key path of each is mutated alone, deduplicated by its place in the schema (a list index, or a key of a
sensor-named map such as `registers`, counts once: `sensors[].unit` is one place, not eight) across all of them.
`--values bounds` (713 mutants on 19acb1bf): an unknown key beside each mapping's keys; each key deleted, given
another type, and each scalar −1, 0 and 1e12. `--values blanks` (527): each scalar null, true, "" and "5"; each
mapping or list emptied. Each mutant is judged as fuzz_config's are (bench/fuzz_processes.py): check-config and
`run --max-ticks 3` as processes, by fuzz_processes.disagreement: a mismatch is check-config 0 with run refusing
(`noted` when check-config said notes), check-config 2 with run starting, or both 2 naming other problems; a crash a
traceback or a hang. Written by qa52 (7 Dec 2026): no mismatch in
either set then (docs/operations.md, "Found by reading (qa52, …)").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_config import at, bases, fresh_ports, key_paths  # noqa: E402
from fuzz_processes import check_config, disagreement, run  # noqa: E402
from machine import machine_info  # noqa: E402

#: Maps whose keys are the user's names (sensors, topic filters, columns): one place in the schema, whatever the key
NAMED_KEYS = {"registers", "scale", "data_types", "tables", "topics", "nodes", "columns", "weights", "replay_format"}
UNKNOWN = object()      # the mutant "an unknown key beside this mapping's keys"
DELETED = object()      # the mutant "this key deleted"


def place(path: tuple) -> str:
    """A key path's place in the schema: `sources.[].registers.*`."""
    return ".".join("[]" if isinstance(k, int) else "*" if i and path[i - 1] in NAMED_KEYS else str(k)
                    for i, k in enumerate(path))


def other_type(value: object) -> object:
    return 12345 if isinstance(value, str) else ["zz"] if isinstance(value, dict) else "zz"


def mutations(node: object, path: tuple, values: str) -> list[tuple[str, object]]:
    scalar = not isinstance(node, (dict, list))
    if values == "blanks":
        return ([("null", None), ("true", True), ("empty", ""), ("numeral text", "5")] if scalar
                else [("emptied", type(node)())]) if path else []
    out = [("unknown key", UNKNOWN)] if isinstance(node, dict) else []
    if path:
        out += [("deleted", DELETED), ("another type", other_type(node))]
        out += [("negative", -1), ("zero", 0), ("huge", 1e12)] if scalar else []
    return out


def cases(made: dict[str, dict], values: str, only: list[str] | None) -> list[tuple]:
    seen, out = set(), []
    for name in sorted(made):
        if only and name not in only:
            continue
        for path in [(), *key_paths(made[name])]:
            if path and path[-1] == "type":         # a source's or sink's kind: the random fuzz swaps kinds whole
                continue
            for what, value in mutations(at(made[name], path), path, values):
                key = (place(path), what, repr(value))
                if key not in seen:
                    seen.add(key)
                    out.append((name, path, what, value))
    return out


def judge(i: int, case: tuple, made: dict, base_work: Path, root: Path) -> dict:
    name, path, what, value = case
    work = root / f"m{i}"
    work.mkdir()
    text = yaml.safe_dump(made[name], sort_keys=False)
    data = yaml.safe_load(text.replace(str(base_work / "state"), str(work / "state"))
                          .replace(str(base_work / "alerts.jsonl"), str(work / "alerts.jsonl")))
    fresh_ports(data)
    if value is UNKNOWN:
        at(data, path)["zz_unknown"] = 1
    elif value is DELETED:
        del at(data, path[:-1])[path[-1]]
    else:
        at(data, path[:-1])[path[-1]] = value
    config = work / "agent.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    check, ran = check_config(config), run(config)
    out = {"i": i, "base": name, "key": place(path), "mutant": what, "check": check["code"], "run": ran["verdict"]}
    if check["crash"] or check["code"] not in (0, 2):
        out["crash"] = f"check-config exit {check['code']}: {(check['crash'] or check.get('stderr') or '')[-600:]}"
    else:
        out.update(disagreement(check, ran))
    if not {"mismatch", "noted", "crash"} & set(out):
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", choices=["bounds", "blanks"], default="bounds")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="the first N mutants only")
    ap.add_argument("--base", default=None, help="these configs only, comma-separated (demo, industrial, live, …)")
    args = ap.parse_args(argv)
    result = {"bench": "config_sweep", "machine": machine_info(), "load": os.getloadavg(), "values": args.values}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="config-sweep-") as d:
        root = Path(d)
        base_work = root / "base"
        base_work.mkdir()
        made = bases(base_work)
        todo = cases(made, args.values, args.base.split(",") if args.base else None)[:args.limit]
        with ThreadPoolExecutor(args.jobs) as pool:
            judged = list(pool.map(lambda a: judge(*a, made, base_work, root), enumerate(todo)))
    result.update(mutants=len(judged), check_ok=sum(r["check"] == 0 for r in judged),
                  check_refused=sum(r["check"] == 2 for r in judged),
                  mismatches=[r for r in judged if "mismatch" in r], noted=[r for r in judged if "noted" in r],
                  crashes=[r for r in judged if "crash" in r],
                  wall_s=round(time.monotonic() - started, 1), load_after=os.getloadavg())
    print(json.dumps(result, indent=1, default=str))
    return 1 if result["mismatches"] or result["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
