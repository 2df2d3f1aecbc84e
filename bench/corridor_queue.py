"""The corridor's incidents under the demand-gated queue (`--corridor-incident-queue demand`, corridor8).

Under `incident_queue: demand` a capacity drop makes a queue only while the demand arriving exceeds the
remaining capacity (agent/sources/simulate_queue.py), so some labelled incidents leave no trace in the
data. The simulator knows which (`QueueTrace.formed`); this module scores each incident with the bench's
own matching rule (agent/evaluate/faults.py's `score_run`: an alert raised at or after scoring starts,
overlapping the incident's labelled span plus the tolerance) and counts two ways:

- over **every labelled incident** (what the simulator labels: the drop, and its queue until it clears);
- over **the incidents that made a queue** (the headline): an incident without a queue has no trace,
  so finding it is chance, and an alert on it is counted as a false alarm in this view.

Summed over seeds: incidents found per detector, per magnitude bin, mean time to detect from the tick
raised, false-alarm events and falsely alerted ticks, and a sign test on the queued incidents one
detector finds and the other misses.
"""
from __future__ import annotations

from datetime import datetime, timezone
from math import comb

import numpy as np

from agent.evaluate.faults import labelled_events, score_run
from agent.sources.simulate import Simulation

MAGNITUDE_BINS = 6
# Bins of the queue's longest reach upstream, km (a station every 0.875 km; a detector reads the half
# spacing upstream of it, so below ~0.44 km only the incident's own station sees the queue, and partly).
LENGTH_EDGES_KM = (0.0, 0.1, 0.44, 1.0, 2.0, np.inf)


