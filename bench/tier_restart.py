"""A restart onto another bundle or `scoring.profile`: resumed (swap5) against refused (a fresh warm-up, before).

Why: such a checkpoint was refused whole and the agent warmed up again, blind; now all but the model tier resumes
and the tier is prepared as a hot-swapped bundle is (on the checkpoint's recent ticks when the ring is full, else
once it has filled with live ticks; the fallback scores meanwhile). Each file is run three ways over the same rows,
the first life (`--before`) restarted at scored tick R through a real checkpoint file onto the second (`--after`):
- `through`: the second config from the start, never restarted (what it would have been);
- `refused`: the second config warms up again from R on (the checkpoint refused: what batch38 did);
- `resumed`: the checkpoint restored with the model tier prepared again (Pipeline.restore's `tier_changed`);
- with `--replay`, a fourth, `replay` (swap6): `resumed`, then the model tier left waiting prepared at once on a
  recording (agent/pipeline_state.py tier_from_replay, as a restart with `warmup.replay` does) — the file's
  training rows, the rows a fresh start's warm-up fits on, standing in for it (the evaluator has no other normal
  recording of each session).
Reported over the rows after R: ticks unscored, ticks until the model tier scores, point-wise F1 / FAR / MAR of the
alert-open ticks against the labels, and the share of ticks whose alert-open state agrees with `through`.

    python bench/tier_restart.py skab --bundle DIR [--bundle-after DIR] [--before KEY=VALUE ...] [--restart 50]
    python bench/tier_restart.py skab --replay --bundle DIR --before scoring.profile.enabled=false     # swap6's run

`--replay-ticks N` (with `--replay`): the recording is the newest N training rows only — shorter than the ring (a
warm-up's length), the tier is fitted on it alone when it holds at least `scoring.profile.min_ticks` ticks (clock24;
before, it was dropped and the tier waited for the whole ring, as `resumed` does).
    python bench/tier_restart.py sim [--days 3] ...      # the corridor bench's simulator with the demo bundle
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

import accuracy  # noqa: E402
import standby_warm  # noqa: E402

from agent.bundle import Expectation  # noqa: E402
from agent.checkpoint import CheckpointStore, fingerprint, tier_mismatch  # noqa: E402
from agent.evaluate.labelled import labelled_source, load_files, protocol_of  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.pipeline_state import tier_from_replay  # noqa: E402
from agent.scorers import load_tiers  # noqa: E402
from agent.topology import adjacency  # noqa: E402
from agent.warmup import WarmupRows  # noqa: E402

WAYS = ("through", "refused", "resumed")        # and, with --replay, "replay"


def new_pipeline(cfg, f, bundle: str) -> Pipeline:
    """The pipeline the evaluator runs on a file: its training rows the warm-up, counted in ticks, no budget."""
    tick_cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                                   scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, refusals = load_tiers(tick_cfg.scoring, bundle, Expectation.from_config(cfg), cfg.alerts.top_k,
                                 cfg.base_dir)
    if not tiers:
        raise SystemExit(f"no model tier loaded: {refusals}")
    return Pipeline(tick_cfg, tiers=tiers, warmup_ticks=f.train_ticks)


def _fp(pipe: Pipeline) -> dict:
    return fingerprint(pipe.cfg, adjacency(pipe.specs, pipe.cfg.topology), pipe.bundle_identity())


def resumed(pipe: Pipeline, new: Pipeline) -> tuple[Pipeline, str | None]:
    """`pipe`'s state through a real checkpoint file into `new`, as the agent's start does (agent/resume.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = CheckpointStore(tmp)
        store.save({"config": _fp(pipe)}, {"pipeline": pipe.state_dict()})
        meta, state = store.load(_fp(new), tier_apart=True)
    why = tier_mismatch(meta["config"], _fp(new))
    new.restore(state["pipeline"], why)
    return new, why


def recording(f, sensors: int, ticks: int | None = None) -> WarmupRows:
    """The file's training rows (its warm-up), the newest `ticks` of them when given, as agent/warmup.py
    read_replay gives a recording."""
    first = 0 if ticks is None else max(0, f.train_ticks - ticks)
    rows = WarmupRows(sensors, f.train_ticks - first)
    for row in f.rows[first:f.train_ticks]:
        rows.append(row)
    return rows


def run(f, before, after, restart: int | None, way: str, replay_ticks: int | None = None) -> dict:
    """One way over one file: per row after the restart (alert open, scored, tier, label); `why` the restore's
    tier change, `note` the replay way's tier note."""
    cfg, bundle = (after if way == "through" else before)
    pipe = new_pipeline(cfg, f, bundle)
    out = {"open": [], "scored": [], "model": [], "label": [], "why": None, "note": None}
    scored, restarted = 0, False
    for row in f.rows:
        res = pipe.step(row)
        if not res.warming:
            scored += 1
        if restarted:
            out["open"].append(bool(pipe.alerts.active))
            out["scored"].append(not res.warming)
            out["model"].append(not res.warming and res.tier != "numpy")
            out["label"].append(-1 if row.label is None else int(row.label))
        if not restarted and scored == restart:
            restarted = True        # (`through` goes on: its rows from here are the others')
            fresh = None if way == "through" else new_pipeline(after[0], f, after[1])
            if way in ("resumed", "replay"):
                pipe, out["why"] = resumed(pipe, fresh)
            if way == "replay":
                tier_from_replay(pipe, lambda: (recording(f, len(pipe.sensors), replay_ticks), "training rows"))
                out["note"] = pipe.tier_note
            elif way == "refused":
                pipe = fresh
    return out


def figures(sides: list[dict], through: list[dict] | None = None) -> dict:
    cat = {k: np.concatenate([np.asarray(s[k]) for s in sides]) for k in ("open", "scored", "model", "label")}
    keep = cat["label"] >= 0
    y, p = cat["label"][keep] == 1, cat["open"][keep].astype(bool)
    tp, fp, fn, tn = (int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum()), int((~y & ~p).sum()))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    out = {"rows": int(len(cat["open"])), "unscored": int((~cat["scored"].astype(bool)).sum()),
           "model_scored": int(cat["model"].astype(bool).sum()),
           "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
           "far_pct": 100.0 * fp / (fp + tn) if fp + tn else 0.0, "mar_pct": 100.0 * fn / (fn + tp) if fn + tp else 0.0,
           "until_model": [int(np.argmax(np.asarray(s["model"]))) if any(s["model"]) else None for s in sides]}
    if through is not None:
        ref = np.concatenate([np.asarray(s["open"]) for s in through])
        out["open_agreement_with_through"] = float(np.mean(ref == cat["open"]))
    return out


