"""What an event that survives a power cut costs: the agent's writes for one alert event, this tree against REF.

For each alert event the agent writes, on its tick path, the alert journal (agent/checkpoint.py EventJournal:
temporary file, fsync, rename, directory fsync), then the MQTT sink's outbox row (agent/outbox.py add()), then the
JSONL sink's line (agent/sinks/jsonl.py). Since chaos9 the outbox row's commit syncs the WAL whatever `outbox.sync`
says; since chaos10 the JSONL line is fdatasync'd (a tick's fault lines once). Timed here per event, interleaved:
each round one event on this tree's Outbox and JsonlSink and one on REF's (`--before`, a git ref or a directory
holding an agent package; default the chaos10 round's base, whose outbox syncs already: the ratio is the JSONL's
sync; 19acb1bf gives both rounds'), both `sync: normal`, each after the same journal write — so the ratio is what an
event costs now against then, on the same disk at the same moment. A tick's FAULT_TICK fault events: the outbox's
and the JSONL's writes of them (one add_many and one sync each now; REF's own way). An ack (the worker thread, off
the tick path) is timed too: unchanged by design. A tick with no event writes nothing to either: no cost per tick.
The files go under --dir: put it on the gateway's real storage (a tmpfs makes every sync free).

How often a power cut leaves a whole `checkpoint.bin.tmp` alone (chaos10): only a first checkpoint's write can (a
later one has the old checkpoint.bin beside it, which the start takes), and only a cut after the temporary file's
data is written and before the directory's fsync has made the rename durable. `first_checkpoint` times that window
on fresh directories (a checkpoint's size, `--checkpoint-bytes`) through agent/checkpoint.py `atomic_write_by`, and
says what share of the unit's first hour it is: the chance that one power cut at a random moment of that hour leaves
the case.

    python bench/power_loss.py [--before 3ed21786] [--dir DIR] [-n 300] [--pairs 3]

Prints one JSON object: per side the journal write, the add, the JSONL line, the ack, the event's total and a fault
tick's (p50/p90 in ms), the ratios now/before per pair, and the load average before and after.
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

from agent.checkpoint import EventJournal, atomic_write_by  # noqa: E402
from agent.faults.events import FaultEvent  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from agent.sinks import jsonl  # noqa: E402
from agent.sinks.base import SinkContext  # noqa: E402

BASE = "3ed21786"       # chaos10's base: the JSONL sink synced no line (19acb1bf, chaos9's: nor did `normal` an add)
FAULT_TICK = 40         # fault events in one tick (a station's power cut)


def fault_events(i: int, ts: float) -> list[FaultEvent]:
    """A tick's FAULT_TICK fault events (a station's power cut: every sensor `missing`)."""
    return [FaultEvent(fault_id=f"f-{j}", seq=i, event="fault" if i == 0 else "fault_update", node="bench", site="lab",
                       sensor=f"s{j}", group="k1", kind="missing", ts=ts, start=ts, end=None,
                       evidence={"summary": "no data"}) for j in range(FAULT_TICK)]


def jsonl_faults(sink, events: list[FaultEvent]) -> None:
    """A tick's fault lines as the agent hands them: `faults` where the side has it (chaos9 on), else one by one."""
    if hasattr(sink, "faults"):
        sink.faults(events)
    else:
        for event in events:
            sink.fault(event)


