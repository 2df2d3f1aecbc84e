"""What the mask after a short source stall hides on a 1-s gateway: `faults.clear_s` with and without stalls (qa41).

    python bench/stall_mask.py [--seeds 0 1 2 3] [--hours 4] [--clear-s 60 0] [--stall-s 8] [--stall-every-s 300]
                               [--stalls both|without|with] [--holdback-s 90 3] [--bundle DIR]
                               [--config configs/industrial-opcua.yaml] [--set warmup.held_out=live] [--out report.json]
                               [--drop-p P] [--drop-rows-p P] [--carry-forward-s S]

Why: a stall of a source of a few seconds opens a `source` fault whose sensors stay masked until the data has been
back for `faults.clear_s` — 60 ticks at 1-s ticks (configs/industrial.yaml), 2 at the corridor's 30 s. This runs
the agent's Pipeline (numpy tier) over the simulator's pump scenario at 1-s ticks under configs/industrial.yaml's
window, alert and fault settings, one anomaly every 1,800 s, and, per `clear_s`, once without and once with stalls
(every sensor's records dropped for `--stall-s` every `--stall-every-s`, before the agent's own aligner), and
scores each run as bench/faults.py does (agent/evaluate/faults.py): incidents detected, false alarms, time to
detect, fault reports. Prints JSON (the load average said: no figure here depends on it).
`--holdback-s` runs each variant once per `faults.holdback_s` given (faults10: the lone-sensor hold-back at 1-s
ticks); `--stalls` runs only the variants without or with stalls. Each variant says the fallback's threshold at the warm-up's
end and its largest from an hour after it, per seed (qa45: a warm-up calibration that left it at ~67), and the
incidents an alert *opened* inside of (an alert open since before an incident, counted detected by score_run, is not).
`--bundle DIR` scores with that bundle's onnx tier (the numpy fallback behind it) instead of numpy alone: what a
trained bundle sees on the 1-s pump that the fallback does not (README's industrial section).
`--config` runs another 1-s config's settings (its source swapped for the pump as industrial.yaml's is: qa46 measured
configs/industrial-opcua.yaml) and `--set key.path=value` (YAML) sets one over it, as bench/faults.py's does.
`--drop-p P` drops each sensor's record of a tick at random with probability P (an intermittent sensor), `--drop-rows-p
P` every sensor's records of a tick together (an intermittent source), `--carry-forward-s S` sets
`window.carry_forward_s` (0: a dropped reading is missing on its tick, as on the golden streams of
tests/recorded_outputs.py); each variant counts the fault events told (`fault` + `fault_end`), by kind (faults11:
does a missing fault flap on a sensor that misses readings at random).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def config_dict(seed: int, hours: float, clear_s: float, holdback_s: float | None = None,
                bundle: str | None = None, config: str | None = None, settings: list[str] = (),
                carry_forward_s: float | None = None) -> dict:
    """configs/industrial.yaml (or `config`) with the simulator's pump for its source and the numpy tier alone."""
    from faults import with_settings      # bench/faults.py: `--set key.path=value`
    cfg = yaml.safe_load(Path(config or REPO / "configs" / "industrial.yaml").read_text())
    cfg["sources"] = [{"type": "simulate", "scenario": "pump", "seed": seed, "start": "2026-01-05T00:00:00Z",
                       "duration_s": hours * 3600.0, "anomaly_every_s": 1800}]
    cfg["scoring"] = {"chain": ["numpy"]} if bundle is None else \
        {"chain": ["onnx", "numpy"], "bundle": bundle, "latency_budget_ms": 100000}    # (unpaced: never stepped down)
    cfg["sinks"] = []
    cfg.pop("state_dir", None)
    cfg.pop("metrics", None)
    cfg.setdefault("faults", {})["clear_s"] = clear_s
    if holdback_s is not None:
        cfg["faults"]["holdback_s"] = holdback_s
    if carry_forward_s is not None:
        cfg.setdefault("window", {})["carry_forward_s"] = carry_forward_s
    return with_settings(cfg, list(settings))


def stalled(records, every_s: float, stall_s: float, offset_s: float):
    """The records less those inside a stall: [k·every + offset, k·every + offset + stall_s)."""
    t0 = records[0].ts
    return [r for r in records if (r.ts - t0 - offset_s) % every_s >= stall_s]


