"""Replay labelled data through the daemon's own per-tick path and measure it.

Each file is a separate recording: it is aligned by the daemon's Aligner and fed, row by
row, to a fresh `Pipeline` (the class the daemon runs), so what is measured is what runs.
Training and scoring are kept apart in time order, per file:

- skab:   the first 400 rows of every file train (warm-up), the rest is scored — SKAB's protocol;
- nab:    the probationary first 15 % (at most 750 rows) trains, the rest is scored — NAB's;
- warmup: the first `warmup.ticks` ticks train (simulator or other labelled data).

Every scorer sees the same ticks: the agent's chain restricted to one tier ("numpy", or a
model runtime from a bundle) and the baselines (random, rolling z-score), which go through
the agent's own threshold and alert lifecycle, plus "always" (an alarm on every scored row).

An alert counts as a prediction from the tick it was RAISED on to its last tick above
threshold: the agent cannot act on an alert before it exists. The tracker's `start` field
back-dates an opened alert to its first tick above threshold (min_duration_ticks earlier);
spans from that back-dated start are kept only as a labelled extra (`backdated`).

NAB is counted on the file's own rows, as NAB's scorer does: the probationary period is 15 %
of the rows of the file, the windows are row spans of the file, and a detection is the row
on which the tick that raised the alert closed — so the score equals NAB's on every file,
however the aligner buckets the rows into ticks.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..alerts import drivers, iso
from .. import config as config_mod
from ..bundle import BUILTIN_PREFIX, Expectation, resolve_path as resolve_bundle
from ..config import AgentConfig
from ..records import Rejects
from ..scorers import Scorer, load_tiers, runtimes
from ..sources import open_source
from ..sources.replay import ReplayConfig
from ..sources.simulate import SimulateConfig
from ..window import Aligner, Row
from . import baselines, faults as fault_scoring, feedback_replay, nab, skab
from .metrics import average_precision, confusion, event_scores, event_spans, point_adjusted_f1, \
    precision_recall_f1
from .report import build_report, write_outputs

log = logging.getLogger("stad.evaluate")

MODEL_TIERS = tuple(runtimes())


def default_scorers(bundle: str | None) -> list[str]:
    """numpy, the bundle's model tiers when there is a bundle, then the baselines."""
    return ["numpy", *(MODEL_TIERS if bundle else ()), *baselines.BASELINES]


# ---- what one file looks like after replay ------------------------------------------------------

@dataclass
class SourceRows:
    """The rows of a recording as the source read them (before alignment): NAB counts on these."""
    ts: np.ndarray                # (m,) seconds, file order
    labels: np.ndarray            # (m,) 0/1, −1 where the row carries no label
    events: list[str | None]

    @classmethod
    def tap(cls, records) -> tuple["SourceRows", object]:
        """(rows, an iterator over `records` that fills rows as it goes)."""
        out = cls(ts=np.zeros(0), labels=np.zeros(0, int), events=[])
        ts, labels = [], []

        def passing():
            for rec in records:
                ts.append(rec.ts)
                labels.append(-1 if rec.label is None else int(rec.label))
                out.events.append(rec.event)
                yield rec
            out.ts, out.labels = np.array(ts, float), np.array(labels, int)
        return out, passing()

    def windows(self) -> list[tuple[float, float]]:
        """Labelled windows (first, last row timestamp of each event), in time order."""
        return event_spans(self.ts, np.maximum(self.labels, 0), self.events)