def sign_test(a_only: int, b_only: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven of a_only + b_only
    discordant incidents if each were a fair coin."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(a_only, b_only) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def score_seed(cfg, run, tolerance_s: float, seed: int | None) -> dict:
    """Each incident of one replayed corridor run, found or not by each scorer, with its queue."""
    (src,) = cfg.sources
    sim = Simulation(src, cfg.sensor_names(), src.tick_s or cfg.tick_s)
    truth = {a.event: a for a in sim.incidents()}
    (f,) = run.files
    scored = f.scored
    scored_from = float(f.ts[scored][0])
    events = [e for e in labelled_events(f.ts[scored], [e for e, m in zip(f.events, scored) if m])
              if e["event"] in truth]
    queued = [e for e in events if truth[e["event"]].queue.formed]
    in_queued = np.isin(np.array(f.events, dtype=object), [e["event"] for e in queued]) & scored
    labelled = (f.labels == 1) & scored
    rows = [{"seed": seed, "event": e["event"], "magnitude": truth[e["event"]].magnitude,
             "at": datetime.fromtimestamp(e["start"], timezone.utc).strftime("%a %H:%M"),
             "formed": truth[e["event"]].queue.formed, "longest_km": round(truth[e["event"]].queue.longest_km, 3),
             "queue_s": truth[e["event"]].queue.queue_s, "found": {}, "ttd_s": {}} for e in events]
    scorers = {}
    for name, traces in run.traces.items():
        if not traces:
            continue
        (t,) = traces
        # The alarm-on-every-row floor has its one alert as a span, without an alert record.
        alerts = t.alerts or [{"start": a, "onset": a, "end": b, "top_sensors": []} for a, b in t.alert_spans]

        def matched(subset: list[dict]) -> dict:
            return score_run(subset, alerts, [], cfg.tick_s, tolerance_s, scored_from)["incidents"]

        for row, e in zip(rows, events):
            one = matched([e])
            row["found"][name] = bool(one["detected"])
            row["ttd_s"][name] = one["ttd_s"][0] if one["ttd_s"] else None
        every, only = matched(events), matched(queued)
        alerted = t.alert_active & scored
        scorers[name] = {"all": {"events": every["events"], "detected": every["detected"], "ttd_s": every["ttd_s"],
                                 "false_alarms": every["false_alarms"],
                                 "false_ticks": int((alerted & ~labelled).sum())},
                         "queued": {"events": only["events"], "detected": only["detected"], "ttd_s": only["ttd_s"],
                                    "false_alarms": only["false_alarms"],
                                    "false_ticks": int((alerted & ~in_queued).sum())},
                         "alerts": every["alerts"]}
    return {"seed": seed, "incidents": rows, "scorers": scorers}


def summary(seeds: list[dict], weakest: float, strongest: float) -> dict:
    """The seeds summed: per scorer and view, found / events, TTD, false alarms; per magnitude bin;
    and each model tier against the numpy fallback on the discordant incidents."""
    names = list(seeds[0]["scorers"])
    out: dict = {"seeds": [s["seed"] for s in seeds], "views": {}, "bins": [], "versus_numpy": {}}
    for view in ("queued", "all"):
        out["views"][view] = {}
        for name in names:
            parts = [s["scorers"][name][view] for s in seeds]
            ttd = [x for p in parts for x in p["ttd_s"]]
            out["views"][view][name] = {
                "detected": sum(p["detected"] for p in parts), "events": sum(p["events"] for p in parts),
                "ttd_mean_s": float(np.mean(ttd)) if ttd else None,
                "ttd_median_s": float(np.median(ttd)) if ttd else None,
                "false_alarms": sum(p["false_alarms"] for p in parts),
                "false_ticks": sum(p["false_ticks"] for p in parts)}
    rows = [r for s in seeds for r in s["incidents"]]
    edges = np.linspace(weakest, strongest, MAGNITUDE_BINS + 1)
    at = {id(r): min(int(np.searchsorted(edges, r["magnitude"], side="right")) - 1, MAGNITUDE_BINS - 1)
          for r in rows}
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        inside = [r for r in rows if at[id(r)] == i]
        q = [r for r in inside if r["formed"]]
        out["bins"].append({"lo": float(lo), "hi": float(hi), "incidents": len(inside), "queued": len(q),
                            "found_queued": {n: sum(r["found"][n] for r in q) for n in names},
                            "found_no_queue": {n: sum(r["found"][n] for r in inside if not r["formed"])
                                               for n in names}})
    out["lengths"] = []
    for lo, hi in zip(LENGTH_EDGES_KM[:-1], LENGTH_EDGES_KM[1:]):
        q = [r for r in rows if r["formed"] and lo < max(r["longest_km"], 1e-9) <= hi]
        out["lengths"].append({"lo_km": lo, "hi_km": None if hi == np.inf else hi, "queued": len(q),
                               "found": {n: sum(r["found"][n] for r in q) for n in names}})
    if "numpy" in names:
        for name in names:
            if name == "numpy":
                continue
            for view in ("queued", "all"):
                pool = [r for r in rows if r["formed"] or view == "all"]
                a = sum(r["found"][name] and not r["found"]["numpy"] for r in pool)
                b = sum(r["found"]["numpy"] and not r["found"][name] for r in pool)
                out["versus_numpy"].setdefault(name, {})[view] = {"only_it": a, "only_numpy": b,
                                                                  "sign_test_p": sign_test(a, b)}
    return out


def seed_lines(result: dict) -> list[str]:
    """One seed's table: each detector over queued incidents and over all labelled ones."""
    queued = sum(r["formed"] for r in result["incidents"])
    lines = [f"demand-gated incidents (incident_queue: demand): {queued} of {len(result['incidents'])} labelled "
             "incidents made a queue; the headline counts those, an alert on an incident without one as a false alarm",
             f"{'detector':28} {'queued found':>12} {'FA':>4} {'FA ticks':>8} {'TTD mean s':>10} | "
             f"{'all found':>9} {'FA':>4} {'FA ticks':>8}"]
    for name, s in result["scorers"].items():
        q, a = s["queued"], s["all"]
        ttd = f"{np.mean(q['ttd_s']):.0f}" if q["ttd_s"] else "–"
        lines.append(f"{name:28} {q['detected']:>6}/{q['events']:<5} {q['false_alarms']:>4} {q['false_ticks']:>8} "
                     f"{ttd:>10} | {a['detected']:>4}/{a['events']:<4} {a['false_alarms']:>4} {a['false_ticks']:>8}")
    return lines


def summary_lines(s: dict) -> list[str]:
    """The summed tables: both views, per magnitude bin, and the sign tests."""
    lines = [f"\n== demand-gated incidents, {len(s['seeds'])} seed(s) ({', '.join(map(str, s['seeds']))}) summed"]
    for view, title in (("queued", "incidents that made a queue (the headline)"),
                        ("all", "every labelled incident (queue or not)")):
        lines += [title, f"{'detector':28} {'found':>9} {'TTD mean s':>10} {'TTD med s':>9} {'FA events':>9} "
                         f"{'FA ticks':>8}"]
        for name, v in s["views"][view].items():
            mean = "–" if v["ttd_mean_s"] is None else f"{v['ttd_mean_s']:.0f}"
            med = "–" if v["ttd_median_s"] is None else f"{v['ttd_median_s']:.0f}"
            lines.append(f"{name:28} {v['detected']:>4}/{v['events']:<4} {mean:>10} {med:>9} {v['false_alarms']:>9} "
                         f"{v['false_ticks']:>8}")
    names = list(s["views"]["queued"])
    lines += ["per magnitude bin: queued / incidents, then found among the queued (and among those without a queue) "
              "per detector",
              f"{'magnitude':13} {'queued':>9}  " + "  ".join(f"{n:>14}" for n in names)]
    for b in s["bins"]:
        cells = "  ".join(f"{b['found_queued'][n]:>6} ({b['found_no_queue'][n]:>3})   " for n in names)
        lines.append(f"{b['lo']:.3f}–{b['hi']:.3f}  {b['queued']:>4}/{b['incidents']:<4}  {cells}")
    lines += ["per queue length (its longest reach upstream): found among the queued, per detector",
              f"{'longest km':13} {'queued':>6}  " + "  ".join(f"{n:>14}" for n in names)]
    for b in s["lengths"]:
        span = f"{b['lo_km']:g}–{b['hi_km']:g}" if b["hi_km"] is not None else f"> {b['lo_km']:g}"
        lines.append(f"{span:13} {b['queued']:>6}  " + "  ".join(f"{b['found'][n]:>14}" for n in names))
    for name, views in s["versus_numpy"].items():
        for view, v in views.items():
            lines.append(f"{name} against numpy, {view}: found by {name} only {v['only_it']}, by numpy only "
                         f"{v['only_numpy']}; two-sided sign test p = {v['sign_test_p']:.3g}")
    return lines


__all__ = ["score_seed", "seed_lines", "sign_test", "summary", "summary_lines"]
