"""Sensor faults versus incidents on the simulator: before/after figures for issue 13.

    python bench/faults.py collect --out DIR [--seeds 0 1 2] [--hours 48] [--set faults.drift_moved_alone=true]
                                   [--learn-like OTHER/traces.json]
    python bench/faults.py score DIR/traces.json [--out DIR/report.json]
    python bench/faults.py cost [--sensors 8 16 48] [--ticks 3000] [--scenario corridor|pump] [--set K=V] [--out cost.json]
    python bench/faults.py tick-cost [--tick-s 1 0.1 0.01 0.001] [--ticks 1000] [--scenario corridor|pump] [--beside K=V]
                                     [--out cost.json]
    python bench/faults.py blame-cost [--tick-s 30 1 0.01 0.001] [--repeats 30] [--out cost.json]
    python bench/faults.py teach-cost [--sensors 8 64] [--warmup 1000 5000 20000] [--out cost.json]
    python bench/faults.py broken-start [--seeds 19 20 … 26] [--out runs.json]
    python bench/faults.py added-station [--seeds 250 … 257] [--variants ok zeros const speed0] [--out runs.json]
    python bench/faults.py real -c CONFIG [--data PATH] [--bundle DIR] [--scorer numpy] [--protocol P] [--out real.json]
    python bench/faults.py config corridor|pump [--seed 0] [--hours 168] > sim.yaml   (for stad-agent evaluate)

`collect` runs the agent's Pipeline (whichever `agent` package is on PYTHONPATH, so an older
checkout can be measured with the same script) over seeded simulator runs — corridor (6
stations, corridor topology) and pump (group topology), 30-s ticks, one injected anomaly an hour
cycling through incident, spike, drift, stuck, dead and dropout — and writes what happened:
labelled events, alert onsets/spans with their origin and top sensors, and fault events (or the
older sensor events). `score` turns traces into figures with agent.evaluate.faults, the same
scoring `stad-agent evaluate` reports. `cost` times the fault tracker alone (FaultTracker.observe
per tick, after a learning day, on corridor simulator rows of N sensors) and writes p50 / p99 µs.
`tick-cost` times the fault tracker and the whole numpy tick (Pipeline.step) at several tick_s on
the same simulator rows (their times rescaled to the tick: only the config's durations in ticks
differ, e.g. stuck's flatline_s / tick_s window), every variant interleaved tick by tick.
`blame-cost` times one tick's blame (relation.py's `_blamed` and `_agrees`, on every station relation past
half its limit: the corridor's 6) at several tick_s, their departure rings HISTORY_S / tick_s rows; the
rescaled runs of tick-cost judge no drift within their ticks, so the blame is called directly (perf40).
`teach-cost` times the first live tick after a warm-up on a recording (`warmup.replay`), which teaches the fault
rules on up to `warmup.ticks` recorded ticks, once more for each sensor still faulty at their end
(faults/recorded.py, ≤ MAX_PASSES): corridor simulator rows of N sensors at 30-s ticks, a day and a warm-up of
them, every sensor healthy (1 teaching) or the first frozen for the recording's last 2 h (2 teachings: it is left
out); each in a process of its own (its peak RSS its own), wall and CPU seconds of that tick, the RSS it added
(faults15).
`broken-start` runs `python -m agent run` (the `agent` on PYTHONPATH) on files it writes: a 32-h corridor recording
whose S02_speed is held at one value and S04's loops read 0 from hour 30, as `warmup.replay` (480 ticks), then two
live hours (seed + 100) with both still so (`broken`) or repaired (`repaired`); per run, whether S02_speed was paged
`stuck` and S04 paged within 15 min of the first live tick, and every `fault` told (faults15's rule).
`added-station` (faults16) runs `python -m agent run` likewise on a 24-h corridor recording without station S06's
columns (a station added since) as `warmup.replay`, then three live hours (seed + 100) with S06 healthy (`ok`), its
three loops at 0 from the first tick (`zeros`), its speed held at its first reading (`const`) or at 0 (`speed0`);
per run, every `fault` told on S06 (sensor:kind@time), every other one, and the alerts whose drivers name an S06
sensor.
`real` (faults16) replays labelled real data (SKAB, NAB: `stad-agent evaluate`'s runner and protocol, read where
it lies) and lists, per scorer, every fault page (`fault`: file, sensor, kind, time, inside a labelled anomaly or
not) and every alert driven by one sensor (its drivers at the tick raised) with what that sensor did around it:
`held` (unchanged for the HELD_TICKS ticks to it), `spike` (its step there over SPIKE_Z × its median step on the
file's training ticks, and back within RETURN_TICKS), `dropout` (no reading in the window), else `moved`; an alert
inside a labelled anomaly detects it, one outside is a false alarm.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCENARIOS = {
    "corridor": {"topology": "corridor",
                 "sensors": [f"S{i:02d}_{m}" for i in range(1, 7) for m in ("flow", "occ", "speed")]},
    "pump": {"topology": "group",        # one skid: every sensor is a neighbour of every other
             "sensors": [{"name": s, "group": "skid"} for s in
                         ("accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow")]},
}


def config_dict(scenario: str, seed: int, hours: float) -> dict:
    """Roadside-like settings (configs/roadside.yaml) at 30-s ticks."""
    sc = SCENARIOS[scenario]
    return {
        "tick_s": 30, "topology": sc["topology"], "sensors": sc["sensors"],
        "sources": [{"type": "simulate", "scenario": scenario, "seed": seed, "start": "2026-01-05T00:00:00Z",
                     "duration_s": hours * 3600.0, "anomaly_every_s": 3600}],
        "window": {"steps": 32, "carry_forward_s": 90},
        "warmup": {"ticks": 480},     # held_out frozen (the default), as every figure recorded here: roadside.yaml's
                                     # `live` (qa46) is `--set warmup.held_out=live`
        "scoring": {"chain": ["numpy"]},
        "threshold": {"method": "pot", "risk": 0.0005, "quiet_s": 600},
        "alerts": {"min_duration_ticks": 2, "instant_factor": 1.5, "clear_ticks": 6, "cooldown_ticks": 10,
                   "update_interval_s": 300},
        "faults": {"lone_holdback_s": 600, "drift_holdback_s": 1200,
                   # the road's corroboration bar (roadside.yaml); the pump keeps the code's (industrial.yaml)
                   **({"lone_corroborate": 1.0} if scenario == "corridor" else {})},
    }


def with_settings(cfg: dict, settings: list[str]) -> dict:
    """`key.path=value` settings (value read as YAML) applied over a config dict."""
    import yaml
    for item in settings:
        path, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected key.path=value")
        *parents, leaf = path.split(".")
        node = cfg
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = yaml.safe_load(value)
    return cfg


def simulated_rows(cfg) -> list:
    """The aligned ticks of `cfg`'s simulate source, as the agent's aligner makes them."""
    from agent.records import Rejects
    from agent.sources.simulate import generate
    from agent.window import Aligner
    return Aligner.for_agent(cfg, Rejects()).align_all(generate(cfg.sources[0], cfg.sensor_names(), cfg.tick_s))


def collect_events(res, alerts: list, faults: list) -> None:
    """A tick's alert and fault events into the runs' lists, as agent/evaluate/faults.py's score_run reads them:
    each alert with its drivers — the top sensors above the threshold when raised, else the top one
    (agent.alerts.drivers; spelled out here so an older checkout is measured alike)."""
    for ev in res.alerts:
        if ev.event == "new":
            above = [t["sensor"] for t in ev.top_sensors if t["score"] > ev.threshold]
            alerts.append({"start": ev.start, "onset": ev.ts, "end": None, "origin": ev.origin,
                           "top_sensors": [t["sensor"] for t in ev.top_sensors],
                           "drivers": above or [t["sensor"] for t in ev.top_sensors[:1]]})
        elif ev.event == "end" and alerts:
            alerts[-1]["end"] = ev.end
    for ev in getattr(res, "faults", None) or []:
        faults.append(ev.to_dict())


def collect_one(scenario: str, seed: int, hours: float, settings: list[str] = (),
                learn_like: list[float] | None = None) -> dict:
    """One run's trace. `learned`: the ticks on which the active tier's threshold learned (its
    count of learned scores grew). `learn_like`: another run's `learned` — the threshold then
    learns this run's score on exactly those ticks and on no other (a diagnostic: does a
    difference in incidents come from what the threshold learned, or from the scores?)."""
    from agent.config import from_dict
    from agent.pipeline import Pipeline

    cfg = from_dict(with_settings(config_dict(scenario, seed, hours), list(settings)))
    rows = simulated_rows(cfg)
    pipe = Pipeline(cfg)
    events: dict[str, list[float]] = {}
    alerts, faults = [], []
    learned, thr, learn = [], None, None
    schedule = None if learn_like is None else set(learn_like)
    t0 = time.monotonic()
    for row in rows:
        if row.event:
            span = events.setdefault(row.event, [row.ts, row.ts])
            span[1] = row.ts
        n0 = None if thr is None else thr.n
        res = pipe.step(row)
        if thr is None and pipe.warm:
            thr = pipe.thresholds[pipe.active_tier()]
            if schedule is not None:
                learn, thr.update = thr.update, lambda score: None      # the detector's own calls: not learned
        if schedule is not None and row.ts in schedule and not res.warming:
            learn(res.score)
        if n0 is not None and thr.n > n0:
            learned.append(row.ts)
        collect_events(res, alerts, faults)
        for ev in getattr(res, "sensor_events", None) or []:      # agents before issue 13
            faults.append(ev)
    if alerts and alerts[-1]["end"] is None:
        alerts[-1]["end"] = rows[-1].ts
    return {"scenario": scenario, "seed": seed, "tick_s": cfg.tick_s, "warmup_end": rows[cfg.warmup.ticks - 1].ts,
            "last_ts": rows[-1].ts, "sensors": cfg.sensor_names(), "topology": cfg.topology,
            "events": [{"event": e, "start": s, "end": t} for e, (s, t) in events.items()],
            "alerts": alerts, "faults": faults, "learned": learned, "elapsed_s": round(time.monotonic() - t0, 1)}


def cost(sizes: list[int], ticks: int, scenario: str = "corridor", settings: list[str] = ()) -> dict:
    """µs per FaultTracker.observe at each N (corridor sensors, the first N of enough stations; the
    pump: its 8 sensors, one skid, whatever N), with `settings` over the faults' defaults."""
    import numpy as np
    from agent.config import from_dict
    from agent.faults.tracker import FaultTracker
    from agent.sources.simulate import corridor_sensors
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info
    out = {"machine": machine_info(), "ticks": ticks, "scenario": scenario, "settings": list(settings), "sizes": {}}
    if scenario == "pump":
        sizes = [len(SCENARIOS["pump"]["sensors"])]
    for n in sizes:
        sensors = corridor_sensors(-(-n // 3))[:n] if scenario == "corridor" else SCENARIOS["pump"]["sensors"]
        cfg = from_dict(with_settings({"tick_s": 30, "topology": SCENARIOS[scenario]["topology"], "sensors": sensors,
                                       "sources": [{"type": "simulate", "scenario": scenario, "seed": 0,
                                                    "start": "2026-01-05T00:00:00Z",
                                                    "duration_s": (2880 + ticks) * 30.0}]}, list(settings)))
        rows = simulated_rows(cfg)
        tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
        for row in rows[:2880]:
            tracker.observe(row)
        us = []
        for row in rows[2880:]:
            t0 = time.perf_counter()
            tracker.observe(row)
            us.append(1e6 * (time.perf_counter() - t0))
        out["sizes"][n] = {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99))}
        print(f"N={n}: fault tracker p50 {out['sizes'][n]['p50_us']:.0f} µs, p99 {out['sizes'][n]['p99_us']:.0f} µs per tick",
              file=sys.stderr, flush=True)
    return out