def dropped(records, p: float, rows_p: float, tick_s: float, seed: int):
    """The records less a random share: each sensor's reading with probability `p` (taken out of its record; a
    record left with none goes), every record of a tick together with `rows_p` (one draw per reading, one per tick;
    seeded by the run's seed). The simulator's record holds every sensor of its tick."""
    import dataclasses

    import numpy as np
    rng = np.random.default_rng(1000 + seed)
    t0, tick_drop, keep = records[0].ts, {}, []
    for r in records:
        k = int((r.ts - t0) // tick_s)
        if k not in tick_drop:
            tick_drop[k] = rng.random() < rows_p
        if tick_drop[k]:
            continue
        values = {name: v for name, v in r.values.items() if not rng.random() < p} if p else r.values
        if values:
            keep.append(r if len(values) == len(r.values) else dataclasses.replace(r, values=values))
    return keep


def run(seed: int, hours: float, clear_s: float, stall: tuple[float, float] | None,
        holdback_s: float | None = None, bundle: str | None = None, config: str | None = None,
        settings: list[str] = (), drop: tuple[float, float] = (0.0, 0.0),
        carry_forward_s: float | None = None) -> dict:
    from agent.config import from_dict
    from agent.pipeline import Pipeline
    from agent.records import Rejects
    from agent.sources.simulate import generate
    from agent.window import Aligner

    cfg = from_dict(config_dict(seed, hours, clear_s, holdback_s, bundle, config, settings, carry_forward_s),
                    base_dir=str(REPO / "configs"))
    records = generate(cfg.sources[0], cfg.sensor_names(), cfg.tick_s)
    if stall is not None:
        records = stalled(records, stall[0], stall[1], offset_s=37.0 * (seed + 1))
    if any(drop):
        records = dropped(records, drop[0], drop[1], cfg.tick_s, seed)
    rows = Aligner.for_agent(cfg, Rejects()).align_all(records)
    pipe = Pipeline(cfg)
    events: dict[str, list[float]] = {}
    from faults import collect_events     # bench/faults.py: the events as score_run reads them

    alerts, faults = [], []
    masked = 0
    thresholds = []                       # (ts, the threshold the tick was judged against) after warm-up
    t0 = time.monotonic()
    for row in rows:
        if row.event:
            span = events.setdefault(row.event, [row.ts, row.ts])
            span[1] = row.ts
        res = pipe.step(row)
        if not res.warming and pipe.health.faulty.any():
            masked += 1
        collect_events(res, alerts, faults)
        if not res.warming:
            thresholds.append((row.ts, res.threshold))
    if alerts and alerts[-1]["end"] is None:
        alerts[-1]["end"] = rows[-1].ts
    return {"scenario": "pump", "seed": seed, "tick_s": cfg.tick_s, "warmup_end": rows[cfg.warmup.ticks - 1].ts,
            "last_ts": rows[-1].ts, "sensors": cfg.sensor_names(), "topology": cfg.topology,
            "events": [{"event": e, "start": s, "end": t} for e, (s, t) in events.items()],
            "alerts": alerts, "faults": faults, "ticks_with_a_sensor_masked": masked,
            "alert_ticks_held_for_faults": pipe.health.held_alerts,
            "incidents_alerted_from_inside": sum(
                any(e["start"] <= a["onset"] <= e["end"] for a in alerts) for e in
                ({"start": s, "end": t} for ev, (s, t) in events.items() if ev.startswith("incident"))),
            "threshold_at_warmup_end": round(thresholds[0][1], 3),
            "threshold_max_from_1h_after_warmup": max((round(v, 3) for t, v in thresholds if t >= thresholds[0][0] + 3600),
                                                      default=None),     # (None: a run shorter than that hour)
            "elapsed_s": round(time.monotonic() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--clear-s", type=float, nargs="+", default=[60.0, 0.0])
    ap.add_argument("--stall-s", type=float, default=8.0)
    ap.add_argument("--stall-every-s", type=float, default=300.0)
    ap.add_argument("--stalls", choices=("both", "without", "with"), default="both")
    ap.add_argument("--holdback-s", type=float, nargs="+", default=[None])
    ap.add_argument("--bundle", help="score with this bundle's onnx tier, numpy behind it (default: numpy alone)")
    ap.add_argument("--config", help="a 1-s config's settings instead of configs/industrial.yaml's")
    ap.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                    help="a setting over the config's, e.g. warmup.held_out=live")
    ap.add_argument("--drop-p", type=float, default=0.0, help="each sensor's record of a tick dropped with this probability")
    ap.add_argument("--drop-rows-p", type=float, default=0.0, help="every record of a tick dropped together with this probability")
    ap.add_argument("--carry-forward-s", type=float, help="window.carry_forward_s (default: the config's)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    from agent.evaluate.faults import score_run, summarise

    report = {"bench": "stall_mask.py", "args": vars(args), "variants": {}}
    stalls = {"both": (None, (args.stall_every_s, args.stall_s)), "without": (None,),
              "with": ((args.stall_every_s, args.stall_s),)}[args.stalls]
    for clear_s, holdback_s, stall in ((c, h, s) for c in args.clear_s for h in args.holdback_s for s in stalls):
        if True:
            name = (f"clear_s {clear_s:g}, " + ("" if holdback_s is None else f"holdback_s {holdback_s:g}, ")
                    + ("no stalls" if stall is None else f"{args.stall_s:g}-s stalls every {args.stall_every_s:g} s")
                    + (f", {args.drop_p:g} of readings dropped" if args.drop_p else "")
                    + (f", {args.drop_rows_p:g} of ticks dropped" if args.drop_rows_p else ""))
            runs = [run(seed, args.hours, clear_s, stall, holdback_s, args.bundle, args.config, args.set,
                        (args.drop_p, args.drop_rows_p), args.carry_forward_s) for seed in args.seeds]
            scored = [score_run(r["events"], r["alerts"], r["faults"], r["tick_s"], 6 * r["tick_s"], r["warmup_end"])
                      for r in runs]
            s = summarise(scored)
            report["variants"][name] = {
                "incidents": {k: s["incidents"][k] for k in ("events", "detected", "false_alarms", "ttd_mean_s",
                                                             "ttd_median_s")},
                "detected_by_seed": [x["incidents"]["detected"] for x in scored],
                "false_alarms_by_seed": [x["incidents"]["false_alarms"] for x in scored],
                "fault_reports_by_kind": s["faults"]["reported_by_kind"],
                "false_fault_reports": s["faults"]["false_reports"],
                "sensor_faults_reported_of_injected": {k: f"{v['reported']}/{v['injected']}"
                                                       for k, v in s["faults"]["by_kind"].items()},
                "ticks_with_a_sensor_masked": sum(r["ticks_with_a_sensor_masked"] for r in runs),
                "fault_events_told": sum(len(r["faults"]) for r in runs),
                "fault_events_told_by_kind": _by_kind(f for r in runs for f in r["faults"]),
                "false_alarms_from_faulty_sensor": s["incidents"]["false_alarms_from_faulty_sensor"],
                "alerts": s["incidents"]["alerts"],
                "incidents_alerted_from_inside_by_seed": [r["incidents_alerted_from_inside"] for r in runs],
                "threshold_at_warmup_end_by_seed": [r["threshold_at_warmup_end"] for r in runs],
                "threshold_max_from_1h_after_warmup_by_seed": [r["threshold_max_from_1h_after_warmup"] for r in runs],
                "alert_ticks_held_for_faults": sum(r["alert_ticks_held_for_faults"] or 0 for r in runs),
                "elapsed_s": sum(r["elapsed_s"] for r in runs)}
            print(name, json.dumps(report["variants"][name]["incidents"]), file=sys.stderr, flush=True)
    from machine import print_json_report
    return print_json_report(report, args.out)


def _by_kind(faults) -> dict[str, int]:
    """fault events (`fault` and `fault_end`) counted by kind."""
    out: dict[str, int] = {}
    for f in faults:
        out[f["kind"]] = out.get(f["kind"], 0) + 1
    return dict(sorted(out.items()))


if __name__ == "__main__":
    sys.exit(main())
