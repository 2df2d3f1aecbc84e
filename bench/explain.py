"""Which rule puts an alert's first `top_steps` entry where its evidence began (the explain1 round).

Why: skab48 found the attention tier's temporal attention near flat on the SKAB bundles (~1/31 per step), so a
model-tier alert's top steps, taken from it, said nothing of when. This replays labelled data through the daemon's
Pipeline (one model tier + numpy, as `stad-agent evaluate` does), keeps the window every `new` alert was built on,
and asks each rule which step it puts first:

- `attention`: the model tier's temporal attention (the tick's `time_weights`: what `explain` read before this
  round), or with `--attention-from-event` the top step the `new` event carried (only meaningful at a commit
  before explain1's, where the event's step was the attention's);
- `deviation`: the fallback's rule before this round, |normalised value| of the worst sensor;
- `change_point`: the top sensors' window split where the two sides' means differ most (CUSUM statistic),
  summed over the top sensors by their share of the score — `agent.alert_events.step_weights`, what `explain`
  gives every tier since this round (`event_top_is` checks that the events carried it);
- `change_point_t`: the same split over the two sides' pooled spread (the t statistic), a candidate not adopted;
- floors: `newest` (always the newest step) and `random` (a uniform step; the mean over 1000 seeded draws).

Population B: alerts raised inside a labelled span whose onset lies inside the alert's window. Per rule, over B:
the median |top step − onset| in ticks, the share within 2 ticks of it, the share at or after it (inside the
span); and the inside share over every alert raised in a span. JSON on stdout:

    python bench/explain.py --skab-bundle /work/helpers/skab/R34/W-s0 --skab-config /work/helpers/skab/G.yaml \
        --seeds 7 8 9 --corridor-schedule incidents [--scorer numpy] > /tmp/explain1/explain.json

Figures and the rule they were judged by: docs/measured/accuracy-skab.md, the explain1 round.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402  (bench/accuracy.py: the SKAB and corridor configs bench/ measures with)

from agent import alert_events  # noqa: E402
from agent.evaluate.labelled import labelled_source, load_files, protocol_of  # noqa: E402
from agent.evaluate.score_file import model_tier  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

RULES = ("attention", "deviation", "change_point", "change_point_t", "newest", "random")
SPREAD_FLOOR = 1e-3     # (c2): the pooled standard deviation's floor, normalised units (a flat window's)
NEAR_TICKS = 2
RANDOM_DRAWS = 1000


def captured_alerts(cfg, f, scorer: str, bundle: str) -> list[dict]:
    """Every `new` alert of `scorer`'s chain over `f`: the window it was built on, its sensor scores, the
    attention's time weights, and the top step it carried."""
    tick_cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                                   scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, refusals = model_tier(cfg, scorer, bundle)
    if not tiers and scorer != "numpy":
        raise RuntimeError(f"{scorer} did not load from {bundle}: {refusals}")
    pipe = Pipeline(tick_cfg, tiers=tiers, warmup_ticks=f.train_ticks)
    out = []
    for i, row in enumerate(f.rows):
        res = pipe.step(row)
        for ev in res.alerts:
            if ev.event != "new":
                continue
            w = pipe.window
            out.append({"row": i, "tier": ev.tier, "values": np.array(w.values, np.float64),
                        "missing": np.array(w.missing), "ts": np.array(w.ts),
                        "sensor_scores": np.array(res.scored.sensor_scores, np.float64),
                        "attention": None if res.time_weights is None else np.array(res.time_weights),
                        "event_top": ev.top_steps[0]["ts"] if ev.top_steps else None,
                        "top_k": cfg.alerts.top_k})
    return out


def deviation_weights(a: dict) -> np.ndarray:
    """The fallback's rule before this round: |normalised value| of the worst sensor."""
    col = np.abs(a["values"][:, int(np.argmax(a["sensor_scores"]))])
    return col


