"""Does an alert name the right place? Its `top_sensors` against the corridor's known incident and fault (explain2).

Why: explain1 (bench/explain.py) measured *when* an alert's explanation says its evidence began; nobody had measured
*where*. On the simulated corridor every incident has a station (its queue backs up upstream: the station before it
in configs/demo.yaml's list, upstream → downstream; downstream is starved) and every injected sensor fault a sensor,
so an explanation's place is checkable. This replays bench/accuracy.py's corridor through the daemon's Pipeline
(one model tier or numpy, as `stad-agent evaluate` runs each), keeps what every `new` alert named and the window and
per-sensor scores it was built on, and judges each alert **raised in** a labelled event (its tick raised inside the
event's span plus the bench's tolerance, clear_ticks ticks; the first such alert per event):

- incidents (`--schedule incidents`: corridor25's graded, demand-gated incidents, magnitudes 0.02–1.0; the headline
  is the incidents that made a queue): is the first top sensor at the incident's station (`first_at_station`), at it
  or its upstream neighbour (`first_at_station_or_upstream`), downstream of it (`first_downstream`), and is the
  station anywhere in the top sensors (`station_in_top`);
- sensor faults (`--schedule mixed`: every anomaly kind, one per 90 min; an alert raised in a fault's span and in no
  incident's): is the faulty sensor first (`first_is_faulty`) or anywhere (`faulty_in_top`).

Per rule that ranks the sensors: `event` (what the alert carried), `score` (the scorer's per-sensor scores: what
alerts named before this round, and the order the alert rules read), the candidates `level_among_F` (agent/
alert_events.py `named_order` at F; 0.05 is what alerts name since this round), and the floors `random` (a uniform
sensor, or k distinct ones: exact expectations) and `newest_z` (the sensors by |normalised value| of the window's
newest row); each rule against `score` alert by alert (`paired_vs_score`, with a sign test), and how often the event
named what each rule names (`event_is`). `--from-rows` re-reads a run's rows (rules added since included). JSON on
stdout:

    python bench/explain_where.py --schedule incidents --seeds 5401 5402 … --scorer tflite --scorer numpy \
        --rows /tmp/explain2/rows.jsonl > /tmp/explain2/where.json

Figures and the rule a candidate is judged by: docs/measured/accuracy-corridor.md, the explain2 round.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from math import comb
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent import alert_events  # noqa: E402
from agent.evaluate.faults import SENSOR_FAULT_KINDS, labelled_events, parse_event  # noqa: E402
from agent.evaluate.labelled import labelled_source, load_files, protocol_of  # noqa: E402
from agent.evaluate.runner import event_tolerance_s  # noqa: E402
from agent.evaluate.score_file import model_tier  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.sources.simulate import Simulation  # noqa: E402
from bench import accuracy, corridor_queue  # noqa: E402

BUNDLE = "builtin:demo-corridor"
MAGNITUDES = (0.02, 1.0)         # corridor25–30's command (--corridor-magnitudes 0.02 1.0)


def corridor(schedule: str, seed: int):
    """bench/accuracy.py's corridor for `schedule`: the graded incidents under the demand-gated queue (corridor25's
    command), or the mixed schedule of every anomaly kind (its sensor faults)."""
    if schedule == "incidents":
        return accuracy.corridor_config(None, BUNDLE, "incidents", MAGNITUDES, seed, False, "demand")
    return accuracy.corridor_config(None, BUNDLE, "mixed", seed=seed)


def captured(cfg, f, scorer: str) -> tuple[list[dict], list[str], list[str]]:
    """Every alert of `scorer`'s chain over `f` (as agent/evaluate/score_file.py runs it): raised and end tick, the
    sensors its `new` event named, and what a ranking could read at that tick — the scorer's per-sensor scores, the
    window (normalised, oldest first) and its missing-mask, and the fallback's three parts (AR, fusion, Markov)."""
    tick_cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                                   scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, refusals = model_tier(cfg, scorer, BUNDLE)
    if scorer != "numpy" and not tiers:
        raise RuntimeError(f"{scorer} did not load from {BUNDLE}: {refusals}")
    pipe = Pipeline(tick_cfg, tiers=tiers, warmup_ticks=f.train_ticks)
    out: list[dict] = []

    def take(events):
        for ev in events:
            if ev.event == "new":
                res = pipe._judged[0]
                w = pipe.window
                out.append({"onset": ev.ts, "start": ev.start, "end": None, "tier": ev.tier,
                            "named": [t["sensor"] for t in ev.top_sensors],
                            "sensor_scores": np.nan_to_num(np.asarray(res.sensor_scores, float), nan=0.0),
                            "values": np.array(w.values, np.float64), "missing": np.array(w.missing, bool),
                            "parts": np.array(pipe.numpy._parts) if ev.tier == "numpy" else None})
            elif ev.event == "end" and out and out[-1]["end"] is None:
                out[-1]["end"] = ev.end if ev.end is not None else ev.ts

    for row in f.rows:
        take(pipe.step(row).alerts)
    take(pipe.close(float(f.ts[-1]), "end of data"))
    return out, list(pipe.sensors), list(pipe.groups)