def tick_cost(tick_ss: list[float], ticks: int, scenario: str = "corridor", learn: int = 2880,
              beside: list[str] = ()) -> dict:
    """p50 / p99 µs of FaultTracker.observe and of the numpy tier's Pipeline.step at each tick_s (the
    shipped fault settings), on one run's simulator rows (30-s ticks, times rescaled to tick_s), after
    `learn` ticks; the variants timed in a new order each tick, so load hits them alike. `beside`: settings
    (key.path=value) each tick_s is also timed with, in the same run (e.g. faults.drift_every_s=0: a cadence's
    A/B interleaved tick by tick; perf77)."""
    import copy
    import dataclasses
    import random
    import numpy as np
    from agent.config import from_dict
    from agent.faults.tracker import FaultTracker
    from agent.pipeline import Pipeline
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info
    base = config_dict(scenario, 0, (learn + ticks) / 120.0 + 1.0)
    rows = simulated_rows(from_dict(base))[:learn + ticks]
    variants = []
    for tick_s, setting in ((s, b) for s in tick_ss for b in ("", *beside)):
        cfg = from_dict(with_settings(copy.deepcopy({**base, "tick_s": tick_s,
                                                     "window": {**base["window"], "carry_forward_s": 3 * tick_s},
                                                     "alerts": {**base["alerts"], "update_interval_s": 10 * tick_s}}),
                                      [setting] if setting else []))     # (a copy: a setting stays in its variant)
        scaled = [dataclasses.replace(r, ts=round(r.ts / 30.0) * tick_s) for r in rows]
        tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
        named = f"tick_s {tick_s:g}" + (f", {setting}" if setting else "")
        variants.append((f"fault tracker, {named}", tracker.observe, scaled))
        variants.append((f"whole numpy tick, {named}", Pipeline(cfg).step, scaled))
    took: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    order = list(range(len(variants)))
    rng = random.Random(0)
    t_start = time.monotonic()
    for k in range(learn + ticks):
        rng.shuffle(order)
        for v in order:
            label, call, scaled = variants[v]
            t0 = time.perf_counter()
            call(scaled[k])
            if k >= learn:
                took[label].append(1e6 * (time.perf_counter() - t0))
    out = {"bench": "faults.py tick-cost", "machine": machine_info(), "scenario": scenario, "learn_ticks": learn,
           "ticks": ticks, "beside": list(beside), "elapsed_s": round(time.monotonic() - t_start, 1),
           "load_average_at_end": [round(v, 2) for v in os.getloadavg()], "variants": {}}
    for label, us in took.items():
        out["variants"][label] = {"p50_us": round(float(np.percentile(us, 50)), 1),
                                  "p99_us": round(float(np.percentile(us, 99)), 1)}
        print(f"{label}: p50 {out['variants'][label]['p50_us']:.0f} µs, p99 {out['variants'][label]['p99_us']:.0f} µs",
              file=sys.stderr, flush=True)
    return out


