"""The chaos soak's invariants (bench/chaos.py): what is checked after a soak, from what a subscriber received, what the
JSONL holds, the agent's logs and STATUS lines. Apart from the soak itself (its faults, its agent's lives), which
grew past 1 100 lines with the sources chaos2 added (bench/chaos_sources.py)."""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import jsonschema

REPO = Path(__file__).resolve().parents[1]
MODEL_SCORERS = ("tflite", "onnx")
SCHEMAS = {name: json.loads((REPO / f"agent/schemas/{name}.schema.json").read_text())
           for name in ("alert", "fault", "health")}


def _schema_errors(payloads: list[dict], schema: str) -> list[str]:
    out = []
    for p in payloads:
        try:
            jsonschema.validate(p, SCHEMAS[schema])
        except jsonschema.ValidationError as exc:
            out.append(f"{schema}: {exc.message} in {json.dumps(p)[:300]}")
    return out


def _streams(events: list[dict], key: str, first: str, last: str, left_open: set) -> list[str]:
    """Broken sequences: per id, seq 0..n without gap, `first` at seq 0, one `last`, at the end — none
    for the ids in `left_open` (open at the final clean stop, which leaves them for the next start)."""
    by_id: dict[str, dict[int, dict]] = defaultdict(dict)
    for e in events:
        by_id[e[key]].setdefault(e["seq"], e)
    broken = []
    for ident, seqs in by_id.items():
        order = sorted(seqs)
        kinds = [seqs[s]["event"] for s in order]
        if order != list(range(len(order))):
            broken.append(f"{ident}: seqs {order} (a gap or no seq 0)")
        if kinds[0] != first:
            broken.append(f"{ident}: starts with {kinds[0]} (no {first})")
        if ident in left_open:
            if last in kinds:
                broken.append(f"{ident}: open at the final stop by its health, yet {kinds.count(last)} {last}")
        elif kinds.count(last) != 1 or kinds[-1] != last:
            broken.append(f"{ident}: events {kinds[:3]}…{kinds[-3:]} ({kinds.count(last)} {last}, last {kinds[-1]})")
    return broken


def _without(p: dict, *keys) -> dict:
    return {k: v for k, v in p.items() if k not in keys}