def newest_z(a: dict) -> np.ndarray:
    """The floor: each sensor's |normalised value| on the window's newest row (a missing one: 0)."""
    return np.where(a["missing"][-1], 0.0, np.abs(a["values"][-1]))


def level_among(f: float):
    """The candidate family (the round's protocol): of the sensors scoring at least f × the top score, all by
    |normalised newest value|, then the rest by score — what explain2 adopted as `named_order` at f; since the
    review of explain2 the product moves only the first (`named`)."""
    def order(a: dict) -> np.ndarray:
        s = np.nan_to_num(np.asarray(a["sensor_scores"], float), nan=0.0)
        off = newest_z(a)
        flagged = s >= f * s.max() if s.max() > 0 else np.zeros(s.shape, bool)
        by = np.argsort(-s, kind="stable")
        first = by[flagged[by]]
        return np.concatenate([first[np.argsort(-off[first], kind="stable")], by[~flagged[by]]])
    return order


def named(a: dict) -> np.ndarray:
    """What alerts name now: agent/alert_events.py's `named_order` at NAMED_AMONG (the place, then by score)."""
    return alert_events.named_order(a["sensor_scores"], a["values"][-1], a["missing"][-1], alert_events.NAMED_AMONG)


LEVEL_AMONG = (0.05, 0.1, 0.2, 0.3)
def by_score(a: dict) -> np.ndarray:
    """What an alert named before this round: the scorer's per-sensor scores (the rules' order, `by_score`)."""
    return a["sensor_scores"]


RANKINGS = {"event": None, "score": by_score, "newest_z": newest_z,
            **{f"level_among_{f}": level_among(f) for f in LEVEL_AMONG}, "named": named}
ORDERS = {rule for rule in RANKINGS if rule.startswith("level_among_") or rule == "named"}     # rules that give an order, not a key


def ranking(a: dict, rule: str, k: int) -> list[int]:
    """The first `k` sensor positions by `rule` (`event`: what the alert named)."""
    if rule == "event":
        return a["named_idx"][:k]
    if rule in ORDERS:
        return [int(i) for i in RANKINGS[rule](a)[:k]]
    s = RANKINGS[rule](a)
    return [int(i) for i in np.argsort(-s, kind="stable")[:k]]


