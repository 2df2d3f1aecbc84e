"""A corridor station whose three readings all read 0 together: the fault events told, before/after faults5.

    python bench/fault_groups.py [--seed 0] [--hours 30] [--station S03] [--at 1500 2400 3000] [--ticks 60]
                                 [--stagger 0 2 5]

Runs the agent's Pipeline (whichever `agent` package is on PYTHONPATH, so an older checkout is measured
with the same script) over bench/faults.py's corridor simulator run with no injected anomaly in the
span, the station's flow, occ and speed set to 0 for `--ticks` ticks from each tick in `--at` (a cut
cable, a detector card, a cabinet's power), and prints JSON: each fault event told (event, kind,
sensor, its sensors) and the count. bench/faults.py's seeds measure that nothing else changes.
`--stagger F O S`: flow, occ and speed go to 0 that many ticks after each `--at` (a card whose readings
fail a few ticks apart; faults6), each for `--ticks`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def zeroed(seed: int, hours: float, station: str, at: list[int], ticks: int, stagger=(0, 0, 0)) -> dict:
    import faults as bench_faults
    from agent.config import from_dict
    from agent.pipeline import Pipeline

    d = bench_faults.config_dict("corridor", seed, hours)
    d["sources"][0]["anomaly_every_s"] = hours * 3600.0 * 10        # (none in the run)
    cfg = from_dict(d)
    names = cfg.sensor_names()
    idx = [names.index(f"{station}_{m}") for m in ("flow", "occ", "speed")]
    pipe, told = Pipeline(cfg), []
    for k, row in enumerate(bench_faults.simulated_rows(cfg)):
        down = [i for i, lag in zip(idx, stagger) if any(a + lag <= k < a + lag + ticks for a in at)]
        if down:
            values = row.values.copy()
            values[down] = 0.0
            row = dataclasses.replace(row, values=values)
        for ev in pipe.step(row).faults or []:
            told.append({"tick": k, "event": ev.event, "kind": ev.kind, "sensor": ev.sensor,
                         "sensors": getattr(ev, "sensors", None), "reason": ev.reason})
    return {"seed": seed, "station": station, "at": at, "ticks": ticks, "stagger": list(stagger), "events": len(told),
            "pages": sum(t["event"] == "fault" for t in told), "told": told}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hours", type=float, default=30.0)
    p.add_argument("--station", default="S03")
    p.add_argument("--at", type=int, nargs="+", default=[1500, 2400, 3000])
    p.add_argument("--ticks", type=int, default=60)
    p.add_argument("--stagger", type=int, nargs=3, default=[0, 0, 0], metavar=("FLOW", "OCC", "SPEED"))
    a = p.parse_args(argv)
    print(json.dumps(zeroed(a.seed, a.hours, a.station, a.at, a.ticks, a.stagger), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