@dataclass
class FileRows:
    """One recording's aligned ticks, with the per-tick arrays and ground truth that every scorer
    shares (computed once per file, not once per scorer)."""
    name: str
    rows: list[Row]
    train_ticks: int              # the first train_ticks ticks are training / calibration
    source: SourceRows | None = None   # the file's rows before alignment (replayed files)
    tick_s: float = 1.0

    @cached_property
    def ts(self) -> np.ndarray:
        return np.array([r.ts for r in self.rows])

    @cached_property
    def values(self) -> np.ndarray:
        """(n, N) raw, NaN where missing."""
        return np.stack([r.values for r in self.rows])

    @cached_property
    def labels(self) -> np.ndarray:
        """0/1, −1 where the tick has no source row."""
        return np.array([-1 if r.label is None else int(r.label) for r in self.rows])

    @cached_property
    def events(self) -> list[str | None]:
        return [r.event for r in self.rows]

    @property
    def observed(self) -> np.ndarray:
        """Ticks that carry a source row (gap ticks filled by the aligner do not)."""
        return self.labels >= 0

    @cached_property
    def train(self) -> np.ndarray:
        return np.arange(len(self.rows)) < self.train_ticks

    @cached_property
    def scored(self) -> np.ndarray:
        return ~self.train & self.observed

    def _event_spans(self, mask: np.ndarray) -> list[tuple[float, float]]:
        return event_spans(self.ts[mask], self.labels[mask], [e for e, m in zip(self.events, mask) if m])

    @cached_property
    def scored_events(self) -> list[tuple[float, float]]:
        """Labelled events over the scored ticks, as (start_ts, end_ts)."""
        return self._event_spans(self.scored)

    @cached_property
    def row_tick(self) -> np.ndarray:
        """Per source row, the index of the tick it fell into (its tick's score is its score)."""
        snap = 1e-4 * self.tick_s          # the aligner snaps stamps a hair below a tick boundary up
        return np.clip(np.searchsorted(self.ts, self.source.ts + snap, side="right") - 1, 0, len(self.rows) - 1)

    @cached_property
    def tick_row(self) -> np.ndarray:
        """Per tick, the source row a detection on that tick lands on: the last row in the tick
        (the tick closed with it), or for a tick with no row the next row that has one."""
        m, n = self.source.ts.size, len(self.rows)
        last = np.full(n, -1, dtype=np.int64)
        last[self.row_tick] = np.arange(m)                          # repeated ticks: the last row wins
        first = np.full(n + 1, m, dtype=np.int64)
        first[self.row_tick[::-1]] = np.arange(m)[::-1]             # repeated ticks: the first row wins
        next_first = np.minimum.accumulate(first[::-1])[::-1][:-1]  # m: no row at or after the tick
        return np.where(last >= 0, last, next_first)

    @cached_property
    def nab_windows(self) -> list[tuple[int, int]]:
        """Labelled windows as (left, right) row indices of the file, as NAB's scorer takes them."""
        return nab.window_index_spans(self.source.ts, self.source.windows())


@dataclass
class Trace:
    """One scorer on one file: per-tick arrays over every tick of the file."""
    file: str
    scorer: str
    ts: np.ndarray
    values: np.ndarray            # (n, N) raw, NaN where missing
    labels: np.ndarray            # 0/1, −1 where the tick has no source row
    events: list[str | None]
    train: np.ndarray             # bool: training / calibration tick
    score: np.ndarray             # NaN where not scored
    threshold: np.ndarray
    alert_spans: list[tuple[float, float]]       # [tick raised, last tick above threshold]
    onsets: list[float]           # tick ts of every `new` alert event (the tick it was raised on)
    backdated_spans: list[tuple[float, float]] = field(default_factory=list)   # from the alert's `start`
    tiers: dict[str, int] = field(default_factory=dict)
    attention: list[dict] = field(default_factory=list)   # at each alert's peak, when the scorer has it
    alerts: list[dict] = field(default_factory=list)      # {start, onset, end, top_sensors} per alert
    faults: list[dict] = field(default_factory=list)      # fault / fault_end payloads (pipeline scorers)
    feedback_verdicts: dict[str, int] | None = None       # replayed operator feedback (--feedback-delay)

    @classmethod
    def of(cls, f: FileRows, scorer: str, **results) -> Trace:
        """A scorer's results on `f`, sharing the file's arrays."""
        return cls(file=f.name, scorer=scorer, ts=f.ts, values=f.values, labels=f.labels, events=f.events,
                   train=f.train, **results)

    def _active(self, spans) -> np.ndarray:
        active = np.zeros(self.ts.size, bool)
        for start, end in spans:
            active |= (self.ts >= start) & (self.ts <= end)
        return active

    @property
    def alert_active(self) -> np.ndarray:
        """Ticks on which an alert exists: from the tick it was raised to its last tick above threshold."""
        return self._active(self.alert_spans)

    @property
    def backdated_active(self) -> np.ndarray:
        """For comparison only: alerts back-dated to their first tick above threshold."""
        return self._active(self.backdated_spans)