def check(work: Path, sub, agent, scorer: str = "numpy", drops: list[dict] | None = None, rejects=None) -> dict:
    """Every invariant, `held` or the evidence that broke it; `rejects(agent)`: the source's own invariants on what
    the lives counted ({name: evidence}: the udp feed's below, the Modbus device's and MQTT publisher's in
    bench/chaos_sources.py)."""
    inv: dict[str, list[str]] = {}
    # The agent's lives.
    inv["agent exits only when told"] = [f"life {life.n}: exited on its own, rc {life.rc}" for life in agent.lives
                                         if life.ended_by in ("exited", "never ready")]
    inv["a clean stop exits 0"] = [f"life {life.n}: rc {life.rc}" for life in agent.lives
                                   if life.ended_by == "sigterm" and life.rc != 0]
    inv["no traceback"] = [f"life {life.n}: {life.err}" for life in agent.lives
                           if "Traceback" in life.err.read_text(errors="replace")]
    # The driver moves no clock: the sender's stamps are this host's, a stall is a silence.
    # (a life's release named: an --upgrade-from soak's earlier release may have a defect since fixed — chaos4)
    inv["no time-base move"] = [f"life {life.n} ({getattr(life, 'release', 'this')}): {line[24:200]}"
                                for life in agent.lives
                                for line in life.err.read_text(errors="replace").splitlines()
                                if "time base moved" in line and "summary:" not in line][:20]
    # What the subscriber got.
    parsed: dict[str, list[dict]] = {"alerts": [], "faults": [], "health": []}
    bad_json = []
    for m in sub.messages:
        kind = m["topic"].rsplit("/", 1)[-1]
        if kind in parsed:
            try:
                parsed[kind].append(json.loads(m["payload"]))
            except ValueError:
                bad_json.append(m["topic"])
    inv["mqtt payloads are JSON"] = bad_json
    inv["schemas"] = (_schema_errors(parsed["alerts"], "alert") + _schema_errors(parsed["faults"], "fault")
                      + _schema_errors(parsed["health"], "health"))[:20]
    # The JSONL.
    jsonl_alerts, jsonl_faults, torn = [], [], []
    path = work / "alerts.jsonl"
    for i, line in enumerate(path.read_text().splitlines(keepends=True) if path.exists() else []):
        try:
            obj = json.loads(line)
        except ValueError:
            torn.append(f"line {i + 1}: {line[:80]!r}")
            continue
        if "fault_id" in obj:          # a fault line is the fault event as it is (its `kind`: missing, stuck…)
            jsonl_faults.append(obj)
        else:
            jsonl_alerts.append(_without(obj, "kind"))
    inv["jsonl lines whole"] = torn
    inv["schemas"] += (_schema_errors(jsonl_alerts, "alert") + _schema_errors(jsonl_faults, "fault"))[:20]
    # The final clean stop (SIGTERM) leaves an open alert and open faults open, as its last health says.
    final = parsed["health"][-1] if parsed["health"] else {}
    open_alerts = {final["alert_open"]["alert_id"]} if final.get("alert_open") else set()
    last_fault = {f["sensor"]: f for f in jsonl_faults}
    open_faults = {last_fault[s]["fault_id"] for s, kind in (final.get("faults_active") or {}).items()
                   if s in last_fault and last_fault[s]["event"] == "fault" and last_fault[s]["kind"] == kind}
    # A source fault (its event's `sensor` is the source's label) is in `faults_active` as its sensors, each
    # `missing`: health's `sources` names it (down, its fault_id). A stall within faults.clear_s (60 s) of the
    # last one keeps it open, so the final stop often leaves one (qa35: seed 101's was counted as never ended).
    open_faults |= {src["fault_id"] for src in (final.get("sources") or {}).values()
                    if src.get("down") and src.get("fault_id")}
    inv["alert sequences (mqtt)"] = _streams(parsed["alerts"], "alert_id", "new", "end", open_alerts)
    inv["alert sequences (jsonl)"] = _streams(jsonl_alerts, "alert_id", "new", "end", open_alerts)
    inv["fault sequences (mqtt)"] = _streams(parsed["faults"], "fault_id", "fault", "fault_end", open_faults)
    inv["fault sequences (jsonl)"] = _streams(jsonl_faults, "fault_id", "fault", "fault_end", open_faults)
    inv["alert ids: one `new` each (jsonl and mqtt)"] = one_new_each(jsonl_alerts, parsed["alerts"])
    inv["one incident at a time (an open one goes on under its id after a restart)"] = one_at_a_time(jsonl_alerts)

    def keyed(events, key):
        out: dict[tuple, list[dict]] = defaultdict(list)
        for e in events:
            out[(e[key], e["seq"])].append(_without(e, "replayed"))
        return out
    for name, mq, jl, key in (("alerts", parsed["alerts"], jsonl_alerts, "alert_id"),
                              ("faults", parsed["faults"], jsonl_faults, "fault_id")):
        mk, jk = keyed(mq, key), keyed(jl, key)
        inv[f"{name}: in the jsonl, never over mqtt"] = [str(k) for k in sorted(set(jk) - set(mk))]
        inv[f"{name}: over mqtt, not in the jsonl"] = [str(k) for k in sorted(set(mk) - set(jk))]
        inv[f"{name}: written twice to the jsonl"] = [str(k) for k, v in jk.items() if len(v) > 1]
        inv[f"{name}: copies disagree"] = [str(k) for k in set(mk) | set(jk)
                                           if len({json.dumps(e, sort_keys=True) for e in mk.get(k, []) + jk.get(k, [])}) > 1][:20]
    # The outbox at the end: drained, nothing dropped.
    last = parsed["health"][-1] if parsed["health"] else {}
    box = (last.get("outbox") or {})
    # (the health a clean stop sends may name an event sent that instant, not yet acknowledged: in flight, and
    # received — G-modbus-s17's last `update`, 0.01 s old)
    delivered = not inv["alerts: in the jsonl, never over mqtt"] and not inv["faults: in the jsonl, never over mqtt"]
    inv["outbox drained, nothing dropped"] = ([] if (box.get("depth") == 0 or delivered and box.get("depth") == box.get("in_flight"))
                                              and not box.get("dropped_total") else [json.dumps(box)[:400]])
    inv.update(rejects(agent) if rejects is not None else {})
    inv["alerts said in the summaries"] = summary_alerts(agent)
    inv.update(check_floods(agent))
    if scorer in MODEL_SCORERS:
        inv.update(check_model(sub, agent, scorer, drops or [], parsed["health"]))
    return {k: ("held" if not v else v) for k, v in inv.items()}


