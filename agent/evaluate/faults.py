"""Faults and incidents scored apart.

The simulator labels each injected anomaly `<kind>-<n>@<target>`: `incident` targets a station
or machine; spike, drift, stuck, dead and dropout are sensor faults on one sensor. From those
labels, the agent's alerts and its fault events:

- incidents: an incident event is detected by the first alert raised (its onset tick, not its
  back-dated start: hold-back delays the onset) while the event lasts or within the tolerance
  after; time to detect = onset − event start. An alert overlapping no incident is a false
  alarm; `from_faulty_sensor` counts those whose top sensor when raised was under an injected
  fault, or, on data without fault labels, reported faulty by the agent at that time;
  `only_driver_faulty` (issue 13's wording of the aim) those whose every driver — the top sensors
  above the threshold when raised, else the top one — was: an alert whose top sensor is faulty but
  that other, healthy sensors drive too counts in the first (stricter) and not in the second
  (None where the alerts carry no `drivers`: traces of an older bench);
- faults: an injected fault is reported when the agent decides a fault on its sensor while it
  lasts (or within the tolerance after; a fault already open when it starts counts at once);
  time to detect = decision − start, also in ticks; `kind_matches` counts reports whose kind is
  the one the injected fault should get (SIM_TO_FAULT). A fault reported on a sensor with no
  injected fault then is a false fault report. A fault handed over (faults14: its condition gone
  while another rule judged the sensor, it went on under that rule's kind; its fault_end lists
  them, in order, in evidence.kinds_judged) is still one decision, of the kind it was told, but
  its kind matches an injected fault of any kind it was judged as (faults15: before, an injected
  stuck inside a `missing` fault handed over to `stuck` counted as a kind mismatch). Its fault
  events do not say when it was handed over, so such a match's time to detect is the fault's
  decision, as for any fault already open when an injected one starts.

A simulator spike (a few single-tick outliers on one sensor) should be reported as a `spike`
fault; its neighbours do not show it.
"""
from __future__ import annotations

import re

import numpy as np

from ..sources.lines import parse_time

SENSOR_FAULT_KINDS = ("spike", "drift", "stuck", "dead", "dropout")
SIM_TO_FAULT = {"dropout": "missing", "dead": "dead", "stuck": "stuck", "drift": "drift", "spike": "spike"}
_EVENT_ID = re.compile(r"^(?P<kind>[a-z_]+)-(?P<n>\d+)@(?P<target>.+)$")


def parse_event(event_id: str | None) -> tuple[str | None, str | None]:
    """(kind, target) of a simulator event id; (None, None) for any other label."""
    m = _EVENT_ID.match(event_id or "")
    return (m["kind"], m["target"]) if m else (None, None)


def labelled_events(ts, event_ids: list[str | None]) -> list[dict]:
    """{event, start, end} per labelled event id, from per-tick ids."""
    spans: dict[str, list[float]] = {}
    for t, e in zip(np.asarray(ts, float).tolist(), event_ids):
        if e is not None:
            spans.setdefault(e, [t, t])[1] = t
    return [{"event": e, "start": s, "end": t} for e, (s, t) in spans.items()]


def _t(value) -> float:
    return value if isinstance(value, (int, float)) else parse_time(value)


def reported_faults(faults: list[dict]) -> list[dict]:
    """Fault decisions as {sensor, kind, ts, start, end}: from fault/fault_end payloads (to_dict)."""
    out, open_ = [], {}
    for f in faults:
        if f.get("event") == "fault_update":      # a join told (faults12): its fault_end lists it in evidence.joined
            continue
        if f.get("kind") == "station":            # several sensors' faults told as one (faults/station.py)
            _station(f, out, open_)
        elif f.get("event") == "fault":
            rec = {"sensor": f["sensor"], "kind": f["kind"], "ts": _t(f["ts"]), "start": _t(f["start"]), "end": None}
            out.append(rec)
            open_[f["sensor"]] = rec
        elif f.get("event") == "fault_end" and f["sensor"] in open_:
            _ended(open_.pop(f["sensor"]), f)
            _joined(f, out)
        elif "state" in f:                        # sensor events of agents before fault events
            if f["state"] in ("missing", "stuck"):
                rec = {"sensor": f["sensor"], "kind": f["state"], "ts": _t(f["ts"]), "start": _t(f["ts"]), "end": None}
                out.append(rec)
                open_[f["sensor"]] = rec
            elif f["sensor"] in open_:
                open_.pop(f["sensor"])["end"] = _t(f["ts"])
    return out