# ---- loading labelled files ---------------------------------------------------------------------

def labelled_source(cfg: AgentConfig, data_path: str | None):
    """The config's replay/simulate source, pointed at data_path when given."""
    src = next((s for s in cfg.sources if isinstance(s, (ReplayConfig, SimulateConfig))), None)
    if src is None:
        raise ValueError("evaluate needs a 'replay' or 'simulate' source in the config to read labelled data")
    if isinstance(src, ReplayConfig):
        path = Path(data_path).expanduser().resolve() if data_path else cfg.resolve(src.path).resolve()
        labels_file = str(cfg.resolve(src.labels_file).resolve()) if src.labels_file else None
        return dataclasses.replace(src, path=str(path), labels_file=labels_file, speed=0.0)
    if data_path:
        raise ValueError("--data is for replay sources; this config simulates its data")
    duration_s = src.duration_s if src.duration_s is not None else evaluation_duration_s(cfg, src)
    return dataclasses.replace(src, speed=0.0, fast_forward_s=0.0, duration_s=duration_s)


def evaluation_duration_s(cfg: AgentConfig, src: SimulateConfig) -> float:
    """For an endless simulation (the demo): up to an hour past its last configured anomaly, or,
    with the seeded schedule, warm-up plus a week — long enough for every anomaly kind."""
    warmup_s = cfg.warmup.ticks * cfg.tick_s
    if src.anomalies:
        last = max(a.at_s + a.duration_s for a in src.anomalies)
        duration = max(last + 3600.0, warmup_s + 3600.0)
    else:
        duration = warmup_s + 7 * 86400.0
    log.warning("the simulate source has no duration_s: evaluating %.0f simulated seconds (%.1f h; "
                "set duration_s to choose)", duration, duration / 3600)
    return duration


def protocol_of(src: ReplayConfig | SimulateConfig) -> str:
    if isinstance(src, ReplayConfig) and src.labels_file:
        return "nab"
    if isinstance(src, ReplayConfig) and skab.SKAB_LABEL_COLUMN in src.label_columns \
            and src.separator == skab.SKAB_SEPARATOR:
        return "skab"
    return "warmup"


def align(cfg: AgentConfig, records) -> list[Row]:
    """The daemon's alignment: the same Aligner the service runs."""
    return Aligner.for_agent(cfg, Rejects()).align_all(records)


def train_ticks_for(rows: list[Row], protocol: str, cfg: AgentConfig, source: SourceRows | None = None) -> int:
    """How many leading ticks train: SKAB's first 400 rows, NAB's probationary rows (both counted
    on the file's rows when `source` is given, else on the ticks that carry one), else warmup.ticks."""
    if protocol == "warmup":
        return cfg.warmup.ticks
    if source is not None:
        n_rows = source.ts.size
        row_ts = np.sort(source.ts)
        snap = 1e-4 * cfg.tick_s
        ticks_ts = np.array([r.ts for r in rows])
    else:
        observed = np.flatnonzero([r.label is not None for r in rows])
        n_rows = observed.size
    n_train_rows = skab.SKAB_TRAIN_ROWS if protocol == "skab" else nab.probationary_rows(n_rows)
    if n_train_rows >= n_rows:
        return len(rows)
    if n_train_rows <= 0:
        return 0
    if source is not None:
        return int(np.searchsorted(ticks_ts, row_ts[n_train_rows - 1] + snap, side="right"))
    return int(observed[n_train_rows - 1]) + 1


