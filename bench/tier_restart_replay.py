"""An upgrade onto `scoring.profile` with `warmup.replay` set: the model tier prepared on the recording at once (swap6).

Why: with a checkpoint written with the profile off, the restarted agent's model tier waited for the recent ticks
to fill with live ones (swap5; user13's gateway: 30 minutes on the fallback). Now, with `warmup.replay`, it is
prepared on the recording before the first live tick (agent/pipeline_state.py tier_from_replay). This runs
bench/tier_restart.py's three ways (`through`, `refused`, `resumed`) and a fourth, `replay`: `resumed` and then
the tier prepared on the file's training rows — the rows a fresh start's warm-up fits on, standing in for the
recording (the evaluator has no other normal recording of each session). Same figures, rows after the restart.

    python bench/tier_restart_replay.py --bundle DIR [--before KEY=VALUE ...] [--restart 50]     # SKAB

`--replay-ticks N`: the recording is the newest N training rows only — shorter than the ring (a warm-up's
length), the tier is fitted on it alone when it holds at least `scoring.profile.min_ticks` ticks (clock24;
before, it was dropped and the tier waited for the whole ring, as `resumed` does).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tier_restart  # noqa: E402  (puts the repository on sys.path too)

from agent.pipeline_state import tier_from_replay  # noqa: E402
from agent.warmup import WarmupRows  # noqa: E402

WAYS = ("through", "refused", "resumed")


def recording(f, sensors: int, ticks: int | None = None) -> WarmupRows:
    """The file's training rows (its warm-up), the newest `ticks` of them when given, as read_replay gives a
    recording."""
    first = 0 if ticks is None else max(0, f.train_ticks - ticks)
    rows = WarmupRows(sensors, f.train_ticks - first)
    for row in f.rows[first:f.train_ticks]:
        rows.append(row)
    return rows


def replayed(f, before, after, restart: int, ticks: int | None = None) -> dict:
    """The `replay` way over one file: `resumed`, then tier_from_replay on the training rows; rows after R."""
    pipe = tier_restart.new_pipeline(before[0], f, before[1])
    out = {"open": [], "scored": [], "model": [], "label": [], "why": None, "note": None}
    rows = iter(f.rows)
    scored = 0
    for row in rows:
        scored += not pipe.step(row).warming
        if scored == restart:
            break
    pipe, out["why"] = tier_restart.resumed(pipe, tier_restart.new_pipeline(after[0], f, after[1]))
    tier_from_replay(pipe, lambda: (recording(f, len(pipe.sensors), ticks), "training rows"))
    out["note"] = pipe.tier_note
    for row in rows:
        res = pipe.step(row)
        out["open"].append(bool(pipe.alerts.active))
        out["scored"].append(not res.warming)
        out["model"].append(not res.warming and res.tier != "numpy")
        out["label"].append(-1 if row.label is None else int(row.label))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--restart", type=int, default=50, help="the scored tick after which the first life stops")
    ap.add_argument("--before", action="append", default=[], help="KEY=VALUE of the first life only (repeatable)")
    ap.add_argument("--after", action="append", default=[], help="KEY=VALUE of the second life only (repeatable)")
    ap.add_argument("--data", default="/work/shared/data/skab")
    ap.add_argument("--bundle", required=True, help="the bundle of both lives")
    ap.add_argument("--files", default="dev", choices=["dev", "rest", "all"])
    ap.add_argument("--replay-ticks", type=int, default=None, help="the recording: the newest N training rows")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make, files, skipped, bundle = tier_restart.skab_setup(args, Path(tmp))
        before, after = (make(args.before, bundle), bundle), (make(args.after, bundle), bundle)
        ways = {w: [] for w in (*WAYS, "replay")}
        for f in files:
            for w in WAYS:
                ways[w].append(tier_restart.run(f, before, after, args.restart, w))
            ways["replay"].append(replayed(f, before, after, args.restart, args.replay_ticks))
            print(json.dumps({"file": f.name, "note": ways["replay"][-1]["note"],
                              **{w: tier_restart.figures([ways[w][-1]]) for w in ways}}), file=sys.stderr, flush=True)
    report = {"before": args.before, "after": args.after, "bundle": bundle, "restart_at_scored_tick": args.restart,
              "replay_ticks": args.replay_ticks,
              "skipped": skipped,
              **{w: tier_restart.figures(ways[w], ways["through"] if w != "through" else None) for w in ways}}
    for w in ways:
        r = report[w]
        print(f"{w}: {r['rows']} rows after the restart, unscored {r['unscored']}, model-scored {r['model_scored']}, "
              f"until the model tier {r['until_model']}, F1 {r['f1']:.3f} FAR {r['far_pct']:.2f} % "
              f"MAR {r['mar_pct']:.2f} %" + (f", alert-open agrees with through {r['open_agreement_with_through']:.4f}"
                                             if "open_agreement_with_through" in r else ""), file=sys.stderr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
