"""The daemon loop: sources (one thread each) → aligner → pipeline → sinks, until stopped.

Restarts (agent/checkpoint.py): on start the agent resumes from `<state_dir>/checkpoint.bin`
when it fits the config, continues or ends an alert the last run left open, and re-delivers
that run's last alert event to any sink that may not have it. While running it saves a
checkpoint every `checkpoint_s`, after a model swap and on a clean stop. Every alert event and
every sensor-fault event is journaled before any sink sees it, and goes to the durable sinks (the
MQTT outbox) first.
"""
from __future__ import annotations

import logging
import math
import queue
import signal
import threading
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import prometheus
from .alerts import AlertEvent, iso
from .checkpoint import FAULT_JOURNAL_FILE, CheckpointRefused, CheckpointStore, EventJournal, fault_spare_bytes, fingerprint
from .config_watch import ConfigWatch
from .faults.events import FaultEvent
from .feedback import STATE_FILE as FEEDBACK_FILE, FeedbackMemory, FeedbackRequest, Refused, configured as feedback_configured
from .firstscreen import WarmupProgress, banner
from .hotswap import HotSwap, active_tiers, read_record
from .intake import IntakeQueue
from .pipeline import Pipeline
from .records import Rejects
from .sdnotify import Notifier
from .sinks import open_sink
from .sources import open_source
from .state_writes import STATE_FILES, StateWrites
from .statelock import StateLock
from .topology import adjacency
from .window import DEFAULT_MAX_CLOCK_SKEW_S, MAX_TS, TIME_BASE_MOVES, Aligner

if TYPE_CHECKING:
    from .config import AgentConfig

log = logging.getLogger("stad.agent")

_END = object()
_WAKE = object()        # put by the SIGHUP handler: the loop's wait ends at once
HEALTH_EVERY_S = 5.0
MMAP_THRESHOLD = 128 * 1024     # glibc's default, kept fixed (return_freed_blocks)


def return_freed_blocks() -> bool:
    """Ask glibc to serve every allocation above 128 KiB from a mapping of its own (given back to
    the OS when freed) for the whole run. glibc's default is the same 128 KiB, but it raises the
    threshold to the largest block freed so far (up to 32 MiB), so after the warm-up's fit frees
    its arrays, arrays of that size come from the heap and its memory stays resident (~1 MiB on the
    demo). False where there is no mallopt (not glibc); nothing changes then."""
    try:
        import ctypes   # loaded already: numpy imports it
        return bool(ctypes.CDLL(None).mallopt(-3, MMAP_THRESHOLD))     # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def return_free_heap() -> bool:
    """glibc's malloc_trim(0): give the OS the free pages inside the heap, not only at its top.
    Called when the warm-up's fit is done: its temporaries below the mmap threshold (the blocked
    fit's blocks, Python objects) leave free holes under blocks still in use, and glibc on its own
    returns heap memory from the top only. Measured on the demo, the run's peak falls ~0.4 MiB
    (onnx) to ~0.8 MiB (tflite): the scored ticks refill part of the holes, not all (README
    "Memory, measured"). False where there is no malloc_trim (not glibc) or nothing was freed."""
    try:
        import ctypes   # loaded already: numpy imports it
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False


