"""RecentMean's per-row flags as Python lists of bools or as bytearrays: the push's cost (clock21). Prints JSON.

    python bench/ring_flags.py [--size 600000] [--n 18] [--pushes 20000] [--rounds 5]

Two rings of this checkout's RecentMean, the same rows pushed into both in alternating blocks of 1,000:
one with its flags as this code makes them, the other with them turned into lists of bools (what they
were before clock21). Every 50th row holds a NaN (a row not full: the flag set, read and cleared) and
every 500th a +inf. Under a shared machine's load only the ratio within a round means anything.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import machine_info  # noqa: E402

from agent.faults.rule import RecentMean  # noqa: E402


def rows(pushes: int, n: int) -> np.ndarray:
    x = np.abs(np.random.default_rng(0).normal(size=(pushes, n)))
    x[::50, 0] = np.nan
    x[::500, 1] = np.inf
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=600_000)
    ap.add_argument("--n", type=int, default=18)
    ap.add_argument("--pushes", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    x = rows(args.pushes, args.n)
    kept = np.ones(args.n, bool)
    out = []
    for r in range(args.rounds):
        made, lists = RecentMean(args.size, args.n), RecentMean(args.size, args.n)
        lists._row_full, lists._row_inf = [bool(v) for v in lists._row_full], [bool(v) for v in lists._row_inf]
        took = {"made": 0.0, "lists": 0.0}
        for start in range(0, args.pushes, 1000):
            block = x[start:start + 1000]
            for name, ring in (("made", made), ("lists", lists)) if (start // 1000) % 2 else (("lists", lists), ("made", made)):
                t0 = time.perf_counter()
                for row in block:
                    ring.push(kept, row)
                took[name] += time.perf_counter() - t0
        assert np.array_equal(made.mean(), lists.mean(), equal_nan=True)
        assert list(made._row_full) == [int(v) for v in lists._row_full]
        out.append({"round": r, "flags_type": type(made._row_full).__name__,
                    "us_per_push": {k: round(v / args.pushes * 1e6, 3) for k, v in took.items()},
                    "ratio_made_to_lists": round(took["made"] / took["lists"], 4)})
        print(out[-1], file=sys.stderr, flush=True)
    print(json.dumps({"machine": machine_info(), "load_average": [round(v, 2) for v in os.getloadavg()],
                      "size": args.size, "n": args.n, "pushes": args.pushes, "rounds": out}, indent=1))


if __name__ == "__main__":
    main()