def blame_cost(tick_ss: list[float], repeats: int) -> dict:
    """p50 µs of one blame (every relation past half its limit and every mate checked) at each tick_s,
    the variants interleaved."""
    import numpy as np
    from agent.config import from_dict
    from agent.faults.tracker import FaultTracker
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info
    drifts = []
    for tick_s in tick_ss:
        cfg = from_dict({**config_dict("corridor", 0, 1.0), "tick_s": tick_s})
        tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
        drifts.append(next(r for r in tracker.rules if r.KIND == "drift"))
    took: list[list[float]] = [[] for _ in drifts]
    for _ in range(repeats):
        for i, drift in enumerate(drifts):
            n, s_n = drift.n, drift.trio.shape[0]
            drift.departure[...] = 3.0 * drift.z_limit
            judged, size = np.ones(n + s_n, bool), np.full(n + s_n, 3.0 * drift.z_limit)
            t0 = time.perf_counter()
            drift._blamed(judged, size, np.ones(s_n, bool))
            drift._agrees(drift.departure[n:] @ drift.trio_in.T, np.ones(n, bool))
            took[i].append(1e6 * (time.perf_counter() - t0))
    out = {"bench": "faults.py blame-cost", "machine": machine_info(), "repeats": repeats,
           "load_average_at_end": [round(v, 2) for v in os.getloadavg()], "variants": {}}
    for tick_s, drift, us in zip(tick_ss, drifts, took):
        out["variants"][f"tick_s {tick_s:g}"] = {"ring_rows": int(drift.history.shape[0]),
                                                 "p50_us": round(float(np.percentile(us, 50)), 1)}
        print(f"tick_s {tick_s:g} ({drift.history.shape[0]} rows): blame p50 {np.percentile(us, 50):.0f} µs",
              file=sys.stderr, flush=True)
    return out