def seed_rows(schedule: str, seed: int, scorers: list[str]) -> list[dict]:
    """One row per (scorer, labelled event an alert was raised in): the event's truth and the alert's data."""
    cfg = corridor(schedule, seed)
    src = labelled_source(cfg, None)
    files, _ = load_files(cfg, src, protocol_of(src))
    (f,) = files
    tol = event_tolerance_s(cfg, None)
    (sim_src,) = cfg.sources
    truth = {a.event: a for a in Simulation(sim_src, cfg.sensor_names(), sim_src.tick_s or cfg.tick_s).incidents()}
    scored = f.scored
    scored_from = float(f.ts[scored][0])
    events = [e for e in labelled_events(f.ts[scored], [e for e, m in zip(f.events, scored) if m])
              if e["start"] >= scored_from]
    rows = []
    for scorer in scorers:
        alerts, sensors, groups = captured(cfg, f, scorer)
        stations = list(dict.fromkeys(groups))
        for e in events:
            kind, target = parse_event(e["event"])
            if kind != "incident" and kind not in SENSOR_FAULT_KINDS:
                continue
            raised = [a for a in alerts if e["start"] <= a["onset"] <= e["end"] + tol and a["onset"] >= scored_from]
            if not raised:
                continue
            if kind != "incident" and any(   # a fault's alert that an incident also explains is the incident's
                    parse_event(o["event"])[0] == "incident" and o["start"] <= raised[0]["onset"] <= o["end"] + tol
                    for o in events):
                continue
            a = raised[0]
            a["named_idx"] = [sensors.index(n) for n in a["named"]]
            row = {"seed": seed, "scorer": scorer, "tier": a["tier"], "event": e["event"], "kind": kind,
                   "target": target, "raise_after_start_s": a["onset"] - e["start"], "k": len(a["named"]),
                   "n_sensors": len(sensors)}
            if kind == "incident":
                inc = truth.get(e["event"])
                row.update(queued=bool(inc.queue.formed) if inc is not None and inc.queue is not None else True,
                           km=round(inc.queue.longest_km, 3) if inc is not None and inc.queue is not None else None,
                           magnitude=inc.magnitude if inc is not None else None,
                           station_index=stations.index(target),
                           station_sensors=[i for i, g in enumerate(groups) if g == target])
            row["rank"] = {rule: [int(i) for i in ranking(a, rule, len(sensors))] for rule in RANKINGS}
            row["groups_by_rank"] = {rule: [stations.index(groups[i]) for i in r] for rule, r in row["rank"].items()}
            row["named"] = a["named"]
            row["capture"] = {"sensor_scores": a["sensor_scores"].round(5).tolist(),
                              "values": a["values"].round(4).tolist(), "missing": a["missing"].astype(int).tolist(),
                              "parts": None if a["parts"] is None else a["parts"].round(5).tolist()}
            rows.append(row)
        print(f"{schedule} seed {seed} {scorer}: {len(alerts)} alerts, "
              f"{sum(r['scorer'] == scorer for r in rows)} raised in an incident or fault", file=sys.stderr, flush=True)
    return rows


def reranked(row: dict, station_of: list[int]) -> dict:
    """A row a run wrote, its rankings re-read from its captured alert (rules added since it ran included);
    `station_of`: each sensor position's station index."""
    c = row["capture"]
    a = {"sensor_scores": np.array(c["sensor_scores"]), "values": np.array(c["values"]),
         "missing": np.array(c["missing"], bool), "named_idx": row["rank"]["event"]}
    row["rank"] = {rule: ranking(a, rule, row["n_sensors"]) for rule in RANKINGS}
    row["groups_by_rank"] = {rule: [station_of[i] for i in r] for rule, r in row["rank"].items()}
    return row


def _share(xs) -> float | None:
    xs = list(xs)
    return round(float(np.mean(xs)), 3) if xs else None


def random_in_top(n: int, hits: int, k: int) -> float:
    """The chance that k distinct uniform sensors of n include at least one of `hits`."""
    return 1.0 - comb(n - hits, k) / comb(n, k)


def incident_summary(rows: list[dict], rule: str) -> dict:
    def first_station(r):
        return r["groups_by_rank"][rule][0]
    at = [first_station(r) == r["station_index"] for r in rows]
    up = [r["station_index"] - 1 <= first_station(r) <= r["station_index"] for r in rows]
    down = [first_station(r) > r["station_index"] for r in rows]
    intop = [r["station_index"] in r["groups_by_rank"][rule][:r["k"]] for r in rows]
    return {"n": len(rows), "first_at_station": _share(at), "first_at_station_or_upstream": _share(up),
            "first_downstream": _share(down), "station_in_top": _share(intop)}


def incident_random(rows: list[dict]) -> dict:
    n_st = [len(r["station_sensors"]) for r in rows]
    return {"n": len(rows),
            "first_at_station": _share(h / r["n_sensors"] for h, r in zip(n_st, rows)),
            "first_at_station_or_upstream": _share(h * (2 if r["station_index"] > 0 else 1) / r["n_sensors"]
                                                   for h, r in zip(n_st, rows)),
            "first_downstream": _share(h * (5 - r["station_index"]) / r["n_sensors"] for h, r in zip(n_st, rows)),
            "station_in_top": _share(random_in_top(r["n_sensors"], h, r["k"]) for h, r in zip(n_st, rows))}


