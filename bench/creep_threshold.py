"""Does `threshold.adapt` learn a slow anomaly as normal? The pump's cavitation creeping in over most of an hour (faults10).

    python bench/creep_threshold.py [--seeds 0 1 2 3] [--magnitude 0.5 1.0] [--ramp-s 1800 3600]
                                    [--variant NAME=KEY.PATH=VALUE[,KEY.PATH=VALUE…] …] [--out report.json]

Why: user23's third agent missed a SKAB valve test whose scores rose slowly: `threshold.adapt` learns every calm
tick (at or under the fitted value, outside alerts), and a creep's sub-threshold ticks are calm by that rule, so
each one above POT's starting point is a peak that lifts the fitted tail (11.59 → 21.80 in that walk). This runs
the agent's Pipeline (numpy tier) on the simulator's pump at 30-s ticks under bench/faults.py's settings
(roadside-like, the pump's code-default corroboration; at 1-s ticks under configs/industrial.yaml's the numpy tier's
threshold sits near 67 against a cavitation's scores of ~7, so nothing there is detected at all) with one anomaly: an `incident` (the pump's cavitation) whose severity
ramps from 0 to `magnitude` over `--ramp-s` (the simulator ramps over the first tenth of an incident: its duration
is ten times the ramp), starting 6 h after the warm-up. Per variant (config settings over the shipped ones; the
first is the shipped config) and run: the active tier's fitted threshold when the creep starts and when its ramp
ends, the ticks it learned during the creep, the first alert in the creep (seconds after its start; none:
missed) and the alerts of the 6 normal hours before it (false alarms). Prints JSON; unpaced (no figure depends on
load).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

NORMAL_S = 6 * 3600.0  # normal running between the warm-up's end and the creep


def run(seed: int, magnitude: float, ramp_s: float, settings: list[str]) -> dict:
    """One creep: `magnitude` reached over `ramp_s`, on seed `seed`'s pump, under `settings`."""
    from agent.config import from_dict
    from agent.pipeline import Pipeline
    from faults import collect_events, config_dict, simulated_rows, with_settings

    base = config_dict("pump", seed, 1.0)
    warm_s = base["warmup"]["ticks"] * base["tick_s"]
    start = warm_s + NORMAL_S
    duration = 10 * ramp_s
    src = base["sources"][0]
    src["duration_s"] = start + 1.5 * ramp_s
    src["anomalies"] = [{"kind": "incident", "at_s": start, "duration_s": duration, "magnitude": magnitude}]
    src.pop("anomaly_every_s", None)
    cfg = from_dict(with_settings(base, list(settings)))
    rows = simulated_rows(cfg)
    pipe = Pipeline(cfg)
    alerts, faults = [], []
    t_start = rows[0].ts + start
    at_start = at_ramp_end = None
    learned_in_creep, thr = 0, None
    t0 = time.monotonic()
    for row in rows:
        n0 = None if thr is None else thr.n
        res = pipe.step(row)
        if thr is None and pipe.warm:
            thr = pipe.thresholds[pipe.active_tier()]
        if thr is not None:
            if at_start is None and row.ts >= t_start:
                at_start = thr.value
            if at_ramp_end is None and row.ts >= t_start + ramp_s:
                at_ramp_end = thr.value
            if row.ts >= t_start and n0 is not None and thr.n > n0:
                learned_in_creep += 1
        collect_events(res, alerts, faults)
    first = next((a["start"] - t_start for a in alerts if a["onset"] >= t_start), None)
    before = [a for a in alerts if a["onset"] < t_start]
    return {"seed": seed, "magnitude": magnitude, "ramp_s": ramp_s, "threshold_at_creep_start": round(at_start, 4),
            "threshold_at_ramp_end": None if at_ramp_end is None else round(at_ramp_end, 4),
            "threshold_at_end": round(thr.value, 4), "ticks_learned_in_creep": learned_in_creep,
            "first_alert_after_creep_start_s": None if first is None else round(first, 1),
            "alerts_in_creep": len(alerts) - len(before), "false_alarms_before": len(before),
            "elapsed_s": round(time.monotonic() - t0, 1)}


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 3) if values else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--magnitude", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--ramp-s", type=float, nargs="+", default=[1800.0, 3600.0])
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=KEY.PATH=VALUE[,…]")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    variants = {"shipped": []}
    for v in args.variant:
        name, _, sets = v.partition("=")
        variants[name] = [s for s in sets.split(",") if s]
    report = {"bench": "creep_threshold.py", "args": vars(args), "variants": {}}
    for name, settings in variants.items():
        runs = [run(seed, m, r, settings) for r in args.ramp_s for m in args.magnitude for seed in args.seeds]
        report["variants"][name] = {
            "settings": settings, "runs": runs,
            "detected": sum(r["first_alert_after_creep_start_s"] is not None for r in runs), "of": len(runs),
            "first_alert_s_mean": _mean([r["first_alert_after_creep_start_s"] for r in runs]),
            "threshold_rise_over_ramp_mean": _mean([r["threshold_at_ramp_end"] / r["threshold_at_creep_start"]
                                                    for r in runs if r["threshold_at_ramp_end"]]),
            "false_alarms_before": sum(r["false_alarms_before"] for r in runs)}
        print(name, report["variants"][name]["detected"], "/", len(runs), file=sys.stderr, flush=True)
    from machine import print_json_report
    return print_json_report(report, args.out)


if __name__ == "__main__":
    sys.exit(main())