def _ended(rec: dict, f: dict, whole: bool = False) -> None:
    """A decision `rec` ended by the fault_end `f`: its end, and every kind it was judged as from its own on
    (`kinds`: evidence.kinds_judged of its sensor, faults14's hand-over; only its own kind when none) — `whole`:
    every one, for a mate's one record of its time in the fault (`_joined`: its kind there is its last)."""
    rec["end"] = _t(f["ts"])
    judged = ((f.get("evidence") or {}).get("kinds_judged") or {}).get(rec["sensor"]) or []
    if whole:
        kinds = [*judged, rec["kind"]]
    elif rec["kind"] in judged:
        kinds = judged[judged.index(rec["kind"]):]
    else:
        kinds = [rec["kind"], *judged]
    rec["kinds"] = list(dict.fromkeys(kinds))


def _kinds(rec: dict) -> list[str]:
    """The kinds decision `rec` was judged as (`_ended`): its own alone while it is open."""
    return rec.get("kinds") or [rec["kind"]]


def _joined(f: dict, out: list[dict]) -> None:
    """The mates that joined a lone fault (faults/station.py; evidence.joined on its fault_end): each decided
    when it joined, ended at its end."""
    evidence = f.get("evidence") or {}
    kinds, end = evidence.get("kinds") or {}, _t(f["ts"])
    for s, at in (evidence.get("joined") or {}).items():
        rec = {"sensor": s, "kind": kinds.get(s, f["kind"]), "ts": _t(at), "start": _t(at), "end": end}
        _ended(rec, f, whole=True)
        out.append(rec)


def _station(f: dict, out: list[dict], open_: dict) -> None:
    """A station fault as its sensors' decisions: each at the station's fault, or (evidence.joined) when it
    joined; each ended at the station's fault_end — but one of its own sensors that joined it again (judged faulty
    again while it was open) ended its first decision by the join: before, that one was left open for good."""
    kinds = (f.get("evidence") or {}).get("kinds") or {}
    if f.get("event") == "fault":
        joined = {}
        ts, start = _t(f["ts"]), _t(f["start"])
    else:
        joined = (f.get("evidence") or {}).get("joined") or {}
        ts = start = None
    for s in f.get("sensors") or []:
        if f.get("event") == "fault" or s in joined:
            at = ts if s not in joined else _t(joined[s])
            if s in open_ and open_[s]["end"] is None:      # its own sensor judged again (review26, faults13): its
                open_[s]["end"] = at                        # first decision ended by then (untold when)
            rec = {"sensor": s, "kind": kinds.get(s, "station"), "ts": at, "start": start if start is not None else at,
                   "end": None}
            out.append(rec)
            open_[s] = rec
        if f.get("event") == "fault_end" and s in open_:
            _ended(open_.pop(s), f)


