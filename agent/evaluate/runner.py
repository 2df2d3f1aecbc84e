"""Replay labelled data through the daemon's own per-tick path and measure it: `evaluate`, the
entry point of `stad-agent evaluate`, and `replay`, which bench/accuracy.py also drives.

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

The parts, each read on its own: traces.py (a file after replay, a scorer's run over it),
labelled.py (loading and splitting the files), score_file.py (one scorer over one file),
scorer_metrics.py (one scorer's metrics over all files); here, the loop over scorers and files,
the report and its feedback part.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config as config_mod
from ..bundle import BUILTIN_PREFIX, Expectation, resolve_path as resolve_bundle
from ..config import AgentConfig
from . import feedback_replay
from .labelled import labelled_source, load_files, protocol_of
from .report import build_report, summary_path, write_outputs
from .score_file import MODEL_TIERS, default_scorers, run_scorer
from .scorer_metrics import scorer_metrics
from .traces import FileRows, Trace


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
    if report_path:
        summary_path(report_path)      # (likewise: a report its own summary would replace)
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


__all__ = ["Replayed", "add_feedback_report", "evaluate", "evaluation_bundle", "event_tolerance_s", "replay",
           "with_feedback"]
