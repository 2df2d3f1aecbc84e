"""What one rejected record costs, by reason, in a flood: µs a record through what rejects it. Prints JSON.

A flood of bad records (a sender with a bad field ten times a second, a broker replaying a queue of bad records) is
counted, not said: after the first few of a reason its log gets one line a minute. So what a rejected record costs is
the parse or the aligner's work, and whatever its reject does besides counting (qa54: the detail's words, built
for every reject, said for few). Each reason's records, as a flood sends them:

- `bad json`: a JSON line cut short, through `parse_json_line` (what the udp, stdin, mqtt and replay sources call);
- `non-finite value`, `unknown sensor`: a record of 18 sensors, one of them NaN or a name not configured, each the
  next tick's, through `Aligner.push` (beside `clean`: the same records without the bad field, whose difference is
  the reject's own cost);
- `late`: a record of 18 sensors for a tick already closed, with values that tick did not use;
- `duplicate`: a second record of 18 sensors in a tick, stamped half a tick later;
- `repeated reading`: the same record of 18 sensors again in its open tick;
- `repeat after close`: the same record again after its tick closed (`late` before qa54);
- `mqtt repeated reading`: a bridge delivering each message twice — records of one sensor again in their open tick,
  each from its own topic (`mqtt plant/S00/flow`), whose origin knows its sender, the broker connection
  (records.Origin, qa56: a steady reason's topics are kept; a package without Origin gets the topic as a plain str).

    python bench/reject_cost.py [--records 2000] [--pairs 7] [--before REF]

`--before REF`: the agent package at git REF (or in directory REF/agent, bench/table.py's `package_at`) timed beside
this one, record set by record set, the two sides' order alternated pair by pair: `vs_before` is, per reason, this
package's µs over REF's in each pair (below 1, this one is cheaper) and their median. Logging goes to /dev/null at
WARNING, as the agent's journal takes it (the first few lines of each reason are written, the rest counted).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import machine_info  # noqa: E402
from table import package_at  # noqa: E402

T0 = 1_767_225_600.0
SENSORS = [f"S{i:02d}_{q}" for i in range(6) for q in ("flow", "occ", "speed")]      # 18, as the demo's
WHERE = "udp 127.0.0.1:40000"
BROKER = "mqtt 127.0.0.1:1883"
CUT_LINE = '{"ts": 1767225600, "values": {"S00_flow": 41.5, "S00_occ": 0.12, "S00_speed": 97.'


def reading(k: int) -> dict[str, float]:
    return {s: float((k * 7 + j * 3) % 101) / 10 for j, s in enumerate(SENSORS)}


def fresh(mods, closed: int = 40):
    """(an Aligner of REF's or this package's on SENSORS, 1-s ticks, with `closed` ticks taken, its Rejects)."""
    records, window = mods
    rejects = records.Rejects()
    al = window.Aligner(SENSORS, 1.0, 0.0, 0, rejects)
    for k in range(closed + 1):
        al.push(records.Record(ts=T0 + k, values=reading(k), origin=WHERE))
    return al, rejects


def flood(mods, kind: str, n: int) -> tuple[float, dict]:
    """µs a record of `n` records of `kind`, and the counts they left."""
    records, window = mods
    Record = records.Record
    al, rejects = fresh(mods)
    base = dict(rejects.counts)
    if kind == "bad json":
        from_lines = importlib.import_module(records.__name__.rsplit(".", 1)[0] + ".sources.lines")
        parse = from_lines.parse_json_line
        t0 = time.perf_counter()
        for _ in range(n):
            parse(CUT_LINE, WHERE, rejects, live=True)
        dt = time.perf_counter() - t0
    else:
        if kind in ("clean", "non-finite value", "unknown sensor"):
            extra = {"clean": {}, "non-finite value": {"S03_occ": math.nan},
                     "unknown sensor": {"S99_vibration": 1.0}}[kind]
            recs = [Record(ts=T0 + 41 + i, values={**reading(41 + i), **extra}, origin=WHERE) for i in range(n)]
        elif kind == "late":
            recs = [Record(ts=T0 + 39, values={s: v + 0.05 for s, v in reading(39).items()}, origin=WHERE)
                    for _ in range(n)]
        elif kind == "duplicate":
            recs = [Record(ts=T0 + 40.5, values=reading(40), origin=WHERE) for _ in range(n)]
        elif kind == "repeated reading":
            recs = [Record(ts=T0 + 40, values=reading(40), origin=WHERE) for _ in range(n)]
        elif kind == "repeat after close":
            recs = [Record(ts=T0 + 39, values=reading(39), origin=WHERE) for _ in range(n)]
        elif kind == "mqtt repeated reading":
            origin = getattr(records, "Origin", lambda text, sender: text)
            topics = {s: origin(f"mqtt plant/{s.replace('_', '/')}", BROKER) for s in SENSORS}
            values = reading(40)
            recs = [Record(ts=T0 + 40, values={s: values[s]}, origin=topics[s])
                    for s in (SENSORS[i % len(SENSORS)] for i in range(n))]
        else:
            raise ValueError(kind)
        push = al.push
        t0 = time.perf_counter()
        for rec in recs:
            push(rec)
        dt = time.perf_counter() - t0
    counts = {k: v - base.get(k, 0) for k, v in rejects.counts.items() if v - base.get(k, 0)}
    return dt / n * 1e6, counts


KINDS = ("bad json", "clean", "non-finite value", "unknown sensor", "late", "duplicate", "repeated reading",
         "repeat after close", "mqtt repeated reading")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2000, help="records of each reason a set (default 2000)")
    ap.add_argument("--pairs", type=int, default=7, help="sets of each side, alternated (default 7)")
    ap.add_argument("--before", default=None, metavar="REF")
    args = ap.parse_args(argv)
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.WARNING)
    here = (importlib.import_module("agent.records"), importlib.import_module("agent.window"))
    sides = {"this": here}
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            package_at(args.before, Path(tmp))
            sides[args.before] = (importlib.import_module("agent_at_ref.records"),
                                  importlib.import_module("agent_at_ref.window"))
        times = {side: {k: [] for k in KINDS} for side in sides}
        counts = {side: {} for side in sides}
        for kind in KINDS:          # once untimed: imports, caches
            for side, mods in sides.items():
                flood(mods, kind, 50)
        for pair in range(args.pairs):
            order = list(sides) if pair % 2 == 0 else list(reversed(sides))
            for kind in KINDS:
                for side in order:
                    us, got = flood(sides[side], kind, args.records)
                    times[side][kind].append(us)
                    counts[side][kind] = got
    report = {"machine": machine_info(packages=("numpy",)), "load_average": os.getloadavg(),
              "records_a_set": args.records, "pairs": args.pairs,
              "us_per_record": {side: {k: round(statistics.median(v), 3) for k, v in t.items()}
                                for side, t in times.items()},
              "counts_a_set": counts}
    for side, t in times.items():
        clean = statistics.median(t["clean"])
        report.setdefault("reject_own_us", {})[side] = {
            k: round(statistics.median(t[k]) - clean, 3) for k in ("non-finite value", "unknown sensor")}
    if args.before:
        ratios = {k: [round(a / b, 3) for a, b in zip(times["this"][k], times[args.before][k])] for k in KINDS}
        report["vs_before"] = {k: {"pairs": r, "median": round(statistics.median(r), 3)} for k, r in ratios.items()}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