def score_run(events: list[dict], alerts: list[dict], faults: list[dict], tick_s: float, tolerance_s: float,
              scored_from: float) -> dict:
    """events: {event, start, end}; alerts: {start, onset, end, top_sensors}; faults: event payloads.
    Only events starting and alerts raised at or after `scored_from` count."""
    labelled = [(parse_event(e["event"]), e["start"], e["end"]) for e in events if e["start"] >= scored_from]
    incidents = [(s, e) for (kind, _), s, e in labelled if kind not in SENSOR_FAULT_KINDS]
    injected = [(kind, target, s, e) for (kind, target), s, e in labelled if kind in SENSOR_FAULT_KINDS]
    alerts = [a for a in alerts if a["onset"] >= scored_from]
    decided = reported_faults(faults)

    def fault_under(sensor: str, ts: float) -> str | None:
        """The kind of fault the sensor was under at ts: injected (labels) or else reported."""
        if injected or any(parse_event(e["event"])[0] for e in events):
            return next((k for k, t, s, e in injected if t == sensor and s <= ts <= e + tolerance_s), None)
        return next((f["kind"] for f in decided if f["sensor"] == sensor and f["ts"] <= ts <= (f["end"] or np.inf)),
                    None)

    delays, detected = [], 0
    for s, e in incidents:
        onsets = [a["onset"] for a in alerts if a["start"] <= e + tolerance_s and (a["end"] or np.inf) >= s]
        if onsets:
            detected += 1
            delays.append(max(0.0, min(onsets) - s))
    false_alarms = [a for a in alerts
                    if not any(a["start"] <= e + tolerance_s and (a["end"] or np.inf) >= s for s, e in incidents)]
    from_faulty = _count(k for k in (fault_under(a["top_sensors"][0], a["onset"]) for a in false_alarms
                                     if a["top_sensors"]) if k)
    # …and those whose every driver was (counted by the first driver's fault kind).
    only_driver = None
    if all("drivers" in a for a in false_alarms):
        under = [[fault_under(d, a["onset"]) for d in a["drivers"]] for a in false_alarms]
        only_driver = _count(kinds[0] for kinds in under if kinds and all(kinds))
    by_kind: dict[str, dict] = {}
    for kind, target, s, e in injected:
        k = by_kind.setdefault(kind, {"injected": 0, "reported": 0, "kind_matches": 0, "ttd_s": []})
        k["injected"] += 1
        hits = [f for f in decided if f["sensor"] == target and f["ts"] <= e + tolerance_s
                and (f["end"] is None or f["end"] >= s)]
        if hits:
            first = min(hits, key=lambda f: f["ts"])
            k["reported"] += 1
            k["kind_matches"] += SIM_TO_FAULT.get(kind) in _kinds(first)
            k["ttd_s"].append(max(0.0, first["ts"] - s))
    false_faults = [f for f in decided if f["ts"] >= scored_from and not any(
        t == f["sensor"] and s <= f["ts"] <= e + tolerance_s for _, t, s, e in injected)]
    return {"incidents": {"events": len(incidents), "detected": detected, "ttd_s": delays,
                          "alerts": len(alerts), "false_alarms": len(false_alarms),
                          "false_alarms_from_faulty_sensor": sum(from_faulty.values()),
                          "false_alarms_from_faulty_sensor_by_kind": from_faulty,
                          "false_alarms_only_driver_faulty":
                              None if only_driver is None else sum(only_driver.values()),
                          "false_alarms_only_driver_faulty_by_kind": only_driver},
            "faults": {"by_kind": by_kind, "false_reports": len(false_faults),
                       "false_reports_by_kind": _count(f["kind"] for f in false_faults),
                       "reported_by_kind": _count(f["kind"] for f in decided if f["ts"] >= scored_from)},
            "tick_s": tick_s}


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in items:
        out[k] = out.get(k, 0) + 1
    return out


def _ttd(values: list[float], tick_s: float) -> dict:
    if not values:
        return {"ttd_median_s": None, "ttd_mean_s": None, "ttd_max_s": None, "ttd_max_ticks": None}
    return {"ttd_median_s": float(np.median(values)), "ttd_mean_s": float(np.mean(values)),
            "ttd_max_s": float(np.max(values)), "ttd_max_ticks": float(np.max(values)) / tick_s}