def t_change_weights(values, missing, sensor_scores, top_k: int) -> np.ndarray:
    """(c2): step_weights' split, its mean difference over the two sides' pooled standard deviation (the t
    statistic of a change in mean), summed over the top sensors by share of the score."""
    s = np.nan_to_num(np.asarray(sensor_scores, float), nan=0.0)
    order = np.argsort(-s)[:max(1, top_k)]
    order = order[s[order] > 0] if (s[order] > 0).any() else order[:1]
    steps = len(values)
    out = np.zeros(steps)
    x = np.asarray(values, np.float64)[:, order]
    seen = ~np.asarray(missing, bool)[:, order]
    at = np.where(seen, np.arange(steps)[:, None], -1)
    np.maximum.accumulate(at, axis=0, out=at)
    at = np.where(at < 0, np.argmax(seen, axis=0)[None, :], at)
    x = np.take_along_axis(x, at, axis=0)
    j = np.arange(1, steps)[:, None]
    c, c2 = np.cumsum(x, axis=0), np.cumsum(x * x, axis=0)
    before, after = c[:-1] / j, (c[-1] - c[:-1]) / (steps - j)
    ss = (c2[:-1] - j * before ** 2) + ((c2[-1] - c2[:-1]) - (steps - j) * after ** 2)
    spread = np.sqrt(np.maximum(ss, 0.0) / max(steps - 2, 1)) + SPREAD_FLOOR
    stat = np.abs(after - before) * np.sqrt(j * (steps - j) / steps) / spread
    stat[:, ~seen.any(axis=0)] = 0.0
    share = s[order] / s[order].sum() if s[order].sum() > 0 else np.full(order.size, 1.0 / order.size)
    out[1:] = stat @ share
    return out


def rule_weights(a: dict, rule: str) -> np.ndarray | None:
    if rule == "attention":
        return a["attention"]
    if rule == "deviation":
        return deviation_weights(a)
    if rule == "change_point":
        return alert_events.step_weights(a["values"], a["missing"], a["sensor_scores"], a["top_k"])
    if rule == "change_point_t":
        return t_change_weights(a["values"], a["missing"], a["sensor_scores"], a["top_k"])
    return None


def onset_of(labels: np.ndarray, i: int) -> int:
    """The first tick of the labelled run holding tick i."""
    j = i
    while j > 0 and labels[j - 1] == 1:
        j -= 1
    return j


def judge(alerts: list[dict], f, attention_from_event: bool) -> list[dict]:
    """Per alert raised in a labelled span: each rule's top step as a tick index, the onset, the window."""
    out = []
    labels = f.labels
    for a in alerts:
        i = a["row"]
        if labels[i] != 1:
            continue
        onset = onset_of(labels, i)
        steps = len(a["ts"])
        first = i - steps + 1            # the window's oldest step's tick (the window ends on the raise)
        rec = {"file": f.name, "raise": i, "onset": onset, "first": first, "tier": a["tier"], "top": {},
               "kind": f.events[onset] or f.events[i]}
        for rule in ("attention", "deviation", "change_point", "change_point_t"):
            if rule == "attention" and attention_from_event:
                if a["event_top"] is None:
                    continue
                j = int(np.argmin(np.abs(a["ts"] - a["event_top"])))
            else:
                w = rule_weights(a, rule)
                if w is None:
                    continue
                w = np.where(np.isfinite(a["ts"][:len(w)]), w, -np.inf)
                j = int(np.argmax(w))
            rec["top"][rule] = first + j
        rec["top"]["newest"] = i
        if a["event_top"] is not None:          # the step the event carried (at this commit: explain's rule)
            rec["event_top"] = first + int(np.argmin(np.abs(a["ts"] - a["event_top"])))
        out.append(rec)
    return out


