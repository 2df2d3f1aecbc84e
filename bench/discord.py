"""The discord path's cost per tick (threshold.discord_ticks, agent/discord.py), the history full:
STOMP's O(H) update of the dot products against the exact O(H·m) sliding dot product every tick,
interleaved tick by tick in one process, so the ratio is the figure (absolute µs follow the load).

    python bench/discord.py [--sensors 1 16] [--ticks 1500] [--m 48]

Prints JSON: per N, p50 / p99 µs a tick of each path, their ratio, the load average and the machine.
The exact path is the same DiscordWatch made to recompute every tick (what it does while its history
fills and after a restore), so both read the same ring and give the same discords to rounding."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from agent.discord import HISTORY_TICKS, DiscordWatch  # noqa: E402
from bench.machine import machine_info  # noqa: E402


def stream(n_ticks: int, n: int, seed: int = 0) -> np.ndarray:
    """A daily cycle of 288 five-minute ticks with noise, per sensor a phase of its own."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_ticks)[:, None]
    return np.sin(2 * np.pi * t / 288 + rng.uniform(0, 6.3, n)) + 0.3 * rng.normal(size=(n_ticks, n))


def measure(n: int, ticks: int, m: int) -> dict:
    fill = HISTORY_TICKS + m + 1
    x = stream(fill + ticks, n)
    fresh = np.ones(n, bool)
    update, exact = DiscordWatch(n, m), DiscordWatch(n, m)
    for row in x[:fill]:
        update.step(row, fresh)
        exact.step(row, fresh)
    times = {"update": [], "exact": []}
    worst = 0.0
    for row in x[fill:]:
        t0 = time.perf_counter()
        update.step(row, fresh)
        t1 = time.perf_counter()
        exact.updates[:] = -1                         # recompute from the readings this tick
        exact.step(row, fresh)
        t2 = time.perf_counter()
        times["update"].append(t1 - t0)
        times["exact"].append(t2 - t1)
    for i in range(n):                                 # the same discords, to rounding
        worst = max(worst, abs(update.discord(i) - exact.discord(i)))
    out = {k: {"p50_us": round(1e6 * float(np.median(v)), 1), "p99_us": round(1e6 * float(np.percentile(v, 99)), 1)}
           for k, v in times.items()}
    return {"sensors": n, "m": m, "history": HISTORY_TICKS, **out,
            "exact_over_update_p50": round(out["exact"]["p50_us"] / out["update"]["p50_us"], 2),
            "max_abs_discord_difference": worst}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--ticks", type=int, default=1500)
    ap.add_argument("--m", type=int, default=48)
    args = ap.parse_args(argv)
    results = [measure(n, args.ticks, args.m) for n in args.sensors]
    print(json.dumps({"bench": "discord", "results": results, "loadavg": os.getloadavg(),
                      "machine": machine_info(("numpy",))}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