def load_files(cfg: AgentConfig, src: ReplayConfig | SimulateConfig, protocol: str) -> tuple[list[FileRows], list[str]]:
    """Aligned rows of every labelled recording of `src` (see labelled_source); also the recordings
    skipped, each as 'NAME (why)': no rows, no labels, too short to train and score, or its time stepping
    back (a clock set back mid-file): the split, the alert spans, the labelled events and NAB's windows
    are all counted in time order, and a file whose hours overlap has two ticks at each time of them."""
    source = open_source(src, cfg.sensor_names(), Rejects(), cfg.base_dir, tick_s=cfg.tick_s)
    chunks = source.recordings() if isinstance(src, ReplayConfig) else [("simulate", source.records())]
    files, skipped = [], []
    for name, records in chunks:
        source_rows = None
        if isinstance(src, ReplayConfig):
            source_rows, records = SourceRows.tap(records)
        rows = align(cfg, records)
        if not rows or all(r.label is None for r in rows):
            skipped.append(f"{name} ({'no rows' if not rows else 'no labels'})")
            continue
        back = next((i for i, r in enumerate(rows) if r.rebased_from is not None), None)
        if back is not None:
            skipped.append(f"{name} (its time steps back at tick {back + 1} of {len(rows)}, from "
                           f"{iso(rows[back].rebased_from)} to {iso(rows[back].ts)}: the evaluation counts in time "
                           "order; split the file at the step)")
            continue
        train = train_ticks_for(rows, protocol, cfg, source_rows)
        if train < cfg.window.steps + 2 or train >= len(rows):
            skipped.append(f"{name} (too short: {len(rows)} ticks, {train} of them to train; needs more than "
                           f"{cfg.window.steps + 1} to train and some left to score)")
            continue
        labelled = sum(r.label == 1 for r in rows[:train])
        if labelled:                    # the scorers fit and calibrate on them: say so, the figures depend on it
            log.warning("%s: %d of the %d training ticks are labelled anomalous: every scorer fits and calibrates "
                        "on them (%s protocol)", name, labelled, train, protocol)
        files.append(FileRows(name=name, rows=rows, train_ticks=train, source=source_rows, tick_s=cfg.tick_s))
    return files, skipped


# ---- running one scorer over one file -----------------------------------------------------------

