"""One scorer over one labelled file: the daemon's Pipeline restricted to one tier (numpy, or a
model runtime of the bundle), or a baseline (random, rolling z-score: through the agent's own
threshold and alert lifecycle; "always": an alarm on every scored row).

An alert counts as a prediction from the tick it was RAISED on to its last tick above threshold
(`spans_from_events`): the agent cannot act on an alert before it exists. Spans from the tracker's
back-dated `start` are kept for comparison only. With a feedback delay the labels are replayed as
operator feedback (feedback_replay.py) through the daemon's own feedback code.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..alert_events import by_score
from ..alerts import drivers
from ..bundle import Expectation
from ..config import AgentConfig
from ..scorers import Scorer, load_tiers, runtimes
from . import baselines, feedback_replay
from .traces import FileRows, Trace

MODEL_TIERS = tuple(runtimes())


def default_scorers(bundle: str | None) -> list[str]:
    """numpy, the bundle's model tiers when there is a bundle, then the baselines."""
    return ["numpy", *(MODEL_TIERS if bundle else ()), *baselines.BASELINES]


def alert_records(alert_events, last_ts: float, opened: dict[str, dict] | None = None) -> list[dict]:
    """One {start, onset, end, top_sensors, drivers} per alert: onset is the tick it was raised, the
    top sensors by score when it was raised, its drivers those of them above the threshold then
    (else the top one: agent.alerts.drivers). `opened`: each alert's explanation as the tracker opened it (by
    alert id), whose score order (`by_score`) the event does not carry when it names its sensors by where
    (explain2); without it, the event's own."""
    out: list[dict] = []
    for ev in alert_events:
        if ev.event == "new":
            kept = (opened or {}).get(ev.alert_id)
            exp = {"top_sensors": by_score(kept) if kept else ev.top_sensors}
            out.append({"start": ev.start, "onset": ev.ts, "end": None,
                        "top_sensors": [t["sensor"] for t in exp["top_sensors"]],
                        "drivers": drivers(exp, ev.threshold)})
        elif ev.event == "end" and out and out[-1]["end"] is None:
            out[-1]["end"] = ev.end if ev.end is not None else ev.ts
    if out and out[-1]["end"] is None:
        out[-1]["end"] = last_ts
    return out


def spans_from_events(alert_events, last_ts: float) -> dict[str, list]:
    """From new/end events: `alert_spans` [tick raised, last tick above threshold], `onsets` (the
    ticks raised on) and, for comparison only, `backdated_spans` [alert start, last tick above]."""
    spans, backdated, onsets, raised, start = [], [], [], None, None
    for ev in alert_events:
        if ev.event == "new":
            raised, start = ev.ts, ev.start
            onsets.append(ev.ts)
        elif ev.event == "end" and raised is not None:
            end = ev.end if ev.end is not None else ev.ts
            spans.append((raised, max(raised, end)))
            backdated.append((start, end))
            raised = None
    if raised is not None:
        spans.append((raised, last_ts))
        backdated.append((start, last_ts))
    return {"alert_spans": spans, "onsets": onsets, "backdated_spans": backdated}


def model_tier(cfg: AgentConfig, scorer: str, bundle: str | None) -> tuple[list[Scorer], list[str]]:
    """The one model tier `scorer` loaded from `bundle` (the chain is then it + numpy), and why it
    did not load: ([], reasons) for numpy or when it does not."""
    if scorer == "numpy" or not bundle:
        return [], []
    return load_tiers(cfg.scoring, bundle, Expectation.from_config(cfg), cfg.alerts.top_k,
                      cfg.base_dir, chain=[scorer, "numpy"])