def one_new_each(jsonl_alerts: list[dict], mqtt_alerts: list[dict]) -> list[str]:
    """An alert id is raised once: one `new` line in the JSONL, one `new` event (its copies over MQTT, redelivered
    or `replayed`, are one event: the same seq) — a restart that raised an open alert again under its id, or two
    alerts given one id, breaks it (chaos11)."""
    out = [f"{i}: {n} `new` lines in the jsonl" for i, n in
           Counter(a["alert_id"] for a in jsonl_alerts if a["event"] == "new").items() if n > 1]
    seqs: dict[str, set] = defaultdict(set)
    for a in mqtt_alerts:
        if a["event"] == "new":
            seqs[a["alert_id"]].add(a["seq"])
    return out + [f"{i}: `new` at seqs {sorted(s)} over mqtt" for i, s in seqs.items() if len(s) > 1]


def one_at_a_time(jsonl_alerts: list[dict]) -> list[str]:
    """The agent has one alert open at most (health's `alert_open`): in the JSONL's order, no `new` while another
    alert has had no `end`. An alert open at a kill -9 or a stop is continued by the next start under its id and seq
    (agent/alerts.py), so a restart that opened another one beside it — the incident paged twice — breaks this
    (chaos11)."""
    out, open_ = [], None
    for a in jsonl_alerts:
        if a["event"] == "new":
            if open_ is not None and open_ != a["alert_id"]:
                out.append(f"{a['alert_id']} new at {a.get('start')} while {open_} had no end")
            open_ = a["alert_id"]
        elif a["event"] == "end" and a["alert_id"] == open_:
            open_ = None
    return out[:20]


def sighup_refusals(agent, done: list[dict]) -> list[str]:
    """Each SIGHUP sent after a config edit a restart would refuse (CONFIG_MISTAKES) to a life that went on running is
    answered in its log: the file named, `a restart would refuse it`, the agent running on (agent/config_watch.py)."""
    out = []
    sent = Counter(d["life"] for d in done if d["do"] == "sighup_bad_edit" and d.get("alive"))
    for life in agent.lives:
        said = life.err.read_text(errors="replace").count("a restart would refuse it")
        if said < sent[life.n]:
            mistakes = [d.get("mistake") for d in done if d["do"] == "sighup_bad_edit" and d["life"] == life.n]
            out.append(f"life {life.n}: {sent[life.n]} SIGHUPs on a config error ({mistakes}), {said} answered")
    return out


SUMMARY = re.compile(r"summary: (\d+) ticks, (\d+) records in, rejected (\d+) \((.*?)\);")


def summary_rejects(life) -> Counter | None:
    """A life's reject counts by reason, from its summary line (None: it wrote none)."""
    m = SUMMARY.search(life.err.read_text(errors="replace"))
    if not m:
        return None
    return Counter({k: int(v) for k, v in (part.rsplit(": ", 1) for part in m.group(4).split(", ") if part != "none")})


# the summary's alerts: this run's raises, the alerts an earlier run raised that this one continued (chaos10), its events
ALERTS_SAID = re.compile(r"; alerts raised (\d+)(?:, (\d+) raised before this start continued[^(]*)? \(events ([^)]*)\)")


def summary_alerts(agent) -> list[str]:
    """Each life stopped cleanly says the alerts its events are of: `update` / `end` events with no alert raised
    in the life are of alerts an earlier life raised, said as continued — user35 read `alerts raised 0 (events end: 1,
    update: 21)`, after a restart mid-incident, as "no alert". An --upgrade-from soak's earlier release said it so:
    its lives are not judged."""
    out: list[str] = []
    for _, life, _ in clean_stops(agent, []):
        if getattr(life, "release", "this") != "this":
            continue
        m = ALERTS_SAID.search(life.err.read_text(errors="replace"))
        if not m:
            out.append(f"life {life.n}: no alerts in its summary line")
            continue
        raised, continued = int(m.group(1)), int(m.group(2) or 0)
        events = Counter({k: int(v) for k, v in (part.rsplit(": ", 1) for part in m.group(3).split(", ")
                                                  if part != "none")})
        if events["update"] + events["end"] and not raised and not continued:
            out.append(f"life {life.n}: events {dict(events)} and no alert raised or continued said")
    return out