def summarise(runs: list[dict]) -> dict:
    """Sum score_run results (same tick) into rates and time-to-detect statistics."""
    tick_s = runs[0]["tick_s"] if runs else 1.0
    inc = {"events": 0, "detected": 0, "alerts": 0, "false_alarms": 0, "false_alarms_from_faulty_sensor": 0}
    inc_ttd: list[float] = []
    kinds: dict[str, dict] = {}
    false_reports, false_by_kind, reported_by_kind, fa_by_kind = 0, {}, {}, {}
    only_by_kind: dict | None = {}
    for r in runs:
        for k in inc:
            inc[k] += r["incidents"][k]
        for k, v in r["incidents"]["false_alarms_from_faulty_sensor_by_kind"].items():
            fa_by_kind[k] = fa_by_kind.get(k, 0) + v
        only = r["incidents"].get("false_alarms_only_driver_faulty_by_kind")
        if only is None:
            only_by_kind = None                   # one run without drivers: not known for the sum
        elif only_by_kind is not None:
            for k, v in only.items():
                only_by_kind[k] = only_by_kind.get(k, 0) + v
        inc_ttd += r["incidents"]["ttd_s"]
        for kind, v in r["faults"]["by_kind"].items():
            agg = kinds.setdefault(kind, {"injected": 0, "reported": 0, "kind_matches": 0, "ttd_s": []})
            for k in ("injected", "reported", "kind_matches"):
                agg[k] += v[k]
            agg["ttd_s"] += v["ttd_s"]
        false_reports += r["faults"]["false_reports"]
        for src, dst in ((r["faults"]["false_reports_by_kind"], false_by_kind),
                         (r["faults"]["reported_by_kind"], reported_by_kind)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
    return {
        "incidents": {**inc, "false_alarms_from_faulty_sensor_by_kind": fa_by_kind,
                      "false_alarms_only_driver_faulty":
                          None if only_by_kind is None else sum(only_by_kind.values()),
                      "false_alarms_only_driver_faulty_by_kind": only_by_kind,
                      "detection_rate": inc["detected"] / inc["events"] if inc["events"] else None,
                      **_ttd(inc_ttd, tick_s)},
        "faults": {"by_kind": {k: {"injected": v["injected"], "reported": v["reported"],
                                   "kind_matches": v["kind_matches"],
                                   "detection_rate": v["reported"] / v["injected"] if v["injected"] else None,
                                   **_ttd(v["ttd_s"], tick_s)} for k, v in sorted(kinds.items())},
                   "false_reports": false_reports, "false_reports_by_kind": false_by_kind,
                   "reported_by_kind": reported_by_kind},
    }


# ---- the bench's traces (bench/faults.py) ------------------------------------------------------

def score_traces(runs: list[dict]) -> dict:
    """bench/faults.py traces → per scenario summaries."""
    out: dict[str, dict] = {}
    by_scenario: dict[str, list[dict]] = {}
    for r in runs:
        tolerance = 6 * r["tick_s"]
        by_scenario.setdefault(r["scenario"], []).append(
            score_run(r["events"], r["alerts"], r["faults"], r["tick_s"], tolerance, r["warmup_end"]))
    for scenario, scored in by_scenario.items():
        out[scenario] = {"runs": len(scored), **summarise(scored)}
    return out


def format_summary(name: str, s: dict) -> list[str]:
    i, f = s["incidents"], s["faults"]
    rate = "–" if i["detection_rate"] is None else f"{i['detection_rate']:.2f}"
    med = "–" if i["ttd_median_s"] is None else f"{i['ttd_mean_s']:.1f} / {i['ttd_median_s']:.0f}"
    only = "–" if i.get("false_alarms_only_driver_faulty") is None else \
        f"{i['false_alarms_only_driver_faulty']}: {i['false_alarms_only_driver_faulty_by_kind']}"
    lines = [f"{name}: incidents {i['detected']}/{i['events']} ({rate}), TTD mean / median {med} s; "
             f"alerts {i['alerts']}, false alarms {i['false_alarms']} "
             f"(top sensor faulty {i['false_alarms_from_faulty_sensor']}: "
             f"{i['false_alarms_from_faulty_sensor_by_kind']}; only driver faulty {only})"]
    for kind, v in f["by_kind"].items():
        ttd = "–" if v["ttd_median_s"] is None else \
            f"median {v['ttd_median_s']:.0f} s, max {v['ttd_max_s']:.0f} s ({v['ttd_max_ticks']:.1f} ticks)"
        lines.append(f"  {kind:8} reported {v['reported']}/{v['injected']} (as {kind}→"
                     f"{SIM_TO_FAULT.get(kind)}: {v['kind_matches']}), TTD {ttd}")
    lines.append(f"  false fault reports {f['false_reports']} {f['false_reports_by_kind']}")
    return lines


def format_bench(report: dict) -> str:
    return "\n".join(line for name, s in report.items() for line in format_summary(name, s))
