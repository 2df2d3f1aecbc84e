"""Where the attention tier's false alarms on SKAB come from, on training data only (issue 10, 21st round).

Why: the tier alone (`scoring.blend_numpy=0`) met the fallback's false-alarm rate on the 8 dev files but
raised twice it on all 30, so the rounds' dev rules did not see what generalises badly. The scored part
of the 22 other files may not be looked at while choosing; their warm-up part may. Two looks, JSON out:

- `holdout` (every file, its first 400 rows only — SKAB's training part, labelled normal): the pipeline
  warms up on the first `--fraction` of those rows and scores the rest, as it would score live rows.
  Per file and detector: the rows alerted (all of them false alarms), the threshold, and for the tier
  the parts that led its score on those rows (each sensor's profile distance or forecast error).
- `dev` (the 8 dev files, their scored part): per alert of the tier alone that covers labelled-normal
  rows, where it opens (ticks after warm-up, before/after the label), how long, its leading sensor and
  part, its score over the threshold, and whether the fallback raised an alert on the same rows; per file
  also the tier's missed anomalous rows. Since the skab37 round also why the alert is open on each of its
  false rows — `over` (the score above the threshold), `held` (under it, held by the level hold
  `alerts.hold_*`), `dip` (under it, not held: a span goes on to a later tick above) — how it ended (its
  `end` reason), and for an alert that opened after another had ended, that one's end reason (a re-alert
  on what an anomaly left): the tails and re-alerts the rounds since the twenty-fourth chased.
- `holdout --fraction 0` (skab44): each file whole, with SKAB's split, every scored row counted as a false
  alarm — for recordings labelled normal throughout (anomaly-free.csv cut into SKAB-sized files, its rows in
  other files' scored parts dropped): the live horizon a 120-row holdout cannot show. `scored`: the dev look
  on every file, only to check whether a proxy's false rows sit in the same files and sensors.

    python bench/skab_tier_diag.py --bundle /tmp/skab21/W-s0 [--skab-config G.yaml] [--set KEY=VALUE ...] > out.json
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402  (bench/accuracy.py: the config and the dev split bench/ measures with)

from agent import alerts as alerts_mod  # noqa: E402
from agent.alerts import AlertTracker  # noqa: E402
from agent.evaluate.labelled import labelled_source, load_files  # noqa: E402
from agent.evaluate.score_file import run_pipeline  # noqa: E402
from agent.evaluate.traces import FileRows  # noqa: E402
from agent.scorers import profile as profile_mod  # noqa: E402


class AlertRecorder:
    """Records, while one run lasts, the ticks on which the level hold kept an open alert going (agent/alerts.py
    imports `level_holds` by name: its name there is wrapped) and each alert's end (tick, reason, last tick above
    the threshold: the span's end as evaluate scores it)."""

    def __init__(self):
        self.held: set[float] = set()
        self.ends: list[tuple[float, str, float]] = []
        self._now = None
        self._holds, self._active, self._close = alerts_mod.level_holds, AlertTracker._active, AlertTracker.close

    def __enter__(self):
        rec = self
        holds, active, close = self._holds, self._active, self._close

        def level_holds(cfg, a, score, threshold, distance):
            held = holds(cfg, a, score, threshold, distance)
            if held:
                rec.held.add(rec._now)
            return held

        def _active(tracker, ts, *args, **kwargs):
            rec._now = ts
            return active(tracker, ts, *args, **kwargs)

        def _close(tracker, ts, score, threshold, tier, model, reason, fault=None):
            rec.ends.append((float(ts), reason, float(tracker.open.last_above)))
            return close(tracker, ts, score, threshold, tier, model, reason, fault)
        alerts_mod.level_holds, AlertTracker._active, AlertTracker.close = level_holds, _active, _close
        return self

    def __exit__(self, *exc):
        alerts_mod.level_holds, AlertTracker._active, AlertTracker.close = self._holds, self._active, self._close

    def end_of(self, last_above: float) -> str | None:
        """The end reason of the alert whose span ends at `last_above` (None: not ended)."""
        return next((reason for _, reason, last in self.ends if last == last_above), None)

    def ended_before(self, opened: float) -> str | None:
        """The end reason of the last alert that ended before a tick `opened` (None: none had)."""
        return next((reason for ts, reason, _ in reversed(self.ends) if ts < opened), None)


