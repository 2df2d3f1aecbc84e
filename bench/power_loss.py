"""What an event that survives a power cut costs: the agent's writes for one alert event, this tree against REF.

For each alert event the agent writes, on its tick path, the alert journal (agent/checkpoint.py EventJournal:
temporary file, fsync, rename, directory fsync) and then the MQTT sink's outbox row (agent/outbox.py add()). Since
chaos9 that row's commit syncs the WAL whatever `outbox.sync` says (before, `normal` left it in the page cache and a
power cut lost up to a second of stored events). Timed here per event, interleaved: each round one add on this
tree's Outbox and one on REF's (`--before`, a git ref or a directory holding an agent package; default the chaos9
round's base), both `sync: normal`, each after the same journal write — so the ratio is what an event costs now
against then, on the same disk at the same moment. A tick's FAULT_TICK fault events: one add_many now (one sync),
FAULT_TICK adds before (none). An ack (the worker thread, off the tick path) is timed too:
unchanged by design (its delete is synced with the next checkpoint under `normal`). A tick with no event commits
nothing to the outbox: no cost per tick. The files go under --dir: put it on the gateway's real storage (a tmpfs
makes every sync free).

    python bench/power_loss.py [--before 19acb1bf] [--dir DIR] [-n 300] [--pairs 3]

Prints one JSON object: per side the journal write, the add, the ack and the event's total (p50/p90 in ms), the
ratios now/before of the add and of the total per pair, and the load average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import machine_info  # noqa: E402
from mqtt import alert, percentiles  # noqa: E402
from table import package_at  # noqa: E402

from agent.checkpoint import EventJournal  # noqa: E402
from agent.outbox import Outbox  # noqa: E402

BASE = "19acb1bf"       # chaos9's base: `normal` did not sync an add
FAULT_TICK = 40         # fault events in one tick (a station's power cut)


def pair(work: Path, before_outbox, n: int, k: int) -> dict:
    """n interleaved events on each side: {side: {"journal", "add", "ack", "event"} lists of seconds}."""
    sides = {"now": Outbox, "before": before_outbox.Outbox}
    boxes = {side: cls(work / f"{side}-{k}.sqlite", max_events=100_000, max_age_s=86400, sync="normal")
             for side, cls in sides.items()}
    journals = {side: EventJournal(work / f"{side}-{k}") for side in sides}
    for side in sides:
        (work / f"{side}-{k}").mkdir()
        journals[side].reserve()
    times = {side: {"journal": [], "add": [], "ack": [], "event": []} for side in sides}
    ids = {side: [] for side in sides}
    payload = json.dumps(alert(0, time.time()).to_dict())
    for i in range(n):
        for side in (("now", "before") if i % 2 == 0 else ("before", "now")):
            t0 = time.perf_counter()
            journals[side].record({"seq": i, "payload": payload}, {"open": True})
            t1 = time.perf_counter()
            ids[side].append(boxes[side].add("bench-1", i, "update", payload))
            t2 = time.perf_counter()
            times[side]["journal"].append(t1 - t0)
            times[side]["add"].append(t2 - t1)
            times[side]["event"].append(t2 - t0)
    for i in range(n):
        for side in (("now", "before") if i % 2 == 0 else ("before", "now")):
            t = time.perf_counter()
            boxes[side].ack(ids[side][i])
            times[side]["ack"].append(time.perf_counter() - t)
    for side in sides:
        times[side]["fault_tick"] = []
    for i in range(n // 6):             # a tick's fault events, FAULT_TICK sensors: one add each before, one add_many now
        for side in (("now", "before") if i % 2 == 0 else ("before", "now")):
            events = [(f"f-{j}", i, "fault", payload, False) for j in range(FAULT_TICK)]
            t = time.perf_counter()
            if side == "now":
                boxes[side].add_many(events)
            else:
                for event in events:
                    boxes[side].add(*event)
            times[side]["fault_tick"].append(time.perf_counter() - t)
    for side in sides:
        boxes[side].close()
        journals[side].close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=BASE, help="git ref (or directory with an agent package) to compare with")
    ap.add_argument("--dir", default=None, help="where the files go (default: the system temp dir)")
    ap.add_argument("-n", type=int, default=300, help="events per side per pair")
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stad-bench-power-", dir=args.dir))
    load_before = os.getloadavg()
    try:
        package_at(args.before, work)
        import importlib
        before_outbox = importlib.import_module("agent_at_ref.outbox")
        pairs = [pair(work, before_outbox, args.n, k) for k in range(args.pairs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p50 = lambda xs: statistics.median(xs)  # noqa: E731
    result = {
        "bench": "power_loss", "machine": machine_info(("numpy",)), "before": args.before, "events_per_side": args.n,
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "pairs": [{side: {part: percentiles(v) for part, v in times.items()} for side, times in t.items()}
                  for t in pairs],
        "ratio_add_p50": [round(p50(t["now"]["add"]) / p50(t["before"]["add"]), 2) for t in pairs],
        "ratio_event_p50": [round(p50(t["now"]["event"]) / p50(t["before"]["event"]), 2) for t in pairs],
        "ratio_ack_p50": [round(p50(t["now"]["ack"]) / p50(t["before"]["ack"]), 2) for t in pairs],
        "ratio_fault_tick_p50": [round(p50(t["now"]["fault_tick"]) / p50(t["before"]["fault_tick"]), 2) for t in pairs],
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
