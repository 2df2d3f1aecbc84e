"""What a NAB window holds, read off the file's values alone, and which kinds the agent finds per half.

    python bench/nab_kinds.py RUN/nab.json [--data ../shared/data] [--scorer numpy]

RUN/nab.json is `bench/accuracy.py --only nab --out RUN` over all files. Why: the tuning half scores
about 20 points above the test half with every config tried since issue 10's third round, and every
choice made on the tuning half moved the two halves apart. Either the choices overfit the tuning half
or the halves hold different kinds of windows; counting the windows found per kind and half tells
which. The kind is a property of the stream, not of the detector, so it is the same for every
variant: the first that holds of

- `new high` — the window's largest value is above every value the file had shown before it;
- `new low` — its smallest is below every earlier value;
- `flat` — it holds a run of equal values longer than any run before it (and at least FLAT_ROWS);
- `within range` — none of these: spikes, swings or a change of pattern inside the range seen.

"Before it" is every row of the file before the window's first row (the probationary part too),
which is what the agent had seen when the window began.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: A flat stretch is at least 12 equal rows: an hour on NAB's usual 5-minute files, 12 hours on
#: the hourly ones (realAdExchange).
FLAT_ROWS = 12
KINDS = ("new high", "new low", "flat", "within range")


def longest_run(values: np.ndarray) -> int:
    """The longest run of equal consecutive finite values (0 for none)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0
    edges = np.flatnonzero(np.diff(v) != 0)
    bounds = np.concatenate([[-1], edges, [v.size - 1]])
    return int(np.diff(bounds).max())


def window_kind(values: np.ndarray, left: int, right: int) -> str:
    """The kind of the window rows left..right of a file whose per-row values are `values`."""
    before, inside = values[:left], values[left:right + 1]
    before, seen = before[np.isfinite(before)], inside[np.isfinite(inside)]
    if seen.size == 0 or before.size == 0:
        return "within range"
    if seen.max() > before.max():
        return "new high"
    if seen.min() < before.min():
        return "new low"
    run = longest_run(inside)
    if run >= FLAT_ROWS and run > longest_run(values[:left]):
        return "flat"
    return "within range"


def tally(per_file: dict, names: list[str]) -> dict[str, list[int]]:
    """kind -> [windows found, windows] over the files `names` of a run's per_file results."""
    out = {k: [0, 0] for k in KINDS}
    for name in names:
        for w in per_file[name]["windows_detail"]:
            if "kind" not in w:
                raise SystemExit(f"{name}: its windows carry no kind: the run was written before "
                                 "bench/accuracy.py recorded it; run `bench/accuracy.py --only nab` again")
            out[w["kind"]][0] += w["found_at"] is not None
            out[w["kind"]][1] += 1
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--scorer", default="numpy")
    args = p.parse_args(argv)
    from bench.accuracy import nab_files        # here: bench/accuracy.py imports window_kind
    per_file = json.loads(Path(args.run).read_text())[args.scorer]["per_file"]
    root = Path(args.data) / "nab"
    print(f"{'half':5} {'category':22} " + " ".join(f"{k:>12}" for k in KINDS) + "   (found/windows)")
    for half in ("tune", "test"):
        by_category = {c: [f"{c}/{f.name}" for f in files if f"{c}/{f.name}" in per_file]
                       for c, files in nab_files(root, half).items()}
        for category, names in [*by_category.items(), ("all", [n for ns in by_category.values() for n in ns])]:
            t = tally(per_file, names)
            if sum(n for _, n in t.values()):
                print(f"{half:5} {category:22} " + " ".join(f"{f'{a}/{n}':>12}" for a, n in t.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