def sim_setup(args, work: Path):
    """The corridor bench's simulator (bench/accuracy.py corridor_config), `--days` long, with the demo bundle."""
    bundle = str(ROOT / "agent" / "models" / "demo-corridor")

    def make(overrides: list[str], b: str):
        return accuracy.corridor_config([f"sources.0.duration_s={args.days * 86400}", *overrides], b)
    src = labelled_source(make([], bundle), None)
    files, skipped = load_files(make([], bundle), src, protocol_of(src))
    return make, files, skipped, bundle


def skab_setup(args, work: Path):
    """SKAB's files as bench/standby_warm.py reads them (configs/skab.yaml, `--files`), each life's config made apart."""
    _, files, skipped, bundle = standby_warm.skab_setup(argparse.Namespace(set=None, data=args.data, files=args.files,
                                                                           bundle=args.bundle), work)

    def make(overrides: list[str], b: str):
        return accuracy.skab_config(accuracy.SKAB_CONFIG, overrides, b)
    return make, files, skipped, bundle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["sim", "skab"])
    ap.add_argument("--restart", type=int, default=50, help="the scored tick after which the first life stops")
    ap.add_argument("--days", type=float, default=3.0, help="sim: simulated days, the warm-up's included")
    ap.add_argument("--before", action="append", default=[], help="KEY=VALUE of the first life only (repeatable)")
    ap.add_argument("--after", action="append", default=[], help="KEY=VALUE of the second life only (repeatable)")
    ap.add_argument("--data", default="/work/shared/data/skab")
    ap.add_argument("--bundle", default=None, help="skab: the first life's bundle")
    ap.add_argument("--bundle-after", default=None, help="the second life's bundle (default: the first's)")
    ap.add_argument("--files", default="dev", choices=["dev", "rest", "all"])
    ap.add_argument("--replay", action="store_true", help="the fourth way, `replay` (swap6: the module's doc)")
    ap.add_argument("--replay-ticks", type=int, default=None, help="with --replay: the recording is the newest N "
                    "training rows (clock24)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make, files, skipped, bundle = (sim_setup if args.what == "sim" else skab_setup)(args, Path(tmp))
        before = (make(args.before, bundle), bundle)
        after = (make(args.after, args.bundle_after or bundle), args.bundle_after or bundle)
        ways = {w: [] for w in ((*WAYS, "replay") if args.replay else WAYS)}
        for f in files:
            for w in ways:
                ways[w].append(run(f, before, after, args.restart, w, args.replay_ticks))
            print(json.dumps({"file": f.name, "why": ways["resumed"][-1]["why"],
                              **({"note": ways["replay"][-1]["note"]} if args.replay else {}),
                              **{w: figures([ways[w][-1]]) for w in ways}}), file=sys.stderr, flush=True)
    report = {"what": args.what, "before": args.before, "after": args.after, "bundle": bundle,
              "bundle_after": after[1], "restart_at_scored_tick": args.restart, "skipped": skipped,
              **({"replay_ticks": args.replay_ticks} if args.replay else {}),
              **{w: figures(ways[w], ways["through"] if w != "through" else None) for w in ways}}
    for w in ways:
        r = report[w]
        print(f"{w}: {r['rows']} rows after the restart, unscored {r['unscored']}, model-scored {r['model_scored']}, "
              f"until the model tier {r['until_model']}, F1 {r['f1']:.3f} FAR {r['far_pct']:.2f} % "
              f"MAR {r['mar_pct']:.2f} %"
              + (f", alert-open agrees with through {r['open_agreement_with_through']:.4f}"
                 if "open_agreement_with_through" in r else ""), file=sys.stderr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