def clean_stops(agent, out: list):
    """(the life before, the life, its reject counts) for each life stopped cleanly (SIGTERM): the lives whose summary
    line the reject invariants read; one that wrote none is said in `out` and skipped."""
    for before, life in zip([None, *agent.lives], agent.lives):
        if life.ended_by != "sigterm":
            continue
        counted = summary_rejects(life)
        if counted is None:
            out.append(f"life {life.n}: no summary line")
            continue
        yield before, life, counted


def udp_rejects(agent, bad_reasons: set) -> dict:
    """Every bad record sent to a life that stopped cleanly is in that life's reject counts (its summary line), and
    no valid record was rejected there (the udp feed: bench/chaos.py's Feeder and Flood)."""
    rejects = []
    for _, life, counted in clean_stops(agent, rejects):
        sent = {r: n for r, n in life.bad_sent.items() if r in bad_reasons}
        # A second value of a sensor in one tick: the same reading again (the driver's `duplicate` kind, a flood's
        # batch of one datagram) is a `repeated reading` since qa53, another one a `duplicate`; which one a record
        # meets depends on what took its tick first (a flood's reading, or the feeder's), so they are judged as one.
        counted = counted.copy()
        counted["duplicate"] += counted.pop("repeated reading", 0)
        # The `junk` kind's random bytes are a `bad payload` when they are not UTF-8 (chaos7: the byte said), else `bad
        # json`: judged as one (qa53: tests/test_chaos1_flood.py failed on 7279aaa8 with "0 sent as 'bad payload', 26
        # counted")
        counted["bad json"] += counted.pop("bad payload", 0)
        # A flood's datagrams, and the feeder's own sent meanwhile, are each taken, a duplicate (once a record, qa54),
        # or dropped by the kernel (one per datagram) — the bad records sent meanwhile too, which are then not counted
        # under their own reason.
        flooded = life.flood_sent + life.valid_in_flood
        # Whatever the kernel still held at the stop is counted `unread at stop` (one per line), not by its reason.
        # A record without a ts is stamped as it comes, and moves no time base while the feeder stamps its own
        # (agent/live_pace.py, mqttsrc5): one that comes during a stall, ahead of the stamped data, is a `timestamp
        # jump`, or `late` behind it (chaos5, seed 503: 25 sent in a stall, 25 counted `timestamp jump`).
        no_ts = life.bad_sent["no ts (taken)"]
        may_add = {"duplicate": no_ts + flooded, "timestamp jump": no_ts,
                   "kernel drop": flooded + life.bad_in_flood, "late": life.valid_in_flood + no_ts,
                   "unread at stop": flooded + life.valid_sent + sum(life.bad_sent.values())}
        short = 0
        for reason in set(sent) | set(counted):
            short += max(0, sent.get(reason, 0) - counted[reason])
            if not counted[reason] <= sent.get(reason, 0) + may_add.get(reason, 0):
                rejects.append(f"life {life.n}: {sent.get(reason, 0)} sent as {reason!r}, {counted[reason]} counted")
        if short > min(life.bad_in_flood, counted["kernel drop"]) + counted["unread at stop"]:
            rejects.append(f"life {life.n}: {short} bad records not counted under their reason, "
                           f"{life.bad_in_flood} sent during floods, {counted['kernel drop']} kernel drops, "
                           f"{counted['unread at stop']} unread at the stop: {dict(counted)}"
                           f" counted, {sent} sent")
    return {"rejects counted": rejects}


#: A flood may not silence the agent's loop longer than this (its STATUS comes every 5 s: HEALTH_EVERY_S) …
FLOOD_SILENCE_S = 30.0
#: … nor grow its memory more than this (its intake queue holds 1 MiB at most, the kernel's buffer ~200 KiB).
FLOOD_RSS_GROWTH_KB = 64 * 1024
TICKS = re.compile(r"STATUS=tier=\w+ ticks=(\d+)")


def flood_figures(life: Life, flood: dict) -> dict:
    """One flood as the agent's STATUS lines saw it: the longest silence from its start until the first STATUS
    after its end, and the ticks said before it and after it."""
    status = [(t, int(m.group(1))) for t, ln in life.notify.times if (m := TICKS.match(ln))]
    before = [n for t, n in status if t < flood["start"]]
    during = [t for t, _ in status if flood["start"] <= t <= flood["end"]]
    after = [(t, n) for t, n in status if t > flood["end"]]
    marks = [flood["start"], *during] + ([after[0][0]] if after else [])
    return {"s": round(flood["end"] - flood["start"], 1), "sent": flood["sent"],
            "longest_silence_s": round(max(b - a for a, b in zip(marks, marks[1:])), 1) if after else None,
            "ticks_before": before[-1] if before else None, "ticks_after": after[0][1] if after else None,
            "rss_kb": [flood["rss_kb_before"], flood.get("rss_kb_after")]}