def alert_records(alert_events, last_ts: float) -> list[dict]:
    """One {start, onset, end, top_sensors, drivers} per alert: onset is the tick it was raised, the
    top sensors those named when it was raised, its drivers those of them above the threshold then
    (else the top one: agent.alerts.drivers)."""
    out: list[dict] = []
    for ev in alert_events:
        if ev.event == "new":
            out.append({"start": ev.start, "onset": ev.ts, "end": None,
                        "top_sensors": [t["sensor"] for t in ev.top_sensors],
                        "drivers": drivers({"top_sensors": ev.top_sensors}, ev.threshold)})
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
    alert_events, tiers, attention, faults = [], {}, [], []
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
            if ev.event == "end" and peak_attention is not None:
                attention.append(peak_attention)
                peak_attention = None
    alert_events += pipe.close(last_ts, "end of data")
    if peak_attention is not None:
        attention.append(peak_attention)
    return Trace.of(f, scorer, score=score, threshold=threshold, tiers=tiers, attention=attention,
                    alerts=alert_records(alert_events, last_ts), faults=faults,
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


# ---- metrics over all files of one scorer -------------------------------------------------------

def scorer_metrics(files: list[FileRows], traces: list[Trace], n_sensors: int, tick_s: float, protocol: str,
                   tolerance_s: float) -> dict:
    """One scorer's metrics; traces[i] is its run on files[i] (a scorer that failed part-way has fewer)."""
    pairs = list(zip(files, traces))
    labels = np.concatenate([f.labels[f.scored] for f, _ in pairs])
    alert = np.concatenate([t.alert_active[f.scored] for f, t in pairs])
    exceed = np.concatenate([(np.nan_to_num(t.score, nan=-np.inf) > t.threshold)[f.scored] for f, t in pairs])
    scores = np.concatenate([t.score[f.scored] for f, t in pairs])
    counts = confusion(labels, alert)
    backdated = confusion(labels, np.concatenate([t.backdated_active[f.scored] for f, t in pairs]))
    events, alerts, seconds = [], [], 0.0
    for f, t in pairs:
        if not f.scored.any():
            continue
        lo, hi = float(f.ts[f.scored][0]), float(f.ts[f.scored][-1])
        events += f.scored_events
        alerts += [(max(a, lo), b) for a, b in t.alert_spans if b >= lo]
        seconds += hi - lo + tick_s
    out = {
        "pointwise": {**precision_recall_f1(counts), **counts.as_dict()},
        "pointwise_exceedance": precision_recall_f1(confusion(labels, exceed)),
        "auc_pr": average_precision(labels, scores),
        "skab": skab.far_mar_f1(counts),
        "events": event_scores(events, alerts, n_sensors, seconds, tolerance_s),
        "point_adjusted_f1_for_comparison_only": point_adjusted_f1(labels, alert),
        "backdated_for_comparison_only": {**precision_recall_f1(backdated),
                                          **{k: v for k, v in skab.far_mar_f1(backdated).items() if k != "f1"}},
        "scored_rows": int(labels.size),
        "anomalous_rows": int(labels.sum()),
        "nab": nab_metrics(pairs) if protocol == "nab" else None,
        "tiers": _sum_tiers(traces),
        "incidents_and_faults": incidents_and_faults(pairs, tick_s, tolerance_s),
    }
    return out


def incidents_and_faults(pairs: list[tuple[FileRows, Trace]], tick_s: float, tolerance_s: float) -> dict | None:
    """Incident alerts and sensor faults scored apart (agent/evaluate/faults.py). Events are taken
    over the scored ticks, as the table's: one already open when scoring starts counts from there
    (left out, an alert inside it was called a false alarm)."""
    runs = []
    for f, t in pairs:
        if not f.scored.any():
            continue
        events = fault_scoring.labelled_events(f.ts[f.scored], [e for e, m in zip(f.events, f.scored) if m])
        runs.append(fault_scoring.score_run(events, t.alerts, t.faults, tick_s, tolerance_s,
                                            scored_from=float(f.ts[f.scored][0])))
    return fault_scoring.summarise(runs) if runs else None


def nab_inputs(f: FileRows, t: Trace) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Per row of the file: detected (the row the raising tick closed on), the score (its tick's),
    and the windows as row spans — NAB's scorer's inputs."""
    m = f.source.ts.size
    detected = np.zeros(m, bool)
    ticks = np.searchsorted(f.ts, np.asarray(t.onsets, float))
    at = f.tick_row[ticks[ticks < f.ts.size]]
    detected[at[at < m]] = True
    return detected, t.score[f.row_tick], f.nab_windows


def nab_metrics(pairs: list[tuple[FileRows, Trace]]) -> dict:
    """NAB on the files' rows: detections are alerts where they were raised (NAB's fixed-threshold
    score), beside NAB's own protocol of one threshold for the corpus, chosen in hindsight."""
    inputs = [nab_inputs(f, t) for f, t in pairs]
    fixed = nab.corpus_scores([(det, spans) for det, _, spans in inputs])
    out = {}
    for name, profile in nab.PROFILES.items():
        swept = nab.swept_best_score([(score, spans) for _, score, spans in inputs], profile)
        out[name] = {**fixed[name], "swept_threshold_score": swept["score"], "swept_threshold": swept["threshold"]}
    return out


def _sum_tiers(traces: list[Trace]) -> dict[str, int]:
    total: dict[str, int] = {}
    for t in traces:
        for k, v in t.tiers.items():
            total[k] = total.get(k, 0) + v
    return total


# ---- the entry point ---------------------------------------------------------------------------

def _progress(done: int, total: int, label: str, started: float) -> None:
    """One rewritten line on a terminal; a line per tenth of the work otherwise (logs, CI)."""
    line = f"evaluate: {done}/{total} {label[:60]:<60} {time.monotonic() - started:6.1f}s"
    if sys.stderr.isatty():
        print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(line.rstrip(), file=sys.stderr, flush=True)


@dataclass
class Replayed:
    """Every scorer's traces on every file of one labelled source."""
    src: object
    protocol: str
    files: list[FileRows]
    skipped: list[str]
    traces: dict[str, list[Trace]]
    runtimes: dict[str, float]
    errors: dict[str, str]


def with_feedback(scorers: list[str]) -> list[str]:
    """Each agent scorer followed by its run with replayed feedback (NAME+feedback)."""
    out = []
    for s in scorers:
        out.append(s)
        if s == "numpy" or s in MODEL_TIERS:
            out.append(s + feedback_replay.SUFFIX)
    return out


def event_tolerance_s(cfg: AgentConfig, tolerance_s: float | None) -> float:
    """An alert this long after an event's end still detects it (default: clear_ticks ticks)."""
    return cfg.alerts.clear_ticks * cfg.tick_s if tolerance_s is None else tolerance_s


def replay(cfg: AgentConfig, data_path: str | None = None, bundle: str | None = None, scorers=None,
           protocol: str | None = None, feedback_delay_s: float | None = None,
           tolerance_s: float | None = None) -> Replayed:
    """Replay labelled data through each scorer (bundle: an absolute path or None); with
    feedback_delay_s, each agent scorer also runs with the labels replayed as operator feedback."""
    scorers = list(scorers or default_scorers(bundle))
    if bundle and set(scorers) & set(MODEL_TIERS):
        note = parity_said(cfg, bundle)
        if note:
            print(f"evaluate: note: {note}", file=sys.stderr, flush=True)
    if feedback_delay_s is not None:
        if feedback_delay_s < 0 or not np.isfinite(feedback_delay_s):
            raise ValueError(f"--feedback-delay: expected seconds >= 0, got {feedback_delay_s!r}")
        scorers = with_feedback(scorers)
    if tolerance_s is not None and not (np.isfinite(tolerance_s) and tolerance_s >= 0):
        raise ValueError(f"--tolerance-s: expected seconds >= 0, got {tolerance_s!r}")
    tolerance_s = event_tolerance_s(cfg, tolerance_s)
    started = time.monotonic()
    src = labelled_source(cfg, data_path)
    protocol = protocol or protocol_of(src)
    files, skipped = load_files(cfg, src, protocol)
    if not files:
        raise ValueError(f"no labelled file to evaluate under {data_path or 'the configured source'}"
                         + (f" (skipped: {', '.join(skipped)})" if skipped else ""))
    traces: dict[str, list[Trace]] = {s: [] for s in scorers}
    runtimes: dict[str, float] = {s: 0.0 for s in scorers}
    errors: dict[str, str] = {}
    total = len(scorers) * len(files)
    done = 0
    for scorer in scorers:
        for f in files:
            t0 = time.monotonic()
            try:
                if scorer not in errors:
                    traces[scorer].append(run_scorer(cfg, f, scorer, bundle, feedback_delay_s, tolerance_s))
            except RuntimeError as exc:
                errors[scorer] = str(exc)
            runtimes[scorer] += time.monotonic() - t0
            done += 1
            _progress(done, total, f"{scorer} {f.name}", started)
    return Replayed(src, protocol, files, skipped, traces, runtimes, errors)


def parity_said(cfg: AgentConfig, bundle: str) -> str | None:
    """What a run of `bundle` would say of its parity (agent/bundle.py's `parity_note`: int8 artifacts
    that failed it are not run, the model scorers then run its fp32 ones; or none was recorded), so
    that a figure is not read as the int8 model's when it is not. None when it passed, and when the
    bundle does not load (each model scorer then fails with the reason)."""
    from ..bundle import BundleError, load, parity_note
    try:
        return parity_note(load(bundle, expect=Expectation.from_config(cfg)))
    except (BundleError, OSError, ValueError):
        return None


def add_feedback_report(report: dict, cfg: AgentConfig, files: list[FileRows], traces: dict[str, list[Trace]],
                        delay_s: float, tolerance_s: float) -> None:
    """The replayed feedback's settings and verdicts, and every scorer's false alarms over time."""
    from ..feedback import FeedbackConfig, configured
    fb = configured(cfg.sinks) or FeedbackConfig()
    verdicts = {}
    for name, scorer_traces in traces.items():
        if name.endswith(feedback_replay.SUFFIX):
            total: dict[str, int] = {}
            for t in scorer_traces:
                for k, v in (t.feedback_verdicts or {}).items():
                    total[k] = total.get(k, 0) + v
            verdicts[name] = total
    report["feedback"] = {"delay_s": float(delay_s), "max_lift": fb.max_lift, "half_life_s": fb.half_life_s,
                          "verdicts": verdicts}
    for entry in report["scorers"]:
        entry["false_alarms_over_time"] = feedback_replay.false_alarms_over_time(
            list(zip(files, traces[entry["name"]])), tolerance_s)


def evaluation_bundle(cfg: AgentConfig, bundle: str | None) -> str | None:
    """The bundle to evaluate: --bundle (a directory, or builtin:NAME), else the config's
    scoring.bundle (resolved against the config's directory); an absolute path or None."""
    if bundle:
        ref = bundle if bundle.startswith(BUILTIN_PREFIX) else str(Path(bundle).expanduser().resolve())
        return str(resolve_bundle(ref))
    if cfg.scoring.bundle:
        return str(resolve_bundle(cfg.scoring.bundle, cfg.base_dir).resolve())
    return None


def evaluate(cfg: AgentConfig | str | Path, data_path: str | None = None, bundle: str | None = None, scorers=None,
             report_path: str | None = None, plot_dir: str | None = None, protocol: str | None = None,
             tolerance_s: float | None = None, config_path: str | None = None,
             feedback_delay_s: float | None = None) -> dict:
    """Replay labelled data through each scorer; return (and optionally write) the report dict.
    With feedback_delay_s, also each agent scorer with the labels replayed as operator feedback,
    and false alarms per day by tenth of the scored span (feedback_replay.py)."""
    if isinstance(cfg, (str, Path)):
        config_path = str(cfg)
        cfg = config_mod.load(cfg)
    bundle = evaluation_bundle(cfg, bundle)
    if plot_dir:
        from .plots import pyplot_or_fail
        pyplot_or_fail()               # fail before the replay, not after it
    started = time.monotonic()
    run = replay(cfg, data_path, bundle, scorers, protocol, feedback_delay_s, tolerance_s)
    src, protocol, files, skipped = run.src, run.protocol, run.files, run.skipped
    traces, runtimes, errors = run.traces, run.runtimes, run.errors
    scorers = list(traces)
    tolerance_s = event_tolerance_s(cfg, tolerance_s)
    n_sensors = len(cfg.sensor_names())
    results = {s: scorer_metrics(files, traces[s], n_sensors, cfg.tick_s, protocol, tolerance_s)
               for s in scorers if traces[s]}
    data_desc = getattr(src, "path", None) or f"simulate:{src.scenario}:seed={src.seed}"
    report = build_report(cfg, config_path, data_desc, protocol, files, skipped, results, runtimes, errors,
                          tolerance_s, time.monotonic() - started)
    if feedback_delay_s is not None:
        add_feedback_report(report, cfg, files, traces, feedback_delay_s, tolerance_s)
    write_outputs(report, report_path)
    if plot_dir:
        from .plots import plot_all
        report["plots"] = plot_all(traces, plot_dir, cfg.sensor_names())
        write_outputs(report, report_path)
    return report