def pair(work: Path, before, n: int, k: int) -> dict:
    """n interleaved events on each side: {side: {"journal", "add", "jsonl", "ack", "event", "fault_tick"} lists of
    seconds}. `before`: REF's (outbox, sinks.jsonl) modules."""
    before_outbox, before_jsonl = before
    sides = {"now": (Outbox, jsonl), "before": (before_outbox.Outbox, before_jsonl)}
    boxes = {side: cls(work / f"{side}-{k}.sqlite", max_events=100_000, max_age_s=86400, sync="normal")
             for side, (cls, _) in sides.items()}
    journals = {side: EventJournal(work / f"{side}-{k}") for side in sides}
    logs = {side: mod.JsonlSink(mod.JsonlConfig(path=str(work / f"{side}-{k}.jsonl")),
                                SinkContext(node_id="bench", site="lab", state_dir=str(work)))
            for side, (_, mod) in sides.items()}
    for side in sides:
        (work / f"{side}-{k}").mkdir()
        journals[side].reserve()
    times = {side: {"journal": [], "add": [], "jsonl": [], "ack": [], "event": [], "fault_tick": []} for side in sides}
    ids = {side: [] for side in sides}
    for i in range(n):
        event = alert(i, time.time())
        payload = json.dumps(event.to_dict())
        for side in (("now", "before") if i % 2 == 0 else ("before", "now")):
            t0 = time.perf_counter()
            journals[side].record({"seq": i, "payload": payload}, {"open": True})
            t1 = time.perf_counter()
            ids[side].append(boxes[side].add("bench-1", i, "update", payload))
            t2 = time.perf_counter()
            logs[side].emit(event)
            t3 = time.perf_counter()
            times[side]["journal"].append(t1 - t0)
            times[side]["add"].append(t2 - t1)
            times[side]["jsonl"].append(t3 - t2)
            times[side]["event"].append(t3 - t0)
    for i in range(n):
        for side in (("now", "before") if i % 2 == 0 else ("before", "now")):
            t = time.perf_counter()
            boxes[side].ack(ids[side][i])
            times[side]["ack"].append(time.perf_counter() - t)
    for i in range(n // 6):             # a tick's fault events, FAULT_TICK sensors: the outbox's and the JSONL's writes
        events = fault_events(i, time.time())
        rows = [(e.fault_id, i, e.event, json.dumps(e.to_dict()), False) for e in events]
        for side in (("now", "before") if i % 2 == 0 else ("before", "now")):
            t = time.perf_counter()
            if hasattr(boxes[side], "add_many"):
                boxes[side].add_many(rows)
            else:
                for row in rows:
                    boxes[side].add(*row)
            jsonl_faults(logs[side], events)
            times[side]["fault_tick"].append(time.perf_counter() - t)
    for side in sides:
        boxes[side].close()
        journals[side].close()
        logs[side].close()
    return times


def first_checkpoint(work: Path, size: int, n: int) -> list[float]:
    """n first checkpoints of `size` bytes, each in a fresh directory: the seconds from the temporary file's data
    written to the directory synced (the rename durable) — when a power cut leaves the whole file alone."""
    windows = []
    payload = os.urandom(size)
    for i in range(n):
        directory = work / f"first-{i}"
        directory.mkdir()
        written = []

        def write(fd: int) -> None:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            written.append(time.perf_counter())
        atomic_write_by(directory / "checkpoint.bin", write)
        windows.append(time.perf_counter() - written[0])
    return windows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=BASE, help="git ref (or directory with an agent package) to compare with")
    ap.add_argument("--dir", default=None, help="where the files go (default: the system temp dir)")
    ap.add_argument("-n", type=int, default=300, help="events per side per pair")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--checkpoint-bytes", type=int, default=22643, help="a first checkpoint's size (default: the "
                    "3-sensor one chaos9's test tore; a site's is larger)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stad-bench-power-", dir=args.dir))
    load_before = os.getloadavg()
    try:
        package_at(args.before, work)
        import importlib
        before = importlib.import_module("agent_at_ref.outbox"), importlib.import_module("agent_at_ref.sinks.jsonl")
        pairs = [pair(work, before, args.n, k) for k in range(args.pairs)]
        windows = first_checkpoint(work, args.checkpoint_bytes, max(10, args.n // 10))
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
        "ratio_jsonl_p50": [round(p50(t["now"]["jsonl"]) / p50(t["before"]["jsonl"]), 2) for t in pairs],
        "ratio_ack_p50": [round(p50(t["now"]["ack"]) / p50(t["before"]["ack"]), 2) for t in pairs],
        "ratio_fault_tick_p50": [round(p50(t["now"]["fault_tick"]) / p50(t["before"]["fault_tick"]), 2) for t in pairs],
    }
    result["first_checkpoint"] = {"bytes": args.checkpoint_bytes, "window": percentiles(windows),
                                  "share_of_first_hour_max": f"{max(windows) / 3600:.1e}"}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