def check_floods(agent: Agent) -> dict:
    """Through a flood the agent's loop goes on (ticks said, within FLOOD_SILENCE_S, and more of them after it
    than before) and its memory stays bounded. A flood its life did not outlive by a STATUS is not judged."""
    silent, memory = [], []
    for life in agent.lives:
        for flood in life.floods:
            f = flood_figures(life, flood)
            if f["longest_silence_s"] is None:
                if life.ended_by is None or life.ended_by in ("exited", "never ready"):
                    silent.append(f"life {life.n}: no STATUS after a flood of {f['s']} s ({f['sent']} sent)")
                continue
            # (a flood while the feed was away — the MQTT source's broker, its publisher silent — closes no tick)
            if f["longest_silence_s"] > FLOOD_SILENCE_S or (f["ticks_before"] is not None and not flood.get("feed_away")
                                                            and f["ticks_after"] <= f["ticks_before"]):
                silent.append(f"life {life.n}: {json.dumps(f)}")
            before, after = f["rss_kb"]
            if before and after and after - before > FLOOD_RSS_GROWTH_KB:
                memory.append(f"life {life.n}: RSS {before} -> {after} KiB over a flood of {f['s']} s")
    return {"the loop goes on through a flood": silent, "a flood leaves memory bounded": memory}


def event_counts(sub: Subscriber) -> dict:
    alerts = [json.loads(m["payload"]) for m in sub.on("/alerts")]
    faults = [json.loads(m["payload"]) for m in sub.on("/faults")]
    return {"alert_messages": len(alerts), "alert_events": len({(a["alert_id"], a["seq"]) for a in alerts}),
            "alerts": len({a["alert_id"] for a in alerts}),
            "by_event": dict(Counter(a["event"] for a in {(a["alert_id"], a["seq"]): a for a in alerts}.values())),
            "end_reasons": dict(Counter(a["reason"] for a in alerts if a["event"] == "end")),
            "replayed_messages": sum(1 for a in alerts if a.get("replayed")),
            "fault_events": len({(f["fault_id"], f["seq"]) for f in faults}),
            "health_messages": len(sub.on("/health"))}



# How a bundle that does not verify is refused: a file cut short, or one whose sha256 is not the manifest's.
VERIFY_FAILED = re.compile(r"\.(?:tflite|onnx): (sha256 mismatch|size \d+ bytes, the manifest says)")


def judged(line: str, path: str) -> bool:
    """A log line that decides on the bundle at `path`: swapped in, refused, or the running one again."""
    return re.search(re.escape(path) + r"(?=[:; ]|$)", line) is not None and (
        "rejected:" in line or "scorer tier" in line or "not swapped again" in line)



def _logs(agent: Agent) -> list[tuple[Life, list[str]]]:
    return [(life, life.err.read_text(errors="replace").splitlines()) for life in agent.lives]


def _unjudged(agent: Agent, drops: list[dict]) -> list[str]:
    lines = [ln for _, text in _logs(agent) for ln in text]
    return [d["name"] for d in drops if not any(judged(ln, d["path"]) for ln in lines)]


def bundle_outcomes(agent: Agent, drops: list[dict]) -> dict:
    """Per kind of bundle dropped: how its judgements went (swapped in, refused, the running one again)."""
    lines = [ln for _, text in _logs(agent) for ln in text]
    out: dict[str, Counter] = defaultdict(Counter)
    for d in drops:
        for ln in lines:
            if judged(ln, d["path"]):
                what = ("refused: " + VERIFY_FAILED.search(ln).group(1) if VERIFY_FAILED.search(ln)
                        else "refused: " + ln.split(": ")[-1][:60]) \
                    if "rejected:" in ln else "swapped in" if "scorer tier" in ln else "the running one again"
                out[d["corrupt"] or "valid"][what] += 1
    return {k: dict(v) for k, v in out.items()}


