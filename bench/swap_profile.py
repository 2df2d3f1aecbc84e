"""A hot-swapped bundle under `scoring.profile`, measured (swap1): does it score as the same bundle given
at start would, and does the shadow compare like with like?

1. `swap`: on each labelled file an agent on `--running` is asked (SIGHUP's path: `HotSwap.request`, the
   real load thread, joined before the next tick so the run is reproducible) for `--candidate` at its
   first scored tick; shadowed, then swapped in (or rejected) by the real HotSwap. From `swap_from` ticks
   after the warm-up on (after either code's swap), its alert state on every row is compared with a fresh
   agent started on `--candidate`: per-row agreement, and point-wise F1 / FAR / MAR of each against the labels.
   Runs on any version of the agent (batch36's too: PYTHONPATH=that checkout).
   `--restart` (swap2): the agent is restarted at that first scored tick — its checkpoint written to a real
   file and loaded into a new Pipeline and HotSwap, as a restart does — and the new one is asked: the candidate
   is fitted on the ring the checkpoint restored (on a version that does not checkpoint it: on nothing).
2. `copy` (`--copy-shadows`, this branch only): shadows one after another beside the running bundle, each of a
   fresh copy of it prepared as the load prepares it (`prepare(tiers, recent_ticks())`, a window scored
   unjudged, then `shadow_ticks` judged ticks through `score_beside` and a shadow Detector), and, on the same
   ticks, the copy as batch36 prepared and scored it (`prepare(tiers)`, the raw score quieted). The
   correlation each shadow would log, for both.

3. `--checkpoint-cost` (swap2): on each file, after the warm-up, the checkpoint written with the recent ticks
   and without them (the same pipeline, `recent` set aside), interleaved `--repeats` times: bytes and p50 write
   seconds of each; and the ring at its cap (20,000 ticks × 50 sensors) saved alone beside an empty checkpoint.

    PYTHONPATH=. python bench/swap_profile.py -c configs/skab.yaml --data /work/shared/data/skab \
        --running /tmp/skab23/W/W-s0 --candidate /tmp/skab23/W/W-s2 [--copy-shadows] [--restart] > out.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from agent.checkpoint import CheckpointStore, fingerprint
from agent.config import load
from agent.evaluate.labelled import labelled_source, load_files, protocol_of
from agent.evaluate.metrics import confusion
from agent.evaluate.score_file import model_tier
from agent.hotswap import HotSwap, Shadow, _no_explanation
from agent.pipeline import Pipeline
from agent.topology import adjacency

SETTLE_AND_MARGIN = 10      # ticks after the longest shadow (settle + shadow_ticks) before rows are compared


def alert_states(pipe: Pipeline, rows, swap: HotSwap | None = None,
                 restart=None) -> tuple[list[bool], int | None, HotSwap | None]:
    """Each row's alert state (an alert open after its tick), the scored-tick index of the swap, if any, and the
    HotSwap that ran it; `restart`: the pipeline → the restarted one, at the first scored tick (before the swap
    is asked for: a new HotSwap on it asks)."""
    states, swapped_at, scored = [], None, 0
    for row in rows:
        res = pipe.step(row)
        if swap is not None:
            if not res.warming and scored == 0:
                if restart is not None:
                    pipe = restart(pipe)
                    swap = HotSwap(swap.cfg, pipe, poll_ticks=swap.poll_ticks)
                swap.request()
            swap.on_tick(res)
            if swap._loading is not None:
                swap._loading.join()           # the load done before the next tick: the same run every time
            if swapped_at is None and pipe.chain.switch_count:
                swapped_at = scored
        scored += not res.warming
        states.append(pipe.alerts.active)
    return states, swapped_at, swap


def checkpoint_of(cfg, pipe: Pipeline) -> tuple[CheckpointStore, dict]:
    """The state_dir's checkpoint store and the fingerprint `pipe`'s checkpoint is written and loaded with."""
    return CheckpointStore(cfg.state_dir), fingerprint(cfg, adjacency(pipe.specs, cfg.topology), pipe.bundle_identity())


def restarter(cfg, running: str, warmup_ticks: int):
    """pipeline → a new one on `running` restored from the checkpoint it writes (a real file in state_dir)."""
    def restart(pipe: Pipeline) -> Pipeline:
        store, fp = checkpoint_of(cfg, pipe)
        store.save({"config": fp}, {"pipeline": pipe.state_dict()})
        tiers, _ = model_tier(cfg, "tflite", running)
        new = Pipeline(cfg, tiers=tiers, warmup_ticks=warmup_ticks)
        new.restore(store.load(fp)[1]["pipeline"])
        return new
    return restart


def checkpoint_cost(cfg, f, running: str, repeats: int) -> dict:
    """Bytes and p50 write seconds of the checkpoint after the warm-up, with and without the recent ticks."""
    tiers, _ = model_tier(cfg, "tflite", running)
    pipe = Pipeline(cfg, tiers=tiers, warmup_ticks=f.train_ticks)
    for row in f.rows:
        if not pipe.step(row).warming:
            break
    store, fp = checkpoint_of(cfg, pipe)
    ring, got = pipe.recent, {"with": [], "without": []}
    for _ in range(repeats):
        for side in got:
            pipe.recent = ring if side == "with" else None
            got[side].append(store.save({"config": fp}, {"pipeline": pipe.state_dict()}))
    pipe.recent = ring
    return {side: {"bytes": runs[0]["bytes"], "p50_ms": round(float(np.median([r["seconds"] for r in runs])) * 1e3, 3)}
            for side, runs in got.items()} | {"ring_nbytes": ring.nbytes, "ring_ticks": len(ring)}


def cap_cost(state_dir: str, repeats: int, sensors: int = 50) -> dict:
    """The ring at its cap (MAX_TICKS ticks of `sensors` sensors, full) saved alone in a checkpoint, beside an
    empty one, interleaved: what the ring adds to a write at worst."""
    from agent.recent_ticks import MAX_TICKS, RecentTicks
    rng = np.random.default_rng(0)
    ring = RecentTicks(MAX_TICKS, sensors)
    ring.extend(rng.normal(size=(MAX_TICKS, sensors)), rng.random((MAX_TICKS, sensors)) < 0.01,
                1.7e9 + np.arange(MAX_TICKS, dtype=float))
    store, got = CheckpointStore(state_dir), {"with": [], "without": []}
    for _ in range(repeats):
        for side in got:
            got[side].append(store.save({}, {"recent": ring.state_dict()} if side == "with" else {}))
    return {"ticks": MAX_TICKS, "sensors": sensors, "ring_nbytes": ring.nbytes,
            **{side: {"bytes": runs[0]["bytes"], "p50_ms": round(float(np.median([r["seconds"] for r in runs])) * 1e3, 3)}
               for side, runs in got.items()}}


def figures(labels: np.ndarray, pred: np.ndarray) -> dict:
    c = confusion(labels, pred)
    ratio = (lambda a, b: round(a / b, 4) if b else None)
    return {"f1": ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn), "far": ratio(c.fp, c.fp + c.tn),
            "mar": ratio(c.fn, c.fn + c.tp), "rows": int(len(labels))}


def copy_shadows(cfg, f, running: str, n: int) -> tuple[list[float], list[float]]:
    """(new, old) correlations of consecutive shadows of fresh copies of the running bundle."""
    from agent.detector import Detector
    from agent.models_dir import build_candidate
    tiers, why = model_tier(cfg, "tflite", running)
    pipe = Pipeline(cfg, tiers=tiers, warmup_ticks=f.train_ticks)
    steps, new, old = cfg.window.steps, [], []
    shadow = None
    for row in f.rows:
        res = pipe.step(row)
        if res.warming:
            continue
        if shadow is None:
            cand, _ = build_candidate(cfg, Path(running))
            thr = pipe.prepare(cand, pipe.recent_ticks())
            raw, _ = build_candidate(cfg, Path(running))
            pipe.prepare(raw)
            det = Detector(cfg.alerts, cfg.node.id, cfg.node.site, cfg.tick_s, thr)
            shadow = {"settle": steps, "cur": [], "new": [], "old": [], "c": cand[0], "r": raw[0], "det": det}
        c = pipe.score_beside(shadow["c"], shadow["det"].threshold("tflite"))
        r = pipe.health.quiet(shadow["r"].score(pipe.window))       # batch36's score_beside
        if shadow["settle"] > 0:
            shadow["settle"] -= 1
            continue
        shadow["det"].step(res.ts, c.score, "tflite", shadow["c"].describe, _no_explanation)
        shadow["cur"].append(res.score)
        shadow["new"].append(c.score)
        shadow["old"].append(r.score)
        if len(shadow["cur"]) == n:
            for side, out in (("new", new), ("old", old)):
                out.append(Shadow(path=Path("."), trigger="bench", tiers=[], detector=None,
                                  current=shadow["cur"], candidate=shadow[side]).correlation())
            shadow = None
    return new, old


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--running", required=True)
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--copy-shadows", action="store_true")
    ap.add_argument("--only", default=None, help="files whose name contains this")
    ap.add_argument("--restart", action="store_true", help="restart the agent (checkpoint) before the swap")
    ap.add_argument("--checkpoint-cost", action="store_true", help="only the checkpoint's bytes and write time")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    running, candidate = str(Path(args.running).resolve()), str(Path(args.candidate).resolve())
    base = load(args.config)
    tmp = Path(tempfile.mkdtemp(prefix="swap-profile-"))
    models = tmp / "models"
    shutil.copytree(candidate, models / "candidate")
    scoring = dataclasses.replace(base.scoring, chain=["tflite", "numpy"], latency_budget_ms=math.inf,
                                  bundle=running, models_dir=str(models))
    cfg = dataclasses.replace(base, warmup=dataclasses.replace(base.warmup, counts="ticks"), scoring=scoring,
                              state_dir=str(tmp / "state"))
    fresh_cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(scoring, bundle=candidate, models_dir=None))
    n = cfg.scoring.shadow_ticks
    swap_from = cfg.window.steps + n + SETTLE_AND_MARGIN
    src = labelled_source(cfg, args.data)
    files, skipped = load_files(cfg, src, protocol_of(src))
    files = [f for f in files if args.only is None or args.only in f.name]
    if args.checkpoint_cost:
        Path(cfg.state_dir).mkdir(parents=True, exist_ok=True)
        per = {f.name: checkpoint_cost(cfg, f, running, args.repeats) for f in files}
        ratio = [v["with"]["p50_ms"] / v["without"]["p50_ms"] for v in per.values()]
        print(json.dumps({"config": args.config, "running": running, "repeats": args.repeats,
                          "ring_bytes_median": float(np.median([v["ring_nbytes"] for v in per.values()])),
                          "checkpoint_bytes_median": {s: float(np.median([v[s]["bytes"] for v in per.values()]))
                                                      for s in ("with", "without")},
                          "write_time_ratio_median": round(float(np.median(ratio)), 3),
                          "at_the_cap": cap_cost(cfg.state_dir, args.repeats), "per_file": per}, indent=1))
        shutil.rmtree(tmp, ignore_errors=True)
        return 0
    labels, swapped, fresh, per_file = [], [], [], []
    copies = {"new": [], "old": [], "new_first": [], "new_later": []}
    for f in files:
        (Path(cfg.state_dir)).mkdir(parents=True, exist_ok=True)
        tiers, why = model_tier(cfg, "tflite", running)
        pipe = Pipeline(cfg, tiers=tiers, warmup_ticks=f.train_ticks)
        swap = HotSwap(cfg, pipe, poll_ticks=10 ** 9)
        got, at, swap = alert_states(pipe, f.rows, swap, restarter(cfg, running, f.train_ticks) if args.restart else None)
        tiers, why = model_tier(fresh_cfg, "tflite", candidate)
        want, _, _ = alert_states(Pipeline(fresh_cfg, tiers=tiers, warmup_ticks=f.train_ticks), f.rows)
        first = f.train_ticks + swap_from          # (warm-up counted in ticks: the first scored row is train_ticks)
        y = np.array([r.label or 0 for r in f.rows[first:]], bool)
        labels.append(y)
        swapped.append(np.array(got[first:], bool))
        fresh.append(np.array(want[first:], bool))
        last = swap.status()["last"] or {}
        per_file.append({"file": f.name, "swapped_at": at, "accepted": last.get("accepted"),
                         "shadow": {k: last.get(k) for k in ("score_correlation", "decision_agreement", "reason")},
                         "agreement": round(float(np.mean(swapped[-1] == fresh[-1])), 4) if len(y) else None})
        shutil.rmtree(cfg.state_dir, ignore_errors=True)
        if args.copy_shadows:
            new, old = copy_shadows(cfg, f, running, n)
            copies["new"] += new
            copies["old"] += old
            copies["new_first"] += new[:1]      # fitted on the warm-up's ticks, as the running tier was
            copies["new_later"] += new[1:]      # fitted on later calm ticks
        print(f"{f.name}: swap at {at}, agreement {per_file[-1]['agreement']}", file=sys.stderr, flush=True)
    y, s, w = np.concatenate(labels), np.concatenate(swapped), np.concatenate(fresh)
    out = {"config": args.config, "running": running, "candidate": candidate, "files": len(files),
           "skipped": skipped, "swap_from_scored_tick": swap_from,
           "swaps_accepted": sum(bool(p["accepted"]) for p in per_file),
           "row_agreement": round(float(np.mean(s == w)), 4),
           "hot_swapped": figures(y, s), "fresh_candidate": figures(y, w), "per_file": per_file}
    if args.copy_shadows:
        def summary(rs):
            a = np.asarray(rs, float)
            ok = a[np.isfinite(a)]
            q = (lambda p: round(float(np.quantile(ok, p)), 4)) if ok.size else (lambda p: None)
            return {"shadows": int(a.size), "undefined": int(np.isnan(a).sum()), "min": q(0), "p05": q(0.05),
                    "median": q(0.5), "below_0": int((ok < 0).sum()), "below_0.9": int((ok < 0.9).sum())}
        out["copy_shadows"] = {k if k != "old" else "old_batch36": summary(v) for k, v in copies.items()}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
