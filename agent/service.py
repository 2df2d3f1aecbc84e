"""The daemon loop: sources (one thread each) → aligner → pipeline → sinks, until stopped."""
from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import prometheus
from .feedback import STATE_FILE as FEEDBACK_FILE, FeedbackMemory, FeedbackRequest, Refused
from .firstscreen import WarmupProgress, banner
from .hotswap import HotSwap
from .intake import IntakeQueue
from .pipeline import Pipeline
from .records import Rejects
from .sdnotify import Notifier
from .sinks import open_sink
from .sources import open_source
from .window import Aligner

if TYPE_CHECKING:
    from .config import AgentConfig

log = logging.getLogger("stad.agent")

_END = object()
HEALTH_EVERY_S = 5.0


def warmup_rows(cfg, rejects: Rejects) -> list:
    """`warmup.replay`'s recorded normal data, aligned by an aligner of its own (the same rules as
    live data's: live stamps may come days later, and are not a jump of this one). Read like a
    `replay` source with the format keys of the config's replay source when it has one (separator,
    time column, column names), else the replay defaults; labels are not used."""
    import dataclasses

    from .sources.replay import ReplayConfig

    like = next((s for s in cfg.sources if isinstance(s, ReplayConfig)), ReplayConfig())
    src = dataclasses.replace(like, path=str(cfg.resolve(cfg.warmup.replay)), speed=0.0, labels_file=None,
                              label_columns=[])
    source = open_source(src, cfg.sensor_names(), rejects, base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    try:
        return Aligner.for_agent(cfg, rejects).align_all(source.records())
    finally:
        source.close()


class Agent:
    def __init__(self, cfg: AgentConfig, max_ticks: int | None = None, notifier: Notifier | None = None):
        self.cfg = cfg
        self.max_ticks = max_ticks
        self.notifier = notifier or Notifier.from_env()
        self.rejects = Rejects()
        self.stop_event = threading.Event()
        Path(cfg.resolve(cfg.state_dir)).mkdir(parents=True, exist_ok=True)
        self.pipeline = Pipeline(cfg)
        self.hotswap = HotSwap(cfg, self.pipeline, poll_ticks=cfg.scoring.models_poll_ticks,
                               min_agreement=cfg.scoring.shadow_min_agreement)
        sensors = self.pipeline.sensors
        if cfg.warmup.replay:
            self.pipeline.warm_up_from(warmup_rows(cfg, self.rejects))
        self.aligner = Aligner.for_agent(cfg, self.rejects)
        self.sources = [open_source(s, sensors, self.rejects, base_dir=cfg.base_dir, tick_s=cfg.tick_s)
                        for s in cfg.sources]
        self.feedback_inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.feedback_counts: Counter = Counter()     # (accepted|refused, verdict or 'invalid') -> messages
        feedback = [s.feedback for s in cfg.sinks if getattr(s, "feedback", None) is not None]
        if feedback:
            self.pipeline.detector.feedback = FeedbackMemory(
                feedback[0], Path(cfg.resolve(cfg.state_dir)) / FEEDBACK_FILE)
        context = replace(cfg.sink_context(), feedback=self.feedback_inbox.put if feedback else None)
        self.sinks = [open_sink(s, context) for s in cfg.sinks]
        self.queue = IntakeQueue()      # bounded in records and bytes; a full queue is counted
        self.records_in = 0
        self.events = Counter()
        self.fault_events = Counter()          # fault / fault_end events, by fault kind
        self.started = time.monotonic()
        self.exit_reason = ""
        self.last_health: dict = {}         # the latest health snapshot (the metrics endpoint reads it)
        self.warmup_progress = WarmupProgress(self.pipeline.warmup_ticks, cfg.tick_s,
                                              cfg.sources[0] if cfg.sources else None)
        self.metrics = prometheus.start(cfg.metrics, self)

    # -- sources -----------------------------------------------------------------------------

    def _pump(self, src) -> None:
        live = src.live
        try:
            for rec in src.records():
                if live:
                    rec.received = time.time()      # the host clock the aligner checks a live stamp against
                if not self.queue.put(rec, self.stop_event) or self.stop_event.is_set():
                    break
        except Exception:  # noqa: BLE001 — a broken source is reported; the others go on
            log.exception("source %s failed", src.TYPE)
        finally:
            self.queue.put_marker(_END)

    # -- loop --------------------------------------------------------------------------------

    def stop(self, reason: str = "stop requested") -> None:
        if not self.stop_event.is_set():
            self.exit_reason = reason
            self.stop_event.set()
            self.notifier.stopping(f"stopping: {reason}")

    def run(self) -> dict:
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, lambda signum, frame: self.hotswap.request("SIGHUP"))
        threads = [threading.Thread(target=self._pump, args=(s,), name=f"source-{s.TYPE}", daemon=True)
                   for s in self.sources]
        for line in banner(self):
            log.info("%s", line)
        for t in threads:
            t.start()
        self.notifier.ready(f"running: tier={self.pipeline.chain.tier} warming up "
                            f"({self.cfg.warmup.ticks} ticks)")
        live = any(s.live for s in self.sources)
        ended = 0
        last_health = 0.0
        try:
            while not self.stop_event.is_set():
                self.notifier.ping()
                item = self.queue.get(timeout=0.5)
                if item is _END:
                    ended += 1
                    if ended == len(self.sources):
                        self._process(self.aligner.flush_all())
                        self.exit_reason = self.exit_reason or "input ended"
                        break
                    continue
                rows = []
                if item is not None:
                    self.records_in += 1
                    rows = self.aligner.push(item)
                if live and self.cfg.window.idle_flush_s > 0:
                    rows += self.aligner.flush_until(time.time() - self.cfg.window.idle_flush_s)
                self._process(rows)
                self._answer_feedback()
                now = time.monotonic()
                if now - last_health >= HEALTH_EVERY_S:
                    last_health = now
                    self._health()
            else:
                # A clean stop (signal, stop()): the ticks still open for late samples are scored too,
                # unless the stop was --max-ticks, which asked for exactly that many.
                if not (self.max_ticks and self.pipeline.ticks >= self.max_ticks):
                    self._process(self.aligner.flush_all())
        finally:
            self.notifier.stopping(f"stopping: {self.exit_reason or 'error'}")
            self.stop_event.set()
            for s in self.sources:
                s.close()
            last_ts = self.pipeline.window.ts[-1] if self.pipeline.warm else time.time()
            for ev in self.pipeline.close(float(last_ts)):
                self._emit(ev)
            for ev in self.pipeline.health.close(float(last_ts)):
                self._emit_fault(ev)
            self._health()
            for sink in self.sinks:
                try:
                    sink.close()
                except Exception:  # noqa: BLE001
                    log.exception("sink %s failed to close", sink.TYPE)
            if self.metrics is not None:
                self.metrics.close()
            self.notifier.status(f"stopped: {self.exit_reason or 'error'}; sinks closed")
        return self.summary()

    def _process(self, rows) -> None:
        for row in rows:
            self.notifier.ping()
            started = time.perf_counter()
            res = self.pipeline.step(row)
            if self.metrics is not None:
                self.metrics.observe_tick(res, time.perf_counter() - started)
            if res.warming:
                self.warmup_progress.update(min(self.pipeline.warmup_counted, self.pipeline.warmup_ticks), row.ts)
            self.hotswap.on_tick(res)
            for ev in res.faults:
                self._emit_fault(ev)
            for ev in res.alerts:
                self._emit(ev)
            if self.max_ticks and self.pipeline.ticks >= self.max_ticks:
                self.stop(f"reached --max-ticks {self.max_ticks}")
                return

    def _answer_feedback(self) -> None:
        """Apply and answer the operator feedback the MQTT sink received (agent/feedback.py)."""
        while True:
            try:
                request: FeedbackRequest = self.feedback_inbox.get_nowait()
            except queue.Empty:
                return
            msg = request.message or {}
            detail, accepted = request.error, False
            if request.error is None:
                try:
                    detail, accepted = self.pipeline.detector.feedback.apply(msg["alert_id"], msg["verdict"]), True
                except Refused as exc:
                    detail = str(exc)
            self.feedback_counts["accepted" if accepted else "refused", msg.get("verdict", "invalid")] += 1
            log.info("feedback %s: %s %s from %s: %s", "accepted" if accepted else "refused",
                     msg.get("verdict", "-"), msg.get("alert_id", "-"), msg.get("operator") or "-", detail)
            request.reply({"alert_id": msg.get("alert_id"), "verdict": msg.get("verdict"),
                           "operator": msg.get("operator"), "accepted": accepted, "detail": detail})

    def _emit(self, ev) -> None:
        self.events[ev.event] += 1
        for sink in self.sinks:
            try:
                sink.emit(ev)
            except Exception:  # noqa: BLE001 — one sink's fault must not starve the others
                log.exception("sink %s failed on %s", sink.TYPE, ev.alert_id)

    def _emit_fault(self, ev) -> None:
        self.fault_events[f"{ev.event} {ev.kind}"] += 1
        for sink in self.sinks:
            try:
                sink.fault(ev)
            except Exception:  # noqa: BLE001 — one sink's fault must not starve the others
                log.exception("sink %s failed on %s", sink.TYPE, ev.fault_id)

    def health_snapshot(self) -> dict:
        snap = self.pipeline.snapshot()
        snap["model_update"] = self.hotswap.status()
        snap["sinks"] = {s.TYPE: stats for s in self.sinks if (stats := s.stats()) is not None}
        snap["intake"] = self.queue.stats()
        snap.update({"node": self.cfg.node.id, "site": self.cfg.node.site, "records_in": self.records_in,
                     "rejected": self.rejects.as_dict(), "alert_events": dict(self.events),
                     "fault_events": dict(self.fault_events),
                     "uptime_s": round(time.monotonic() - self.started, 1)})
        snap["sd_notify_dropped"] = self.notifier.dropped
        fb = self.pipeline.detector.feedback
        if fb is not None:
            counts = {"accepted": {}, "refused": {}}
            for (outcome, verdict), n in sorted(self.feedback_counts.items()):
                counts[outcome][verdict] = n
            snap["feedback"] = {**counts, "threshold_lift": round(fb.lift(fb.now), 4),
                                "false_alarms_remembered": len(fb.lifts), "confirmed": len(fb.confirmed)}
        return snap

    def _health(self) -> None:
        snap = self.health_snapshot()
        self.last_health = snap
        self.notifier.status(f"tier={snap['tier']} ticks={snap['ticks']} alerts={snap['alerts_raised']}")
        for sink in self.sinks:
            try:
                sink.health(snap)
            except Exception:  # noqa: BLE001
                log.exception("sink %s failed on health", sink.TYPE)

    def summary(self) -> dict:
        snap = self.health_snapshot()
        snap["exit_reason"] = self.exit_reason
        snap["late_reordered"] = self.aligner.reordered
        return snap


def format_summary(s: dict) -> str:
    rej = ", ".join(f"{k}: {v}" for k, v in s["rejected"].items()) or "none"
    ev = ", ".join(f"{k}: {v}" for k, v in sorted(s["alert_events"].items())) or "none"
    faults = ", ".join(f"{k}: {v}" for k, v in sorted(s["faults_raised"].items()) if v) or "none"
    lost = ", ".join(f"{sink} {sum(st['dropped'].values())}" for sink, st in s.get("sinks", {}).items()
                     if st.get("dropped"))
    return (f"summary: {s['ticks']} ticks, {s['records_in']} records in, rejected {sum(s['rejected'].values())} "
            f"({rej}); alerts raised {s['alerts_raised']} (events {ev}); "
            f"sensor faults {sum(s['faults_raised'].values())} ({faults}); tier {s['tier']}; "
            + (f"events sinks could not write: {lost}; " if lost else "")
            + f"stopped: {s['exit_reason']}")