class PartRecorder:
    """Records the tier's per-sensor profile distance on every scored tick (the tier's score per sensor is
    max(forecast error, distance); recording the distance tells the two parts apart). The pipeline gives
    the tier its profile itself, so the class's method is wrapped for the length of one run. Also keeps
    each sensor's fitted wander (`scoring.profile.per_sensor_fraction`; None when off)."""

    def __init__(self):
        self.rows = []
        self.wander = None
        self._scores = profile_mod.NormalProfile.scores
        self._fit = profile_mod.NormalProfile.fit

    def __enter__(self):
        rec, real = self, self._scores

        def scores(profile, level):
            d = real(profile, level)
            if np.ndim(d) == 1:
                rec.rows.append(np.array(d))
            return d
        def fit(profile, *args, **kwargs):
            fitted = real_fit(profile, *args, **kwargs)
            rec.wander = None if profile.wander is None else [round(float(w), 3) for w in profile.wander]
            return fitted
        real_fit = self._fit
        profile_mod.NormalProfile.scores = scores
        profile_mod.NormalProfile.fit = fit
        return self

    def __exit__(self, *exc):
        profile_mod.NormalProfile.scores = self._scores
        profile_mod.NormalProfile.fit = self._fit


def run(cfg, f, scorer, bundle, alerts=None):
    """run_pipeline (agent/evaluate/score_file.py), with the tier's profile distances recorded per scored tick,
    and each sensor's fitted wander (None when off); `alerts`: an AlertRecorder to record the run's holds and ends."""
    with PartRecorder() as rec:
        if alerts is None:
            trace = run_pipeline(cfg, f, scorer, bundle)
        else:
            with alerts:
                trace = run_pipeline(cfg, f, scorer, bundle)
    return trace, rec.rows, rec.wander


def lead(trace, dist_rows, sensors, mask):
    """Counter of 'sensor part' leading the tier's score on the ticks in `mask` (scored ticks only)."""
    scored = np.flatnonzero(~trace.train)
    dist = np.array(dist_rows[-len(scored):]) if dist_rows else None
    out = Counter()
    for i in np.flatnonzero(mask):
        k = np.searchsorted(scored, i)
        if dist is None or k >= len(dist):
            continue
        d = dist[k]
        j = int(np.argmax(d))
        out[f"{sensors[j]} profile" if d[j] >= trace.score[i] - 1e-9 and d[j] > 0 else "forecast error"] += 1
    return out


def holdout(cfg_tier, cfg_np, bundle, fraction, scorer="tflite"):
    """Every file's training rows: warm-up on the first `fraction`, the rest scored (None: the file as it is,
    SKAB's split — for recordings labelled normal throughout, e.g. cuts of anomaly-free.csv)."""
    out = {}
    sensors = cfg_tier.sensor_names()
    files, _ = load_files(cfg_tier, labelled_source(cfg_tier, None), "skab")
    for f in files:
        if fraction is None:
            short = f
        else:
            rows = f.rows[:f.train_ticks]
            short = FileRows(name=f.name, rows=rows, train_ticks=int(len(rows) * fraction), tick_s=f.tick_s)
        rec = {"rows": int(short.scored.sum()), "labelled_anomalous": int((short.labels[short.scored] == 1).sum())}
        for name, cfg, which in (("tier", cfg_tier, scorer), ("numpy", cfg_np, "numpy")):
            trace, dist, wander = run(cfg, short, which, bundle if which != "numpy" else None)
            alerted = trace.alert_active & short.scored
            over = (trace.score > trace.threshold) & short.scored
            rec[name] = {"alerted": int(alerted.sum()), "over_threshold": int(over.sum()),
                         "alerts": len(trace.alert_spans),
                         "threshold": float(np.nanmedian(trace.threshold[short.scored]))}
            if name == "tier":
                rec[name]["lead_alerted"] = dict(lead(trace, dist, sensors, alerted))
                if wander is not None:
                    rec[name]["wander"] = dict(zip(sensors, wander))
        out[f.name] = rec
        print(f"holdout {f.name}: tier {rec['tier']['alerted']} numpy {rec['numpy']['alerted']} of {rec['rows']}",
              file=sys.stderr, flush=True)
    return out