def warmup_rows(cfg: AgentConfig, rejects: Rejects) -> list:
    """`warmup.replay`'s recorded normal data (agent/sources/replay.py's `warmup_source`), each file
    aligned by an aligner of its own with the same rules as live data's: the days between two
    recordings are not a move of the time base (nor are live stamps that come days later)."""
    from .sources.replay import ReplayConfig, warmup_source

    like = next((s for s in cfg.sources if isinstance(s, ReplayConfig)), None)
    source = warmup_source(cfg.resolve(cfg.warmup.replay), like, cfg.sensor_names(), rejects,
                           base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    rows: list = []
    try:
        for _, records in source.recordings():
            rows += Aligner.for_agent(cfg, rejects).align_all(records)
    finally:
        source.close()
    return rows


class Agent:
    def __init__(self, cfg: AgentConfig, max_ticks: int | None = None, notifier: Notifier | None = None,
                 config_path: str | None = None):
        return_freed_blocks()
        self.cfg = cfg
        self.max_ticks = max_ticks
        self.config_watch = ConfigWatch(config_path)     # a SIGHUP says whether a restart would take the file
        self.notifier = notifier or Notifier.from_env()
        self.rejects = Rejects()
        self.stop_event = threading.Event()
        state_dir = Path(cfg.resolve(cfg.state_dir))
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_lock = StateLock(state_dir)      # before anything reads or writes the state
        record = read_record(state_dir)
        tiers, active = active_tiers(cfg, record)
        self.pipeline = Pipeline(cfg, tiers=tiers)
        self.hotswap = HotSwap(cfg, self.pipeline, poll_ticks=cfg.scoring.models_poll_ticks,
                               min_agreement=cfg.scoring.shadow_min_agreement)
        self.hotswap.resume(record, active)
        sensors = self.pipeline.sensors
        self.aligner = Aligner.for_agent(cfg, self.rejects)
        self.sources = [open_source(s, sensors, self.rejects, base_dir=cfg.base_dir, tick_s=cfg.tick_s)
                        for s in cfg.sources]
        self.feedback_inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.feedback_counts: Counter = Counter()     # (accepted|refused, verdict or 'invalid') -> messages
        feedback = feedback_configured(cfg.sinks)
        if feedback is not None:
            self.pipeline.detector.feedback = FeedbackMemory(
                feedback, Path(cfg.resolve(cfg.state_dir)) / FEEDBACK_FILE)
        context = replace(cfg.sink_context(), feedback=self.feedback_inbox.put if feedback is not None else None)
        # Durable sinks first: an event a crash cuts short is at least in the outbox.
        self.sinks = sorted((open_sink(s, context) for s in cfg.sinks),
                            key=lambda sink: not sink.DURABLE)
        self.queue = IntakeQueue()      # bounded in records and bytes; a full queue is counted
        self.records_in = 0
        self.events = Counter()
        self.fault_events = Counter()          # fault / fault_end events, by fault kind
        self.started = time.monotonic()
        self.exit_reason = ""
        self.data_over = False     # the input ended (or --max-ticks): open alerts and faults end at the stop
        self.last_health: dict = {}         # the latest health snapshot (the metrics endpoint reads it)
        self.checkpoints = CheckpointStore(state_dir)
        self.journal = EventJournal(state_dir)
        self.fault_journal = EventJournal(state_dir, FAULT_JOURNAL_FILE, "fault", fault_spare_bytes(len(cfg.sensor_names())))
        for journal in (self.journal, self.fault_journal):      # while the disk has room: a full one needs them
            if not journal.reserve():
                log.error("cannot reserve %s (%s) in state_dir: on a full disk the %s journal cannot be written and "
                          "a kill -9 then loses what it would have told the restart (check-config says so too)",
                          journal.spare.path.name, journal.spare.problem, journal.what)
        self._told_open: dict[str, dict] = {}   # sensor → open fault, as the fault events sent so far tell it
        self._adjacency = adjacency(cfg.sensor_specs(), cfg.topology)
        self._saved = (None, None)            # (ticks, bundle) of the last checkpoint written
        self._checkpoint_tried_for = None     # the bundle the last checkpoint write was for
        self.state_writes = StateWrites()     # failed writes of the checkpoint and the journals
        self._unjournaled: dict[str, tuple[EventJournal, dict, dict]] = {}     # journal writes to try again
        self._next_checkpoint = time.monotonic() + cfg.checkpoint_s
        self._first_tick_logged = False
        # (last closed tick, last tick ts) to resume after; the tick None: the time base started again
        self._resume_from: tuple[int | None, float] | None = None
        self._rebased = False                 # the checkpoint's time base was left (_rebase_time)
        self._gap_refill = False              # the restart's gap was longer than the window: it refills
        # What became of the checkpoint at start, in health: a fleet sees a gateway that warms up again, and why.
        self.checkpoint_start: dict = {"state": "none", "detail": None}
        self.resumed = self._resume()
        if cfg.warmup.replay and self.resumed is None:      # a checkpoint holds what the replay taught
            self.pipeline.warm_up_from(warmup_rows(cfg, self.rejects))
            self._after_warmup()
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
            signal.signal(signal.SIGHUP, lambda signum, frame: (self.hotswap.request("SIGHUP"),
                                                                self.config_watch.request(),
                                                                self.queue.put_marker(_WAKE)))
        threads = [threading.Thread(target=self._pump, args=(s,), name=f"source-{s.TYPE}", daemon=True)
                   for s in self.sources]
        for line in banner(self):
            log.info("%s", line)
        for t in threads:
            t.start()
        if self.pipeline.warm:
            state = (f"resumed from checkpoint ({self.resumed})" if self.resumed is not None
                     else "warm from the recorded warm-up")
        else:
            state = f"warming up ({len(self.pipeline.warmup)}/{self.cfg.warmup.ticks} ticks)"
        self.notifier.ready(f"running: tier={self.pipeline.chain.tier} {state}")
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
                        self.data_over = True
                        break
                    continue
                if item is _WAKE:
                    item = None
                ticks = self.pipeline.ticks
                self._intake(item, time.time() if live and self.cfg.window.idle_flush_s > 0 else None)
                if self.pipeline.ticks == ticks:         # no tick this turn: a SIGHUP is answered all the same
                    self.hotswap.idle(self.pipeline.warm)
                self._answer_feedback()
                self.config_watch.poll()
                now = time.monotonic()
                if now - last_health >= HEALTH_EVERY_S:
                    last_health = now
                    self._retry_journals()
                    self._health()
                # After a swap at once (the checkpoint names the bundle); a write that fails is tried
                # again at checkpoint_s — every turn, on a full disk, slowed the loop to a record per write.
                if now >= self._next_checkpoint or self.hotswap.current != self._checkpoint_tried_for:
                    self._next_checkpoint = now + self.cfg.checkpoint_s
                    if self.pipeline.ticks:         # (before the first tick there is nothing to write)
                        self._checkpoint_tried_for = self.hotswap.current
                    self.save_checkpoint()
            else:
                # A clean stop (signal, stop()): the records the sources had already handed over and
                # the ticks still open for late samples are scored too, unless the stop was
                # --max-ticks, which asked for exactly that many.
                if not (self.max_ticks and self.pipeline.ticks >= self.max_ticks):
                    for item in self.queue.waiting():
                        if item is not _END and item is not _WAKE:
                            self._intake(item, None)
                    self._process(self.aligner.flush_all())
            clean = True
        except BaseException:
            clean = False
            raise
        finally:
            self.notifier.stopping(f"stopping: {self.exit_reason or 'error'}")
            self.stop_event.set()
            for s in self.sources:
                s.close()
            dropped = self.queue.discard_rest()
            if dropped:
                log.warning("%d record(s) queued after the stop began were not scored (dropped_at_stop)", dropped)
            self._at_stop()
            if clean:
                self.save_checkpoint()
            self._retry_journals()
            self._health()
            for sink in self.sinks:
                try:
                    sink.close()
                except Exception:  # noqa: BLE001
                    log.exception("sink %s failed to close", sink.TYPE)
            if self.metrics is not None:
                self.metrics.close()
            self.journal.close()
            self.fault_journal.close()
            self.notifier.status(f"stopped: {self.exit_reason or 'error'}; sinks closed")
            self.state_lock.release()
        return self.summary()

    def _at_stop(self) -> None:
        """What becomes of an open alert and open sensor faults when the agent stops. The data over
        (every source ended: a recording replayed to its end, stdin closed; --max-ticks), nothing is
        left to judge them by: they end (reason `shutdown`). Any other stop — a signal (`systemctl
        stop` / `restart`), an error — leaves them open, as a kill -9 does: the checkpoint and the
        journals hold them and the next start continues them under the same ids (an `update` with
        `gap_s`), or ends them (`restart`) when it cannot judge them. Ending them here paged the
        control room twice for one incident across an upgrade, with a cool-down's hole between.
        A gateway stopped for good is `offline` with its alert open, as after a crash (README)."""
        alerts, faults = self.pipeline.alerts, self.pipeline.health.open_faults()
        if not self.data_over:
            if alerts.active:
                log.info("alert %s (next seq %d) left open at the stop: the next start continues it or ends it "
                         "(reason restart)", alerts.open.alert_id, alerts.open.seq)
            if faults:
                log.info("sensor fault(s) left open at the stop: %s", _faults_said(faults))
            return
        last_ts = float(self.pipeline.window.ts[-1]) if self.pipeline.warm else time.time()
        for ev in self.pipeline.close(last_ts, "shutdown"):
            self._emit(ev)
        self._emit_faults(self.pipeline.health.close(last_ts))

    def _intake(self, item, now: float | None) -> None:
        """One turn of the loop: a record (None: the queue's wait ran out), then, with `now` (a live
        source and window.idle_flush_s), the ticks the wall clock has closed; the rows, stepped."""
        rows = []
        if self._resume_from is not None and self._resume_from[0] is not None:
            restored = self.aligner.restored_rows()     # the last run's data held back after a silence
            if restored:        # stepped first: the restart's gap is the downtime after them (Aligner.restore)
                self._process(restored)
                self._resume_from = (self.aligner.last_closed_k, self.aligner.last_closed_k * self.cfg.tick_s)
        if item is not None:
            self.records_in += 1
            if self._resume_from is not None:
                self._first_record_after_resume(item)
            rows = self.aligner.push(item)
        if now is not None:
            rows += self.aligner.flush_until(now - self.cfg.window.idle_flush_s)
        self._process(rows)

    def _process(self, rows) -> None:
        for row in rows:
            self.notifier.ping()
            if row.rebased_from is not None:
                # The data stepped back (Aligner): the pipeline ends an alert left open by the last run
                # ('restart') and starts a new time base, so the new data that later passes the
                # checkpoint's last tick is not the restart's first — an alert open then is this life's.
                self._resume_from = None
            started = time.perf_counter()
            warm = self.pipeline.warm
            res = self.pipeline.step(row)
            if self.metrics is not None:
                self.metrics.observe_tick(res, time.perf_counter() - started)
            if self.pipeline.warm and not warm:
                self._after_warmup()
            if not self._first_tick_logged:
                self._first_tick_logged = True
                self._log_first_tick(res)
            if res.warming and not warm:         # not the window's refill after a recorded warm-up
                self.warmup_progress.update(min(self.pipeline.warmup_counted, self.pipeline.warmup_ticks), row.ts)
            self.hotswap.on_tick(res)
            if res.faults or res.alerts:
                self.warmup_progress.clear()      # an event line of its own, not glued to the progress line
            self._emit_faults(res.faults)
            for ev in res.alerts:
                self._emit(ev)
            if self.max_ticks and self.pipeline.ticks >= self.max_ticks:
                self.data_over = True
                self.stop(f"reached --max-ticks {self.max_ticks}")
                return

    def _after_warmup(self) -> None:
        if self.pipeline.warm:
            log.debug("warm-up fitted: free heap pages %s", "returned to the OS" if return_free_heap() else "kept")

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
        # Before any sink: a restarted agent continues from here and completes the delivery.
        self._journal("alert_journal", self.journal, asdict(ev), {"ts": ev.ts, "state": self.pipeline.alerts.state_dict()})
        for sink in self.sinks:
            try:
                sink.emit(ev)
            except Exception:  # noqa: BLE001 — one sink's fault must not starve the others
                log.exception("sink %s failed on %s", sink.TYPE, ev.alert_id)

    def _emit_faults(self, events: list[FaultEvent]) -> None:
        """One tick's fault events: journaled together before any sink sees them — one fsync
        however many sensors a station's power cut takes down — with the open faults as these
        events tell them, which a restart resumes."""
        if not events:
            return
        for ev in events:
            self.fault_events[f"{ev.event} {ev.kind}"] += 1
            if ev.event == "fault":
                self._told_open[ev.sensor] = {"fault_id": ev.fault_id, "kind": ev.kind, "start": ev.start,
                                              "group": ev.group}
            else:
                self._told_open.pop(ev.sensor, None)
        self._journal("fault_journal", self.fault_journal, asdict(events[-1]),
                      {"ts": events[-1].ts, "open": dict(self._told_open), "events": [asdict(ev) for ev in events]})
        for ev in events:
            for sink in self.sinks:
                try:
                    sink.fault(ev)
                except Exception:  # noqa: BLE001 — one sink's fault must not starve the others
                    log.exception("sink %s failed on %s", sink.TYPE, ev.fault_id)

    def _journal(self, key: str, journal: EventJournal, event: dict, tracker: dict, retry: bool = False) -> None:
        """Write a journal; when it fails, the document is kept and written again by
        _retry_journals: the journal holds the LAST event, so the one that failed is the one a
        restart needs — and a journal event may be the last for hours (a fault that lasts), while
        health kept saying the write failed and a restart resumed from the older one."""
        try:
            journal.record(event, tracker)
        except (OSError, TypeError, ValueError) as exc:
            self._unjournaled[key] = (journal, event, tracker)
            spare = getattr(exc, "kept_in", None)
            self.state_writes.failure(key, journal.path, exc, counted=not retry,
                                      fallback=f"kept in {spare} (written in place) meanwhile, which a restart reads"
                                      if spare else "")
        else:
            self._unjournaled.pop(key, None)
            self.state_writes.success(key, journal.path)

    def _retry_journals(self) -> None:
        """The journal writes that failed, tried again (with each health snapshot)."""
        for key, (journal, event, tracker) in list(self._unjournaled.items()):
            self._journal(key, journal, event, tracker, retry=True)

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
        snap["checkpoint_at_start"] = dict(self.checkpoint_start)
        snap["state_writes"] = self.state_writes.snapshot()
        snap["time_base_moves"] = {**dict.fromkeys(TIME_BASE_MOVES, 0), **self.aligner.moves}
        snap["last_time_base_move"] = self.aligner.last_move
        snap["restart_gaps"] = self.aligner.restart_gaps
        snap["last_restart_gap"] = self.aligner.last_restart_gap
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


    # -- checkpoints and restarts (agent/checkpoint.py) -----------------------------------------

    def fingerprint(self) -> dict:
        return fingerprint(self.cfg, self._adjacency, self.pipeline.bundle_identity())

    def save_checkpoint(self) -> dict | None:
        """Write the checkpoint now (atomically); None when there is nothing new or it failed."""
        key = (self.pipeline.ticks, self.hotswap.current)
        if self.pipeline.ticks == 0 or key == self._saved:
            return None
        meta = {"config": self.fingerprint(), "last_ts": self.pipeline.last_ts,
                "last_closed_k": self.aligner.last_closed_k, "ticks": self.pipeline.ticks}
        try:
            info = self.checkpoints.save(meta, {"pipeline": self.pipeline.state_dict(),
                                                "aligner": self.aligner.state_dict()})
        except (OSError, TypeError, ValueError) as exc:
            self.state_writes.failure("checkpoint", self.checkpoints.path, exc, self._checkpoint_fallback())
            return None
        self.state_writes.success("checkpoint", self.checkpoints.path)
        self._saved = key
        log.debug("checkpoint written: %d bytes in %.1f ms", info["bytes"], info["seconds"] * 1e3)
        return info

    def _checkpoint_fallback(self) -> str:
        """What a restart would resume from while the checkpoint cannot be written."""
        try:
            age = time.time() - self.checkpoints.path.stat().st_mtime
        except OSError:
            return "warm up again"
        return f"resume from the previous one (written {age:.0f} s ago)"

    def _resume(self) -> str | None:
        """Load the checkpoint and the alert journal; a description of what was resumed, or None.
        All or nothing: the header is read and the aligner's state restored into an aligner of its
        own before the pipeline's (itself all or nothing) is put in, and the aligner goes in last,
        so a checkpoint refused at any step leaves the agent as fresh as with none."""
        resumed = None
        restored = False
        try:
            loaded = self.checkpoints.load(self.fingerprint())
            if loaded is not None:
                meta, state = loaded
                created, last_ts = _checkpoint_times(meta)
                ahead_s = self._ahead_of_host_clock(last_ts)
                aligner = Aligner.for_agent(self.cfg, self.rejects)
                if ahead_s is None:
                    aligner.restore(state["aligner"])
                self.pipeline.restore(state["pipeline"])
                self.aligner = aligner          # nothing after this can fail
                restored = True
                resumed = f"taken {time.time() - created:.0f} s ago"
                if ahead_s is not None:         # said on health and in READY's status too
                    resumed += f"; its last tick {ahead_s / 3600.0:.1f} h ahead of this host's clock, time base not kept"
                self.checkpoint_start = {"state": "resumed", "detail": resumed}
                if ahead_s is not None:
                    self._rebase_time(last_ts, ahead_s)
                elif self.aligner.last_closed_k is not None and last_ts is not None:
                    self._resume_from = (self.aligner.last_closed_k, last_ts)
                log.info("checkpoint %s loaded (%s, last tick %s, %d ticks seen); %s", self.checkpoints.path,
                         resumed, iso(last_ts), self.pipeline.ticks,
                         "scoring from the first tick" if self.pipeline.warm else
                         f"warm-up goes on ({len(self.pipeline.warmup)}/{self.cfg.warmup.ticks} ticks)")
        except CheckpointRefused as exc:
            self._refused(str(exc))
        except Exception as exc:  # noqa: BLE001 — a bad checkpoint must never stop the agent
            self._refused(f"does not fit: {type(exc).__name__}: {exc}")
        self._resume_alerts()
        self._resume_faults(restored)
        return resumed

    def _ahead_of_host_clock(self, last_ts: float | None) -> float | None:
        """How far the checkpoint's last tick lies ahead of this host's clock, when a live source
        stamps with that clock and it is further than the clock-skew bound; else None."""
        if last_ts is None or not any(src.live for src in self.sources):
            return None
        bound = self.cfg.window.max_clock_skew_s or DEFAULT_MAX_CLOCK_SKEW_S
        ahead = last_ts - time.time()
        return ahead if ahead > bound else None

    def _rebase_time(self, last_ts: float, ahead_s: float) -> None:
        """The host's clock was stepped back since the checkpoint was written (an RTC running fast
        until NTP, a manual fix): live records, stamped with that clock, would all be late for the
        restored time base until the clock caught up — hours or days unscored. What was learned is
        kept; the time base starts again from the live data, the window is refilled before the
        first score, and at the first new tick an alert left open is ended (its gap unknown) and
        the state that holds times of the old base is moved onto the new (Pipeline.rebase)."""
        self.pipeline.refill_window()
        self._resume_from = (None, last_ts)
        self._rebased = True
        self.aligner.note_move("restart", last_ts, last_ts - ahead_s)
        log.warning("checkpoint %s: its last tick %s is %.1f h ahead of this host's clock (the clock was stepped "
                    "back since it was written?); the learned state is kept, the time base starts again from the "
                    "live data and the window refills for %d ticks before the first score", self.checkpoints.path,
                    iso(last_ts), ahead_s / 3600.0, self.pipeline.refill)

    def _refused(self, why: str) -> None:
        self.checkpoint_start = {"state": "refused", "detail": why}
        log.warning("checkpoint %s refused: %s; warming up (%d ticks)", self.checkpoints.path, why,
                    self.cfg.warmup.ticks)

    def _resume_alerts(self) -> None:
        """The last run's last alert event: delivered where it may be missing; its tracker used
        when it is newer than the checkpoint; an alert it left open that cannot be judged, ended."""
        doc = self.journal.read()
        if doc is None:
            self._end_unjournaled(None)
            return
        try:
            event = AlertEvent(**doc["event"])
            ts, tracker = float(doc["tracker"]["ts"]), doc["tracker"]["state"]
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("alert journal %s not usable (%s); ignored", self.journal.path, exc)
            self._end_unjournaled(None)
            return
        for sink in self.sinks:
            try:
                sink.recover(event)
            except Exception:  # noqa: BLE001
                log.exception("sink %s failed to recover %s #%d", sink.TYPE, event.alert_id, event.seq)
        alerts = self.pipeline.alerts
        last_ts = self.pipeline.last_ts
        if last_ts is None or ts > last_ts or not self.pipeline.warm:
            try:
                alerts.restore(tracker)
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("alert journal %s: tracker not usable (%s); ignored", self.journal.path, exc)
                return
            self._judged_until(ts)      # the alert state is newer than the checkpoint
        self._end_unjournaled(event)
        if alerts.active and not self.pipeline.warm:
            log.warning("alert %s was open when the last run stopped; no usable checkpoint to judge it by: "
                        "ending it (reason restart)", alerts.open.alert_id)
            model = {"model_id": event.model_id, "sha256": event.model_sha256}
            self._emit(alerts.end_at_restart(ts, event.threshold, event.tier, lambda: model, None))
        elif alerts.active:
            log.info("alert %s (next seq %d) was open when the last run stopped: continued",
                     alerts.open.alert_id, alerts.open.seq)

    def _judged_until(self, ts: float) -> None:
        """Ticks up to `ts` were judged by the last run (after the checkpoint's): scored and learned
        from again if the source re-sends them, but not judged again, so no alert is raised twice."""
        if self._resume_from is not None and ts > self._resume_from[1]:
            self.pipeline.detector.held_until = ts
            self._resume_from = (self.aligner.tick_of(ts), ts)

    def _end_unjournaled(self, journaled: AlertEvent | None) -> None:
        """Alert events a sink (the JSONL) holds after the journal's last, `journaled` (None: no
        usable journal): the last run wrote them but could not journal them (a full state disk)
        and died. The alert state restored knows none of them, so it lets go of its open alert (the
        newer events continued or ended it); when the newest of them left an alert open, every
        subscriber would hold it open for good: it is ended here (reason restart), rebuilt from the
        sink's copy of that event, its seq next."""
        newest, where = None, ""
        for sink in self.sinks:
            try:
                found = sink.unjournaled(journaled)
            except Exception:  # noqa: BLE001
                log.exception("sink %s failed to read its newest alert event", sink.TYPE)
                continue
            if found is not None and (newest is None or found.ts > newest.ts):
                newest, where = found, sink.TYPE
        last_ts = self.pipeline.last_ts
        if newest is None or (last_ts is not None and newest.ts <= last_ts):
            return                      # none, or the checkpoint is newer: its alert state holds it
        self.pipeline.alerts.forget_open()
        self._judged_until(newest.ts)
        if newest.event == "end":
            return
        log.warning("alert %s (#%d, %s) was left open by the last run, which died with it missing from the alert "
                    "journal (%s); the restart cannot judge it: ending it (reason restart) from its last event in the "
                    "%s sink", newest.alert_id, newest.seq, iso(newest.ts),
                    "its state disk was full or failing" if journaled is not None else "no usable journal", where)
        self._emit(replace(newest, seq=newest.seq + 1, event="end", end=newest.ts, reason="restart",
                           replayed=False, gap_s=None))

    def _resume_faults(self, restored: bool) -> None:
        """The last run's last fault event: delivered where it may be missing; the open faults it
        left, used when newer than the checkpoint (a fault raised since goes on under its id, one
        ended since stays ended); without a restored state to judge them, ended (reason restart)."""
        health = self.pipeline.health
        doc = self.fault_journal.read()
        try:
            if doc is None:
                return
            try:
                events = [FaultEvent(**e) for e in doc["tracker"].get("events", [doc["event"]])]
                ts, told_open = float(doc["tracker"]["ts"]), dict(doc["tracker"]["open"])
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                log.warning("fault journal %s not usable (%s); ignored", self.fault_journal.path, exc)
                return
            for sink in self.sinks:
                try:
                    sink.recover_faults(events)
                except Exception:  # noqa: BLE001
                    log.exception("sink %s failed to recover the last run's last fault events", sink.TYPE)
            last_ts = self.pipeline.last_ts if restored else None
            if last_ts is not None and ts <= last_ts:
                told_open = health.open_faults()    # the checkpoint is newer: it holds the open faults already
                if told_open:
                    log.info("sensor fault(s) open when the last run stopped, continued: %s", _faults_said(told_open))
                return
            try:
                if not (restored and health.rules):
                    ended = health.ended_at_restart(told_open, ts)
                else:
                    health.resume_open(told_open)
                    ended = None
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("fault journal %s: open faults not usable (%s); ignored", self.fault_journal.path, exc)
                return
            if ended:
                log.warning("sensor fault(s) open when the last run stopped (%s); %s: ending them (reason restart)",
                            ", ".join(sorted(told_open)), "fault rules are off" if restored
                            else "no usable checkpoint to judge them by")
                self._told_open = dict(told_open)
                self._emit_faults(ended)
            elif told_open:
                log.info("sensor fault(s) open when the last run stopped, continued: %s", _faults_said(told_open))
        finally:
            self._told_open = health.open_faults()

    def _first_record_after_resume(self, rec) -> None:
        last_k, last_ts = self._resume_from
        if not (math.isfinite(rec.ts) and 0.0 <= rec.ts < MAX_TS) or \
                (last_k is not None and self.aligner.tick_of(rec.ts) <= last_k):
            return                     # late for the restored state (or a bad stamp): not new data
        self._resume_from = None
        ts = self.aligner.tick_of(rec.ts) * self.cfg.tick_s
        if last_k is None:             # the time base started again (_rebase_time): the gap is unknown
            for ev in self.pipeline.rebase(last_ts, ts):
                self._emit(ev)
            return
        gap_s = max(0.0, ts - last_ts - self.cfg.tick_s)         # the ticks in between went unseen
        if gap_s > 0 and rec.received is None:     # (live data: the aligner says the restart gap)
            log.info("first new data after a gap: %.0f s of ticks the restored state has not seen", gap_s)
        for ev in self.pipeline.after_restart(ts, gap_s, skipped=self.aligner.restart_gap_ahead(rec)):
            self._emit(ev)
        self._gap_refill = self.pipeline.refill > 0

    def _log_first_tick(self, res) -> None:
        if res.warming and self.pipeline.warm:      # warm (warmup.replay, or a clock step back) before this tick
            log.info("first tick %s: %s; the window refills for %d more tick(s) before the first score", iso(res.ts),
                     "the time base started again" if self._rebased else
                     "the agent was down longer than the window" if self._gap_refill else "warm from the recording",
                     self.pipeline.refill)
        elif res.warming:
            log.info("first tick %s: warming up (%d/%d ticks)", iso(res.ts), len(self.pipeline.warmup),
                     self.cfg.warmup.ticks)
        else:
            log.info("first tick %s: scored by %s (score %.3f, threshold %.3f)", iso(res.ts), res.tier,
                     res.score, res.threshold)


def _faults_said(open_faults: dict[str, dict]) -> str:
    """Open faults (FaultTracker.open_faults) for a log line: `c missing (<fault_id>), …`."""
    return ", ".join(f"{s} {f['kind']} ({f['fault_id']})" for s, f in sorted(open_faults.items()))


def _checkpoint_times(meta: dict) -> tuple[float, float | None]:
    """(created, last_ts) of a checkpoint's header, read before any state is restored; ValueError
    naming the key when either is not a time this agent can use."""
    times = []
    for key in ("created", "last_ts"):
        value = meta.get(key)
        if value is None and key == "last_ts":
            times.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < MAX_TS:
            raise ValueError(f"header {key}: " + ("missing" if value is None else f"{value!r} is not a time"))
        times.append(float(value))
    return times[0], times[1]


def format_summary(s: dict) -> str:
    rej = ", ".join(f"{k}: {v}" for k, v in s["rejected"].items()) or "none"
    ev = ", ".join(f"{k}: {v}" for k, v in sorted(s["alert_events"].items())) or "none"
    faults = ", ".join(f"{k}: {v}" for k, v in sorted(s["faults_raised"].items()) if v) or "none"
    lost = ", ".join(f"{sink} {sum(st['dropped'].values())}" for sink, st in s.get("sinks", {}).items()
                     if st.get("dropped"))
    moved = ", ".join(f"{k} {n}" for k, n in s.get("time_base_moves", {}).items() if n)
    unwritten = ", ".join(f"{STATE_FILES[k][0]} {st['failed']}" for k, st in s.get("state_writes", {}).items()
                          if st["failed"])
    return (f"summary: {s['ticks']} ticks, {s['records_in']} records in, rejected {sum(s['rejected'].values())} "
            f"({rej}); alerts raised {s['alerts_raised']} (events {ev}); "
            f"sensor faults {sum(s['faults_raised'].values())} ({faults}); tier {s['tier']}; "
            + (f"time base moved: {moved}; " if moved else "")
            + (f"restart gap skipped: {s['last_restart_gap']['skipped_s']:g} s; " if s.get("last_restart_gap") else "")
            + (f"events sinks could not write: {lost}; " if lost else "")
            + (f"state file writes failed: {unwritten}; " if unwritten else "")
            + f"stopped: {s['exit_reason']}")
