"""Every reject the record fuzz's bad lines draw, as the user reads it: does each name where (file or stream, line) and
what (the field, key, column or sensor)? Prints JSON.

Run: python bench/fuzz_reasons.py [--seeds 81 82 83] [--rate 0.5]

bench/fuzz_front.py --part records judges counts and alerts, and keeps a run's first 8 reject lines: a reason whose
wording says nothing of the place or the field passes it. Here the same generators (bench/fuzz_records.py: the JSON
lines' bad kinds, the CSV's bad rows and headers again) are read by the real sources in this process — stdin's reader
on a file, the replay on a .jsonl and a .csv — and their records by the agent's aligner, with every reject kept (the
agent logs a reason's first 5, then one line a minute). Each reject is judged:
- `where` must be the stream or file and a line number (`stdin:12`, `rec.csv:40`);
- its detail must not be empty, and must name what was wrong with it — a field (`field 'ts'`, `field 'a'`), a key, a
  column, a sensor, a header or the line itself — or be a reason that is the line's whole (bad json, line too long,
  …: `WHOLE_LINE`);
- no detail may carry a Python type's or exception's own text (`timedelta(`, `Traceback`, `object at 0x`).
Printed: per source, every (reason, detail with its numbers as #) seen, counted, with one example; and the ones judged
wanting. A crash or hang of the agent itself is bench/fuzz_front.py's to find (real processes): this reads the words.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz_records import clean_rows, dirty_csv, dirty_stream  # noqa: E402

from agent.config import from_dict  # noqa: E402
from agent.records import Detail, Rejects, worded  # noqa: E402
from agent.sources.replay import ReplayConfig, ReplaySource  # noqa: E402
from agent.sources.stdin import StdinConfig, StdinSource  # noqa: E402
from agent.window import Aligner  # noqa: E402

SENSORS = ["a", "b", "c"]
WHERE = re.compile(r"^(stdin|rec\.(jsonl|csv))(?: \(from byte [\d,]+\))?:\d+$")
#: Reasons that are about the line as a whole: no field to name.
WHOLE_LINE = {"bad json", "bad csv", "line too long", "wrong column count", "no values", "missing time", "duplicate",
              "late", "timestamp jump", "clock skew", "bad timestamp"}
NAMES_WHAT = re.compile(r"field|key|column|sensor|header|line|\bts\b|time", re.I)
PYTHON_WORDS = re.compile(r"timedelta\(|Traceback|object at 0x|<class |NoneType|Invalid isoformat|could not convert|"
                          r"maximum recursion|line \d+ column \d+")


class KeptRejects(Rejects):
    """Rejects that keep every (reason, where, detail) besides counting."""

    def __init__(self):
        super().__init__()
        self.kept: list[tuple[str, str, str]] = []

    def add(self, reason: str, where: str, detail: Detail = "") -> None:
        detail = worded(detail)
        self.kept.append((reason, where, detail))
        super().add(reason, where, detail)

    def add_many(self, reason: str, where: str, n: int, detail: Detail = "") -> None:
        detail = worded(detail)
        self.kept += [(reason, where, detail)] * n
        super().add_many(reason, where, n, detail)


def aligned(records, rejects: Rejects) -> int:
    cfg = from_dict({"tick_s": 1, "sensors": SENSORS, "sources": [{"type": "stdin"}], "window": {"steps": 8,
                     "lateness_ticks": 1, "carry_forward_s": 3}, "warmup": {"ticks": 150}, "sinks": []})
    aligner, rows = Aligner.for_agent(cfg, rejects), 0
    for rec in records:
        rows += len(aligner.push(rec))
    return rows + len(aligner.flush_all())


def read(source: str, lines: list[bytes], work: Path) -> KeptRejects:
    rejects = KeptRejects()
    path = work / f"rec.{source}"
    path.write_bytes(b"\n".join(lines) + b"\n")
    if source == "stdin":       # its input a file's descriptor, read as a pipe's is
        with open(path, "rb") as stream:
            aligned(StdinSource(StdinConfig(max_line_bytes=1_048_576), SENSORS, rejects, stream=stream).records(),
                    rejects)
        return rejects
    src = ReplaySource(ReplayConfig(path=str(path), speed=0.0), SENSORS, rejects)
    try:
        aligned(src.records(), rejects)
    finally:
        src.close()
    return rejects


def judged(reason: str, where: str, detail: str) -> str | None:
    if not WHERE.match(where):
        return f"where {where!r} names no stream/file and line"
    if not detail.strip():
        return "no detail"
    if PYTHON_WORDS.search(detail):
        return "Python's own words"
    if reason not in WHOLE_LINE and not NAMES_WHAT.search(detail):
        return "names no field, key, column or sensor"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[81, 82, 83])
    ap.add_argument("--rate", type=float, default=0.5, help="bad lines after this share of the good ones")
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)        # the rejects are kept whole here; their log lines would be a flood
    seen: dict[str, Counter] = defaultdict(Counter)
    example: dict[tuple, tuple] = {}
    wanting: list[dict] = []
    made_all: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-reasons-") as d:
        for seed in args.seeds:
            for source in ("stdin", "jsonl", "csv"):
                rng = random.Random(seed)
                rows = clean_rows(1_767_600_000.0, 1.0)
                if source == "csv":
                    lines, made = dirty_csv(rows, rng, args.rate)
                else:
                    lines, made = dirty_stream(rows, rng, 1_767_600_000.0, 1.0, args.rate)
                made_all.update({f"{source}: {k}": v for k, v in made.items()})
                work = Path(d) / f"{source}-{seed}"
                work.mkdir()
                for reason, where, detail in read(source, lines, work).kept:
                    shape = re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "#", detail)[:160]
                    seen[source][(reason, shape)] += 1
                    example.setdefault((source, reason, shape), (where, detail[:300]))
                    why = judged(reason, where, detail)
                    if why and len(wanting) < 200:
                        wanting.append({"source": source, "seed": seed, "reason": reason, "where": where,
                                        "detail": detail[:300], "why": why})
    out = {"bench": "fuzz_reasons", "seeds": args.seeds, "rate": args.rate, "made": dict(made_all),
           "reasons": {src: [{"reason": r, "shape": s, "count": n, "example": example[(src, r, s)]}
                             for (r, s), n in sorted(c.items())] for src, c in seen.items()},
           "wanting": wanting}
    print(json.dumps(out, indent=1))
    return 1 if wanting else 0


if __name__ == "__main__":
    sys.exit(main())