def dev(cfg_tier, cfg_np, bundle, scorer="tflite", every=False):
    """`every`: every file, not the dev files only (the skab44 round: whether a training-row proxy's false rows
    sit in the same files and sensors as the scored rows' — a check of the proxy, never a choice)."""
    out = {}
    sensors = cfg_tier.sensor_names()
    files, _ = load_files(cfg_tier, labelled_source(cfg_tier, None), "skab")
    for f in files:
        if not every and f.name not in accuracy.SKAB_DEV_FILES:
            continue
        ends = AlertRecorder()
        tier, dist, _ = run(cfg_tier, f, scorer, bundle, ends)
        fb, _, _ = run(cfg_np, f, "numpy", None)
        lab = f.labels
        fb_on = fb.alert_active
        start_scored = int(np.flatnonzero(f.scored)[0])
        anomalous = np.flatnonzero(lab == 1)
        alerts = []
        reasons = Counter()
        for a, b in tier.alert_spans:
            span = (f.ts >= a) & (f.ts <= b) & f.scored
            false = span & (lab == 0)
            if not false.any():
                continue
            idx = np.flatnonzero(span)
            where = ("before" if anomalous.size and idx[-1] < anomalous[0] else
                     "after" if anomalous.size and idx[0] > anomalous[-1] else "overlaps")
            ratio = tier.score[false] / tier.threshold[false]
            why = Counter("over" if r > 1 else "held" if t in ends.held else "dip" for r, t in zip(ratio, f.ts[false]))
            reasons.update(why)
            alerts.append({"false_rows_open_because": dict(why), "ended": ends.end_of(float(b)),
                           "after_an_alert_that_ended": ends.ended_before(float(a)),
                           "opens_ticks_after_warmup": int(idx[0] - start_scored), "ticks": int(span.sum()),
                           "false_rows": int(false.sum()), "where": where,
                           "false_rows_fallback_also": int((false & fb_on).sum()),
                           "held_under_threshold": int((ratio < 1).sum()),
                           "score_over_threshold_median": round(float(np.nanmedian(ratio)), 2),
                           "lead": dict(lead(tier, dist, sensors, false))})
        out[f.name] = {"tier_false_rows": int((tier.alert_active & f.scored & (lab == 0)).sum()),
                       "tier_false_rows_open_because": dict(reasons),
                       "numpy_false_rows": int((fb_on & f.scored & (lab == 0)).sum()),
                       "normal_rows": int((f.scored & (lab == 0)).sum()),
                       "tier_missed_rows": int((~tier.alert_active & f.scored & (lab == 1)).sum()),
                       "anomalous_rows": int((f.scored & (lab == 1)).sum()),
                       "threshold": float(np.nanmedian(tier.threshold[f.scored])), "alerts": alerts}
        print(f"dev {f.name}: tier {out[f.name]['tier_false_rows']} numpy {out[f.name]['numpy_false_rows']}",
              file=sys.stderr, flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--skab-config", type=Path, default=accuracy.SKAB_CONFIG,
                    help="the SKAB agent config (default: configs/skab.yaml; a user's config, e.g. the defaults with a "
                         "bundle, as bench/accuracy.py --skab-config)")
    ap.add_argument("--set", action="append", default=[], help="a --skab-set override (both detectors)")
    ap.add_argument("--fraction", type=float, default=0.7,
                    help="holdout: the share of the 400 training rows that warms up (the rest is scored); 0: each "
                         "file as SKAB splits it, every scored row counted as normal (for files labelled normal "
                         "throughout: cuts of anomaly-free.csv with an all-zero `anomaly` column)")
    ap.add_argument("--only", choices=("holdout", "dev", "scored"), action="append",
                    help="scored: the dev look on every file (to check a proxy on training rows against the scored "
                         "rows' shape)")
    ap.add_argument("--scorer", choices=("tflite", "onnx"), default="tflite", help="the model tier to run")
    args = ap.parse_args(argv)
    skab = str(Path(args.data) / "skab")
    base = ["scoring.latency_budget_ms=100000", f"sources.0.path={skab}"] + args.set
    cfg_tier = accuracy.skab_config(args.skab_config, base + ["scoring.blend_numpy=0"], args.bundle)
    cfg_np = accuracy.skab_config(args.skab_config, base, args.bundle)
    only = args.only or ["holdout", "dev"]
    report = {"bundle": args.bundle, "config": str(args.skab_config), "set": args.set, "fraction": args.fraction}
    if "holdout" in only:
        report["holdout"] = holdout(cfg_tier, cfg_np, args.bundle, args.fraction or None, args.scorer)
    if "dev" in only:
        report["dev"] = dev(cfg_tier, cfg_np, args.bundle, args.scorer)
    if "scored" in only:
        report["scored"] = dev(cfg_tier, cfg_np, args.bundle, args.scorer, every=True)
    json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