def run_pipeline(cfg: AgentConfig, f: FileRows, scorer: str, bundle: str | None,
                 feedback_delay_s: float | None = None, tolerance_s: float = 0.0) -> Trace:
    """`scorer`'s chain over `f`, through the daemon's Pipeline; with feedback_delay_s, the labels
    are replayed as operator feedback that long after each alert (feedback_replay.py)."""
    from ..feedback import FeedbackConfig, FeedbackMemory, configured
    from ..pipeline import Pipeline
    if scorer != "numpy" and not bundle:
        raise RuntimeError(f"scorer {scorer!r} needs a model bundle: --bundle DIR (or builtin:NAME), "
                           "or scoring.bundle in the config")
    # The protocol counts the training part in ticks (SKAB's 400 rows are already converted).
    # The latency budget is off: a replay runs as fast as the machine allows, so on a busy machine
    # the chain would step the model tier down part-way through a file and the figure reported as
    # the tier's would mix in the fallback's ticks. Speed is bench/'s business, not evaluate's.
    tick_cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                                   scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, refusals = model_tier(cfg, scorer, bundle)
    pipe = Pipeline(tick_cfg, tiers=tiers, warmup_ticks=f.train_ticks)
    if scorer != "numpy" and pipe.chain.tiers[0].TYPE != scorer:
        raise RuntimeError(f"scorer {scorer!r} did not load from bundle {bundle!r}: "
                           + ("; ".join(refusals) or "no reason given"))
    n = len(f.rows)
    last_ts = float(f.ts[-1])
    score, threshold = np.full(n, np.nan), np.full(n, np.nan)
    alert_events, tiers, attention, faults, opened = [], {}, [], [], {}
    peak_attention: dict | None = None
    operator = None
    if feedback_delay_s is not None:
        pipe.detector.feedback = FeedbackMemory(configured(cfg.sinks) or FeedbackConfig())
        operator = feedback_replay.LabelledOperator(f.scored_events, feedback_delay_s, tolerance_s,
                                                    pipe.detector.feedback)
    for i, row in enumerate(f.rows):
        if operator is not None:
            operator.deliver(row.ts)
        res = pipe.step(row)
        if operator is not None:
            operator.observe(res.alerts)
        faults += [ev.to_dict() for ev in res.faults]
        if res.warming:
            continue
        score[i], threshold[i] = res.score, res.threshold
        tiers[res.tier] = tiers.get(res.tier, 0) + 1
        if pipe.alerts.active and res.sensor_weights is not None and res.time_weights is not None:
            if peak_attention is None or res.score > peak_attention["score"]:
                peak_attention = {"ts": res.ts, "score": res.score, "time_weights": np.array(res.time_weights),
                                  "sensor_weights": np.array(res.sensor_weights)}
        for ev in res.alerts:
            alert_events.append(ev)
            if ev.event == "new":
                opened[ev.alert_id] = pipe.alerts.open.explain
            if ev.event == "end" and peak_attention is not None:
                attention.append(peak_attention)
                peak_attention = None
    alert_events += pipe.close(last_ts, "end of data")
    if peak_attention is not None:
        attention.append(peak_attention)
    return Trace.of(f, scorer, score=score, threshold=threshold, tiers=tiers, attention=attention,
                    alerts=alert_records(alert_events, last_ts, opened), faults=faults,
                    feedback_verdicts=None if operator is None else dict(operator.verdicts),
                    **spans_from_events(alert_events, last_ts))


def run_always(f: FileRows) -> Trace:
    """The alarm-on-every-row floor: every scored tick is a detection, one alert over all of them."""
    scored_ts = f.ts[~f.train]
    spans = [(float(scored_ts[0]), float(scored_ts[-1]))] if scored_ts.size else []
    return Trace.of(f, baselines.ALWAYS, score=np.where(f.train, np.nan, 1.0), threshold=np.where(f.train, np.nan, 0.5),
                    alert_spans=spans, backdated_spans=spans, onsets=scored_ts.tolist(),
                    tiers={"baseline": int(scored_ts.size)})


def run_baseline(cfg: AgentConfig, f: FileRows, name: str) -> Trace:
    if name == baselines.ALWAYS:
        return run_always(f)
    per_sensor = baselines.baseline_scores(name, f.values, cfg.window.steps, seed=len(f.rows))
    with np.errstate(all="ignore"):
        tick = np.where(np.isfinite(per_sensor).any(axis=1), np.nanmax(np.nan_to_num(per_sensor, nan=-np.inf),
                                                                        axis=1), np.nan)
    out = baselines.alert_trace(tick, f.ts, f.train_ticks, cfg)
    return Trace.of(f, name, score=np.where(f.train, np.nan, tick), threshold=out["thresholds"],
                    tiers={"baseline": int((~f.train).sum())}, alerts=alert_records(out["events"], float(f.ts[-1])),
                    **spans_from_events(out["events"], float(f.ts[-1])))


def run_scorer(cfg: AgentConfig, f: FileRows, scorer: str, bundle: str | None,
               feedback_delay_s: float | None = None, tolerance_s: float = 0.0) -> Trace:
    """`scorer` over `f`; NAME+feedback is NAME with the labels replayed as operator feedback."""
    if scorer in baselines.BASELINES:
        return run_baseline(cfg, f, scorer)
    if scorer == "numpy" or scorer in MODEL_TIERS:
        return run_pipeline(cfg, f, scorer, bundle)
    base = scorer.removesuffix(feedback_replay.SUFFIX)
    if base != scorer and feedback_delay_s is not None and (base == "numpy" or base in MODEL_TIERS):
        trace = run_pipeline(cfg, f, base, bundle, feedback_delay_s, tolerance_s)
        trace.scorer = scorer
        return trace
    raise ValueError(f"unknown scorer {scorer!r} (known: numpy, {', '.join(MODEL_TIERS)}, "
                     f"{', '.join(baselines.BASELINES)})")


__all__ = ["MODEL_TIERS", "alert_records", "default_scorers", "model_tier", "run_always", "run_baseline",
           "run_pipeline", "run_scorer", "spans_from_events"]