def summary(judged: list[dict]) -> dict:
    b = [r for r in judged if r["onset"] >= r["first"]]
    res = {"alerts_in_span": len(judged), "population_b": len(b)}
    rng = np.random.default_rng(0)
    for rule in RULES:
        if rule == "random":
            meds, near, inside = [], [], []
            for _ in range(RANDOM_DRAWS):
                picks = [(r["first"] + rng.integers(0, r["raise"] - r["first"] + 1), r["onset"]) for r in b]
                d = np.array([abs(p - o) for p, o in picks])
                meds.append(np.median(d) if d.size else np.nan)
                near.append(np.mean(d <= NEAR_TICKS) if d.size else np.nan)
                inside.append(np.mean([p >= o for p, o in picks]) if picks else np.nan)
            res[rule] = {"median_ticks": round(float(np.mean(meds)), 2), "near_share": round(float(np.mean(near)), 3),
                         "inside_share_b": round(float(np.mean(inside)), 3)}
            continue
        have = [r for r in b if rule in r["top"]]
        d = np.array([abs(r["top"][rule] - r["onset"]) for r in have])
        every = [r for r in judged if rule in r["top"]]
        res[rule] = {"n": len(have),
                     "median_ticks": float(np.median(d)) if d.size else None,
                     "mean_ticks": round(float(np.mean(d)), 2) if d.size else None,
                     "near_share": round(float(np.mean(d <= NEAR_TICKS)), 3) if d.size else None,
                     "inside_share_b": round(float(np.mean([r["top"][rule] >= r["onset"] for r in have])), 3)
                     if have else None,
                     "inside_share_all": round(float(np.mean([r["top"][rule] >= r["onset"] for r in every])), 3)
                     if every else None}
    res["event_top_is"] = {rule: round(float(np.mean([r.get("event_top") == r["top"].get(rule) for r in judged])), 3)
                           for rule in ("attention", "deviation", "change_point", "change_point_t")} if judged else {}
    res["raise_after_onset_ticks_median_b"] = float(np.median([r["raise"] - r["onset"] for r in b])) if b else None
    return res


def measure(cfg, scorer: str, bundle: str, attention_from_event: bool, label: str) -> list[dict]:
    src = labelled_source(cfg, None)
    files, skipped = load_files(cfg, src, protocol_of(src))
    judged = []
    for f in files:
        alerts = captured_alerts(cfg, f, scorer, bundle)
        rows = judge(alerts, f, attention_from_event)
        for r in rows:
            r["data"] = label
        judged += rows
        print(f"{label} {f.name}: {len(alerts)} new alerts, {len(rows)} raised in a labelled span",
              file=sys.stderr, flush=True)
    return judged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skab-bundle", default="/work/helpers/skab/R34/W-s0")
    ap.add_argument("--skab-config", default="/work/helpers/skab/G.yaml")
    ap.add_argument("--corridor-bundle", default="builtin:demo-corridor")
    ap.add_argument("--seeds", type=int, nargs="*", default=[7, 8, 9])
    ap.add_argument("--corridor-schedule", default="mixed", choices=("mixed", "incidents"),
                    help="bench/accuracy.py's corridor schedules: every anomaly kind, or 18 graded incidents")
    ap.add_argument("--scorer", default="tflite")
    ap.add_argument("--only", choices=("skab", "corridor"))
    ap.add_argument("--attention-from-event", action="store_true",
                    help="rule `attention`: the top step the `new` event carried (only at a commit before explain1's)")
    ap.add_argument("--rows", help="write every judged alert (JSON lines) here")
    args = ap.parse_args(argv)
    out, rows = {}, []
    if args.only in (None, "skab"):
        cfg = accuracy.skab_config(Path(args.skab_config), None, args.skab_bundle)
        judged = measure(cfg, args.scorer, args.skab_bundle, args.attention_from_event, "skab")
        out["skab"] = summary(judged)
        out["skab_dev"] = summary([r for r in judged if r["file"] in accuracy.SKAB_DEV_FILES])
        rows += judged
    if args.only in (None, "corridor"):
        judged = []
        for seed in args.seeds:
            cfg = accuracy.corridor_config(None, args.corridor_bundle, args.corridor_schedule, seed=seed)
            judged += measure(cfg, args.scorer, args.corridor_bundle, args.attention_from_event, f"corridor-{seed}")
        out["corridor"] = summary(judged)
        rows += judged
    if args.rows:
        Path(args.rows).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