def teach_one(n: int, warmup: int, frozen: bool) -> dict:
    """One first live tick after a warm-up on a recording (see the module's docstring): in this process."""
    import resource
    import numpy as np
    from agent.config import from_dict
    from agent.pipeline import Pipeline
    from agent.sources.simulate import corridor_sensors
    from agent.warmup import WarmupRows
    tick_s, day = 30.0, 2880
    cfg = from_dict({"tick_s": tick_s, "topology": "corridor", "sensors": corridor_sensors(-(-n // 3))[:n],
                     "sources": [{"type": "simulate", "scenario": "corridor", "seed": 0, "start": "2026-01-05T00:00:00Z",
                                  "duration_s": (warmup + day + 1) * tick_s, "anomaly_every_s": 1e9}],
                     "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": warmup},
                     "scoring": {"chain": ["numpy"]}})
    rows = simulated_rows(cfg)
    live, recording = rows[-1], rows[:-1]
    recorded = WarmupRows(n, len(recording))
    for k, row in enumerate(recording):
        if frozen and k >= len(recording) - 240:        # its last 2 h: stuck at the end of the taught ticks
            row.values[0] = 12.5
        recorded.append(row)
    pipe = Pipeline(cfg)
    pipe.warm_up_from(recorded)
    said = []
    import logging
    import re
    handler = logging.Handler()
    handler.emit = lambda rec: said.append(rec.getMessage())
    logger = logging.getLogger("stad.pipeline")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    peak0, rss0 = _peak_mib(resource), _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    pipe.step(live)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    taught = next((m for m in said if m.startswith("fault rules")), "")
    ticks = re.search(r"taught on ([\d,]+) recorded ticks", taught)
    return {"sensors": n, "warmup_ticks": warmup, "frozen_sensor": frozen,
            "taught_ticks": int(ticks[1].replace(",", "")) if ticks else 0, "left_out": "left out" in taught, "first_live_tick_s": round(wall, 3), "first_live_tick_cpu_s": round(cpu, 3),
            "peak_rss_mib_before": peak0, "peak_rss_mib_after": _peak_mib(resource),
            "rss_mib_before": rss0, "rss_mib_after": _rss_mib(), "said": taught}


def _peak_mib(resource) -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _corridor_csv(path: Path, start: str, hours: float, seed: int, edit, columns: list[str] | None = None) -> None:
    """The corridor simulator's `hours` from `start` (no injected anomaly) as a replay CSV, each record's values
    passed to `edit` first; `columns`: the sensors it has a column of (all six stations')."""
    import csv
    from agent.alerts import iso
    from agent.sources.simulate import SimulateConfig, corridor_sensors, generate
    sensors = corridor_sensors(6)
    records = generate(SimulateConfig(scenario="corridor", seed=seed, start=start, duration_s=hours * 3600.0),
                       sensors, 30.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        columns = sensors if columns is None else columns
        w.writerow(["timestamp", *columns])
        for r in records:
            values = dict(r.values)
            edit(values)
            w.writerow([iso(r.ts), *[f"{values[s]:.6g}" if s in values else "" for s in columns]])


def broken_start(seed: int, variant: str, workdir: Path) -> dict:
    """One `broken-start` run (see the module's docstring) in `workdir`."""
    import subprocess
    import yaml
    from agent.sources.lines import parse_time
    from agent.sources.simulate import corridor_sensors
    held, seen = {}, {"k": 0}

    def broken(values, on=True):
        if on:
            held.setdefault("S02_speed", values["S02_speed"])
            values["S02_speed"] = held["S02_speed"]
            values.update({f"S04_{q}": 0.0 for q in ("flow", "occ", "speed")})

    def recorded(values):
        seen["k"] += 1
        broken(values, seen["k"] > 30 * 120)

    _corridor_csv(workdir / "clean" / "day.csv", "2026-01-04T00:00:00Z", 32, seed, recorded)
    _corridor_csv(workdir / "live.csv", "2026-01-05T08:00:00Z", 2, seed + 100,
                  lambda values: broken(values, variant == "broken"))
    (workdir / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": corridor_sensors(6),
        "sources": [{"type": "replay", "path": "live.csv"}], "window": {"steps": 32, "carry_forward_s": 90},
        "warmup": {"ticks": 480, "replay": "clean"}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": "events.jsonl"}], "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=workdir, capture_output=True,
                         text=True, timeout=1800)
    if run.returncode != 0:
        raise SystemExit(f"agent run in {workdir}: exit {run.returncode}\n{run.stderr[-2000:]}")
    faults = [f for f in map(json.loads, (workdir / "events.jsonl").read_text().splitlines()) if f["event"] == "fault"]
    soon = parse_time("2026-01-05T08:00:00Z") + 900

    def left(f):
        return f["sensor"] in ("S02_speed", "S04") or f["group"] == "S04"
    return {"seed": seed, "variant": variant,
            "s02_stuck_15min": any(f["sensor"] == "S02_speed" and f["kind"] == "stuck" and parse_time(f["ts"]) <= soon
                                   for f in faults),
            "s04_15min": any(left(f) and f["sensor"] != "S02_speed" and parse_time(f["ts"]) <= soon for f in faults),
            "left_out_faults": [f"{f['sensor']}:{f['kind']}@{f['ts'][11:19]}" for f in faults if left(f)],
            "other_faults": sorted(f"{f['sensor']}:{f['kind']}@{f['ts'][11:19]}" for f in faults if not left(f))}


def added_station(seed: int, variant: str, workdir: Path) -> dict:
    """One `added-station` run (see the module's docstring) in `workdir`."""
    import subprocess
    import yaml
    from agent.sources.simulate import corridor_sensors
    sensors = corridor_sensors(6)
    old = [s for s in sensors if not s.startswith("S06")]
    held = {}

    def broken(values):
        if variant == "zeros":
            values.update({f"S06_{q}": 0.0 for q in ("flow", "occ", "speed")})
        elif variant == "const":
            values["S06_speed"] = held.setdefault("S06_speed", values["S06_speed"])
        elif variant == "speed0":
            values["S06_speed"] = 0.0

    _corridor_csv(workdir / "clean" / "day.csv", "2026-01-04T00:00:00Z", 24, seed, lambda values: None, old)
    _corridor_csv(workdir / "live.csv", "2026-01-05T08:00:00Z", 3, seed + 100, broken)
    (workdir / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": sensors,
        "sources": [{"type": "replay", "path": "live.csv"}], "window": {"steps": 32, "carry_forward_s": 90},
        "warmup": {"ticks": 480, "replay": "clean"}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": "events.jsonl"}], "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=workdir, capture_output=True,
                         text=True, timeout=1800)
    if run.returncode != 0:
        raise SystemExit(f"agent run in {workdir}: exit {run.returncode}\n{run.stderr[-2000:]}")
    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    faults = [f for f in events if f.get("event") == "fault"]

    def added(f):
        return f["sensor"].startswith("S06") or f["group"] == "S06"

    def s06_driven(e):
        return any(t.get("sensor", "").startswith("S06") for t in e.get("top_sensors") or [])
    return {"seed": seed, "variant": variant,
            "added_faults": [f"{f['sensor']}:{f['kind']}@{f['ts'][11:19]}"
                             + (f"({','.join(sorted(set(f['evidence'].get('kinds', {}).values())))})"
                                if f["kind"] == "station" else "") for f in faults if added(f)],
            "other_faults": sorted(f"{f['sensor']}:{f['kind']}@{f['ts'][11:19]}" for f in faults if not added(f)),
            "alerts_naming_s06": sum(1 for e in events if e.get("event") == "new" and s06_driven(e)),
            "alerts": sum(1 for e in events if e.get("event") == "new")}


HELD_TICKS, SPIKE_Z, RETURN_TICKS, AROUND_TICKS = 10, 8.0, 3, 5    # (`real`: what a single driver "did")


def real_data(config: str, data: str | None, bundle: str | None, scorers: list[str] | None,
              protocol: str | None = None) -> dict:
    """`real`'s listing (see the module's docstring)."""
    import numpy as np
    from agent import config as agent_config
    from agent.alerts import iso
    from agent.evaluate.runner import replay
    cfg = agent_config.load(config)
    got = replay(cfg, data, str(Path(bundle).resolve()) if bundle else None, scorers, protocol)
    names = cfg.sensor_names()
    out = {}
    for scorer, traces in got.traces.items():
        pages, singles = [], []
        for tr in traces:
            labels = np.asarray(tr.labels)

            def inside(ts):
                k = int(np.searchsorted(tr.ts, ts, side="right")) - 1
                return bool(k >= 0 and labels[k] == 1)
            for f in tr.faults:
                if f.get("event") == "fault":
                    pages.append({"file": tr.file, "sensor": f["sensor"], "kind": f["kind"], "ts": f["ts"],
                                  "in_label": inside(f["ts"] if isinstance(f["ts"], float) else _ts(f["ts"])),
                                  "sensors": f.get("sensors"), "summary": f["evidence"].get("summary", "")[:160]})
            for a in tr.alerts:
                if len(a["drivers"]) != 1 or a["onset"] < tr.ts[tr.train.sum() if tr.train.size else 0]:
                    continue
                j, k = names.index(a["drivers"][0]), int(np.searchsorted(tr.ts, a["onset"]))
                x = tr.values[:, j]
                train = x[:max(int(tr.train.sum()), 2)]
                step = np.nanmedian(np.abs(np.diff(train))) if np.isfinite(train).sum() > 2 else np.nan
                win = x[max(0, k - AROUND_TICKS):k + AROUND_TICKS + 1]
                held = k >= HELD_TICKS and np.all(x[k - HELD_TICKS:k + 1] == x[k])
                jump = np.abs(np.diff(x[max(0, k - AROUND_TICKS):k + 1]))
                back = x[k + 1:k + 1 + RETURN_TICKS]
                spiked = bool(step > 0 and jump.size and np.nanmax(jump) > SPIKE_Z * step and back.size
                              and np.nanmin(np.abs(back - x[max(0, k - AROUND_TICKS)])) < SPIKE_Z * step)
                did = "dropout" if np.isnan(win).any() else "held" if held else "spike" if spiked else "moved"
                singles.append({"file": tr.file, "onset": iso(a["onset"]), "driver": a["drivers"][0],
                                "in_label": inside(a["onset"]), "did": did})
        out[scorer] = {"fault_pages": pages, "single_driver_alerts": singles,
                       "pages_in_label": sum(p["in_label"] for p in pages),
                       "singles_by_did": {d: sum(s["did"] == d for s in singles)
                                          for d in ("held", "spike", "dropout", "moved")},
                       "singles_faultlike_outside_label": sum(s["did"] != "moved" and not s["in_label"]
                                                              for s in singles)}
    return {"bench": "faults.py real", "config": config, "data": data, "files": len(got.files), "scorers": out}


def _ts(text: str) -> float:
    from agent.sources.lines import parse_time
    return parse_time(text)


def teach_cost(sizes: list[int], warmups: list[int]) -> dict:
    """`teach_one` for each N, warm-up and frozen or not, each in a process of its own (`python -c`, this tree's
    `agent` as PYTHONPATH gives it)."""
    import subprocess
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info
    out = {"bench": "faults.py teach-cost", "machine": machine_info(), "load_average_at_start":
           [round(v, 2) for v in os.getloadavg()], "runs": []}
    for n in sizes:
        for warmup in warmups:
            for frozen in (False, True):
                code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
                        f"from faults import teach_one; print(json.dumps(teach_one({n}, {warmup}, {frozen})))")
                done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                run = json.loads(done.stdout.strip().splitlines()[-1])
                out["runs"].append(run)
                print(f"N={n} warmup {warmup} {'one frozen' if frozen else 'healthy'}: taught {run['taught_ticks']} "
                      f"ticks{' (one left out)' if run['left_out'] else ''}: first live tick {run['first_live_tick_s']} s "
                      f"({run['first_live_tick_cpu_s']} s CPU), peak RSS {run['peak_rss_mib_before']} → "
                      f"{run['peak_rss_mib_after']} MiB", file=sys.stderr, flush=True)
    out["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return out


def _print_json(result: dict, out: str | None, indent: int) -> None:
    """The bench's JSON on stdout, and into `out` when given."""
    text = json.dumps(result, indent=indent) + "\n"
    print(text, end="")
    if out:
        Path(out).write_text(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--out", required=True)
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--hours", type=float, default=48.0)
    c.add_argument("--scenario", nargs="+", default=list(SCENARIOS))
    c.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="a config setting over the roadside ones, e.g. faults.drift_moved_alone=true")
    c.add_argument("--learn-like", default=None, metavar="TRACES",
                   help="another collect's traces.json: each run's threshold learns on exactly the ticks the "
                        "same scenario and seed's threshold learned there (a diagnostic)")
    k = sub.add_parser("cost")
    k.add_argument("--sensors", type=int, nargs="+", default=[8, 16, 48])
    k.add_argument("--ticks", type=int, default=3000)
    k.add_argument("--out", default=None)
    k.add_argument("--scenario", choices=list(SCENARIOS), default="corridor")
    k.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="a config setting, e.g. faults.drift_ramp_s=0")
    t = sub.add_parser("tick-cost")
    t.add_argument("--tick-s", type=float, nargs="+", default=[1.0, 0.1, 0.01, 0.001])
    t.add_argument("--ticks", type=int, default=1000)
    t.add_argument("--learn", type=int, default=2880)
    t.add_argument("--scenario", choices=list(SCENARIOS), default="corridor")
    t.add_argument("--beside", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="each tick_s also timed with this setting, interleaved (e.g. faults.drift_every_s=0)")
    t.add_argument("--out", default=None)
    b = sub.add_parser("blame-cost")
    b.add_argument("--tick-s", type=float, nargs="+", default=[30.0, 1.0, 0.01, 0.001])
    b.add_argument("--repeats", type=int, default=30)
    b.add_argument("--out", default=None)
    tc = sub.add_parser("teach-cost")
    tc.add_argument("--sensors", type=int, nargs="+", default=[8, 64])
    tc.add_argument("--warmup", type=int, nargs="+", default=[1000, 5000, 20000])
    tc.add_argument("--out", default=None)
    bs = sub.add_parser("broken-start")
    bs.add_argument("--seeds", type=int, nargs="+", default=list(range(19, 27)))
    bs.add_argument("--out", default=None)
    ad = sub.add_parser("added-station")
    ad.add_argument("--seeds", type=int, nargs="+", default=list(range(250, 258)))
    ad.add_argument("--variants", nargs="+", default=["ok", "zeros", "const", "speed0"])
    ad.add_argument("--out", default=None)
    rd = sub.add_parser("real")
    rd.add_argument("-c", "--config", required=True)
    rd.add_argument("--data", default=None)
    rd.add_argument("--bundle", default=None)
    rd.add_argument("--scorer", action="append", default=None)
    rd.add_argument("--protocol", choices=["skab", "nab", "warmup"], default=None)
    rd.add_argument("--out", default=None)
    s = sub.add_parser("score")
    s.add_argument("traces")
    s.add_argument("--out", default=None)
    g = sub.add_parser("config", help="print one run's agent config as YAML (e.g. for stad-agent evaluate)")
    g.add_argument("scenario", choices=list(SCENARIOS))
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--hours", type=float, default=168.0)
    args = p.parse_args(argv)
    if args.cmd == "config":
        import yaml
        print(yaml.safe_dump(config_dict(args.scenario, args.seed, args.hours), sort_keys=False), end="")
        return 0
    if args.cmd == "cost":
        result = cost(args.sensors, args.ticks, args.scenario, args.set)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0
    printed = {"tick-cost": lambda: tick_cost(args.tick_s, args.ticks, args.scenario, args.learn, args.beside),
               "blame-cost": lambda: blame_cost(args.tick_s, args.repeats),
               "teach-cost": lambda: teach_cost(args.sensors, args.warmup)}
    if args.cmd in printed:
        _print_json(printed[args.cmd](), args.out, indent=2)
        return 0
    if args.cmd == "broken-start":
        import tempfile
        import agent
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for seed in args.seeds:
                for variant in ("broken", "repaired"):
                    runs.append(broken_start(seed, variant, Path(tmp) / f"{seed}-{variant}"))
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        _print_json({"bench": "faults.py broken-start", "agent": str(Path(agent.__file__).parent), "runs": runs},
                    args.out, indent=1)
        return 0
    if args.cmd == "real":
        _print_json(real_data(args.config, args.data, args.bundle, args.scorer, args.protocol), args.out, indent=1)
        return 0
    if args.cmd == "added-station":
        import tempfile
        import agent
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for seed in args.seeds:
                for variant in args.variants:
                    runs.append(added_station(seed, variant, Path(tmp) / f"{seed}-{variant}"))
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        _print_json({"bench": "faults.py added-station", "agent": str(Path(agent.__file__).parent), "runs": runs},
                    args.out, indent=1)
        return 0
    if args.cmd == "collect":
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        runs = []
        like = {} if args.learn_like is None else {(r["scenario"], r["seed"]): r["learned"] for r in
                                                   json.loads(Path(args.learn_like).read_text())["runs"]}
        for scenario in args.scenario:
            for seed in args.seeds:
                if args.learn_like is not None and (scenario, seed) not in like:
                    raise SystemExit(f"--learn-like: no {scenario} seed {seed} run in {args.learn_like}")
                runs.append(collect_one(scenario, seed, args.hours, args.set, like.get((scenario, seed))))
                print(f"{scenario} seed {seed}: {len(runs[-1]['alerts'])} alerts, {len(runs[-1]['faults'])} "
                      f"fault/sensor events, {runs[-1]['elapsed_s']} s", file=sys.stderr, flush=True)
        import agent
        (out / "traces.json").write_text(json.dumps({"agent": str(Path(agent.__file__).parent), "runs": runs}))
        return 0
    sys.path.insert(0, str(REPO))
    from agent.evaluate.faults import score_traces, format_bench
    data = json.loads(Path(args.traces).read_text())
    report = score_traces(data["runs"])
    print(format_bench(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