#: STATUS's `tier=` words when no tier scores (agent/scoring_state.py): the warm-up, the window refilling
NOT_SCORING = ("warming", "refilling")
STATUS_TIER = re.compile(r"^STATUS=tier=([\w()]+)")


def scoring_tiers(status_lines: list[str]) -> Counter:
    """The tiers STATUS lines say score, by count: a state in which none scores (the warm-up, a refill) is no tier,
    and a planned fallback (`numpy(planned)`: the model tier waits to be prepared, health's `scoring.waiting` says
    why) no step-down. (Before, every word after `tier=` was a tier: the first life's warm-up, `tier=warming`
    since user16, failed every model-tier soak — chaos1.)"""
    words = (m.group(1) for m in map(STATUS_TIER.match, status_lines) if m)
    return Counter(w for w in words if w not in NOT_SCORING and not w.endswith("(planned)"))


OFF_SCALE = "off scale"     # (bench/chaos.py's drop of another plant's bundle: it verifies and loads)


def off_scale_refused(logs, drops: list[dict]) -> list[str]:
    """Every judgement of an off-scale bundle (chaos11) is a refusal by the shadow naming its sensors not on the
    bundle's scale (agent/hotswap.py `_scale_judged`), never a swap."""
    out = []
    for d in drops:
        lines = [ln for _, text in logs for ln in text if judged(ln, d["path"])]
        wrong = [ln for ln in lines if not ("rejected:" in ln and "readings not on its scale" in ln)]
        if wrong:
            out.append(f"{d['name']}: {[ln[24:300] for ln in wrong][:3]}")
    return out


def check_model(sub: Subscriber, agent: Agent, scorer: str, drops: list[dict], health: list[dict]) -> dict:
    """The model tier's invariants (--scorer tflite|onnx)."""
    inv: dict[str, list[str]] = {}
    logs = _logs(agent)
    tiers = []
    for life, lines in logs:
        said = scoring_tiers(life.notify.lines)
        other = {t: n for t, n in said.items() if t != scorer}
        why = [ln for ln in lines if re.search(rf"scorer tier \w+ -> (?!{scorer}\b)", ln)]
        if other and not why:
            tiers.append(f"life {life.n}: STATUS said {other} (configured {scorer}), no step-down line in its log")
    inv[f"every life scores on {scorer} unless its log says why"] = tiers
    corrupt = [d for d in drops if d["corrupt"] and d["corrupt"] != OFF_SCALE]
    paths = {d["path"] for d in corrupt}
    names = {d["name"] for d in corrupt}
    swapped = [f"life {life.n}: {ln[24:240]}" for life, lines in logs for ln in lines
               if "scorer tier" in ln and any(f"from {p}" in ln for p in paths)]
    swapped += [f"health names {h['model_update'].get('bundle')} / {h.get('model_id')}" for h in health
                if (h.get("model_update") or {}).get("bundle") in paths or h.get("model_id") in names]
    swapped += [f"alert {a['alert_id']} #{a['seq']} scored by {a.get('model_id')}" for a in
                (json.loads(m["payload"]) for m in sub.on("/alerts")) if a.get("model_id") in names]
    inv["a corrupt bundle is never swapped in"] = swapped[:20]
    refused = []
    for d in corrupt:
        lines = [ln for _, text in logs for ln in text if judged(ln, d["path"])]
        if not lines:
            refused.append(f"{d['name']} ({d['corrupt']}): never judged")
        elif not all("rejected:" in ln and VERIFY_FAILED.search(ln) for ln in lines):
            refused.append(f"{d['name']} ({d['corrupt']}): {[ln[24:300] for ln in lines][:3]}")
    inv["a corrupt bundle is refused, naming it and the file that does not verify"] = refused
    inv["every bundle dropped is judged"] = _unjudged(agent, [d for d in drops if not d["corrupt"] or d["corrupt"] == OFF_SCALE])
    inv["an off-scale bundle is refused by its shadow, never swapped in"] = off_scale_refused(
        logs, [d for d in drops if d["corrupt"] == OFF_SCALE])
    last_life, last_lines = logs[-1]
    told = sum(1 for ln in last_lines if "model update (" in ln and ") rejected:" in ln)
    counted = ((health[-1] if health else {}).get("model_update") or {}).get("rejected")
    inv["the last life's health counts the rejections its log says"] = (
        [] if counted == told else [f"life {last_life.n}: {told} rejection lines, health rejected {counted}"])
    return inv