def fault_summary(rows: list[dict], rule: str, sensors_of) -> dict:
    first = [sensors_of(r)[r["rank"][rule][0]] == r["target"] for r in rows]
    intop = [r["target"] in [sensors_of(r)[i] for i in r["rank"][rule][:r["k"]]] for r in rows]
    return {"n": len(rows), "first_is_faulty": _share(first), "faulty_in_top": _share(intop)}


def paired(rows: list[dict], rule: str) -> dict:
    """`rule` against the scores' order (what alerts named before this round), alert by alert:
    `first_at_station_or_upstream` right by one of the two only."""
    def right(r, which):
        return r["station_index"] - 1 <= r["groups_by_rank"][which][0] <= r["station_index"]
    gained = sum(right(r, rule) and not right(r, "score") for r in rows)
    lost = sum(right(r, "score") and not right(r, rule) for r in rows)
    return {"rule_only": gained, "score_only": lost, "sign_test_p": round(corridor_queue.sign_test(gained, lost), 5)}


def event_is(rows: list[dict]) -> dict:
    """Per rule, the share of alerts whose named sensors (as many as the event named) are the rule's, in order."""
    return {rule: _share(r["rank"][rule][:r["k"]] == r["rank"]["event"][:r["k"]] for r in rows)
            for rule in RANKINGS if rule != "event"}


def summary(rows: list[dict], sensors: list[str]) -> dict:
    out = {}
    for scorer in dict.fromkeys(r["scorer"] for r in rows):
        mine = [r for r in rows if r["scorer"] == scorer]
        inc = [r for r in mine if r["kind"] == "incident"]
        res = {}
        for view, sub in (("queued", [r for r in inc if r["queued"]]), ("every_incident", inc)):
            res[view] = {rule: incident_summary(sub, rule) for rule in RANKINGS}
            res[view]["random"] = incident_random(sub)
            res[view]["paired_vs_score"] = {rule: paired(sub, rule) for rule in RANKINGS if rule != "score"}
            res[view]["event_is"] = event_is(sub)
        faults = [r for r in mine if r["kind"] in SENSOR_FAULT_KINDS]
        if faults:
            res["sensor_faults"] = {rule: fault_summary(faults, rule, lambda r: sensors) for rule in RANKINGS}
            res["sensor_faults"]["random"] = {"n": len(faults), "first_is_faulty": _share(1 / r["n_sensors"] for r in faults),
                                              "faulty_in_top": _share(r["k"] / r["n_sensors"] for r in faults)}
            res["sensor_faults_by_kind"] = {k: fault_summary([r for r in faults if r["kind"] == k], "event",
                                                             lambda r: sensors)
                                            for k in sorted({r["kind"] for r in faults})}
        out[scorer] = res
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schedule", choices=("incidents", "mixed"), default="incidents")
    ap.add_argument("--seeds", type=int, nargs="+", default=[])
    ap.add_argument("--from-rows", nargs="+", metavar="FILE",
                    help="summarise rows a run wrote (--rows) again, each ranking re-read from its captured alert")
    ap.add_argument("--scorer", action="append", dest="scorers", choices=("tflite", "onnx", "numpy"))
    ap.add_argument("--rows", help="write every judged alert (JSON lines, with its captured window) here")
    args = ap.parse_args(argv)
    scorers = args.scorers or ["tflite", "numpy"]
    if args.from_rows:
        sensors = corridor(args.schedule, 7).sensor_names()
        stations = list(dict.fromkeys(n.split("_", 1)[0] for n in sensors))
        station_of = [stations.index(n.split("_", 1)[0]) for n in sensors]
        rows = [reranked(json.loads(line), station_of) for path in args.from_rows
                for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
        json.dump({"schedule": args.schedule, "from_rows": args.from_rows, "summary": summary(rows, sensors)},
                  sys.stdout, indent=1)
        print()
        return 0
    if not args.seeds:
        ap.error("--seeds: needed unless --from-rows")
    rows = []
    sink = open(args.rows, "a", encoding="utf-8") if args.rows else None
    try:
        for seed in args.seeds:
            got = seed_rows(args.schedule, seed, scorers)
            rows += got
            if sink:
                sink.write("".join(json.dumps(r) + "\n" for r in got))
                sink.flush()
    finally:
        if sink:
            sink.close()
    sensors = corridor(args.schedule, args.seeds[0]).sensor_names()
    json.dump({"schedule": args.schedule, "seeds": args.seeds, "summary": summary(rows, sensors)}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
