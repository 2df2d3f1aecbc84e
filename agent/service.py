"""The daemon loop: sources (one thread each) → intake queue → aligner → pipeline → sinks, until stopped.

Why it is built this way: sources block (a socket, a file, a broker), so each runs in a thread of
its own and hands records over through a bounded queue (agent/intake.py); everything that keeps
state — the aligner, the pipeline, the model swap (agent/hotswap.py), operator feedback, the
events' delivery (agent/delivery.py), the checkpoint (agent/resume.py) — runs in the loop's one
thread, so none of it needs a lock. How it stops decides what a restart finds: input ended (or
--max-ticks) ends an open alert and open faults (`shutdown`); a signal or an error leaves them open
for the next start to continue, as a kill -9 does; a clean stop scores what the sources had
already queued and writes a final checkpoint. A source whose thread raises has not ended its input:
the agent stops as on a signal, names the source (`source_failures`, the summary, the last health)
and `run` exits 3 — systemd restarts it (`Restart=on-failure`), where exit 0 and "input ended" left
a gateway blind until someone looked (qa20, qa21).
"""
from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import prometheus
from .active_bundle import at_start
from .alerts import iso
from .build_id import identity
from .checkpoint import CHECKPOINT_FILE
from .config_watch import ConfigWatch
from .delivery import Delivery
from .feedback import STATE_FILE as FEEDBACK_FILE, FeedbackMemory, FeedbackRequest, Refused, configured as feedback_configured
from .firstscreen import WarmupProgress, banner
from .host_clock_step import HOST_CLOCK_STEP_S, ClockStepWatch
from .hotswap import HotSwap
from .intake import IntakeQueue
from .journal_resume import faults_said
from .operating_point import say_far
from .pipeline import Pipeline
from .read_only_state import ReadOnlyState
from .records import Rejects, shorten, span
from .refused_readings import RefusedReadings
from .resume import Resume
from .scoring_state import status_word
from .sdnotify import Notifier
from .sinks import open_sink, report_keys
from .sources import open_source
from .state_writes import StateWrites, state_reads
from .statelock import StateLock
from .timebase import TIME_BASE_MOVES
from .topology import adjacency
from .warmup import WARMUP_FIT_EXTEND_S, WARMUP_READ_EXTEND_S, ReplayStopped, read_replay
from .window import Aligner

if TYPE_CHECKING:
    from .config import AgentConfig

log = logging.getLogger("stad.agent")

_END = object()
_WAKE = object()        # put by the SIGHUP handler: the loop's wait ends at once
#: The run loop takes a health snapshot this often, or as often as the most eager sink asks (an MQTT sink's
#: `health_interval_s` of 1: held to 5 s here before suite4 found it, silently).
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


class Agent(Resume, Delivery):
    """One gateway's agent: built from its config (resuming from the last run's state), then `run`
    until its input ends, --max-ticks, `stop` (a signal) or an error; `run` returns the summary."""

    def __init__(self, cfg: AgentConfig, max_ticks: int | None = None, notifier: Notifier | None = None,
                 config_path: str | None = None, clock: Callable[[], float] = time.time,
                 stopping: Callable[[], bool] | None = None, read_only: list[str] | None = None):
        """`stopping()`: whether a stop (a signal) came while the agent is being built: a long
        `warmup.replay` is then cut short (agent/warmup.py ReplayStopped) and the agent stops at once.
        `read_only`: preflight's lines saying state_dir is on a read-only file system: the agent starts degraded
        (agent/read_only_state.py)."""
        return_freed_blocks()
        self.cfg = cfg
        self.clock = clock      # this host's wall clock: live records' arrival, the sign of life (alive.py)
        self.max_ticks = max_ticks
        self.config_watch = ConfigWatch(config_path)     # a SIGHUP says whether a restart would take the file
        self.notifier = notifier or Notifier.from_env()
        self.rejects = Rejects()
        self.warmup_rejected: dict[str, int] = {}   # the warm-up recording's rejects, apart in the stop summary
        self.stop_event = threading.Event()
        state_dir = Path(cfg.resolve(cfg.state_dir))
        self.read_only_state = ReadOnlyState(state_dir, read_only or [], next(
            (s.outbox.max_events for s in cfg.sinks if getattr(s, "TYPE", "") == "mqtt"), None))
        if self.read_only_state.problem is None:
            state_dir.mkdir(parents=True, exist_ok=True)
        self.state_lock = StateLock(state_dir)      # before anything reads or writes the state
        record, tiers, active = at_start(cfg, state_dir)
        self.pipeline = Pipeline(cfg, tiers=tiers)
        self.hotswap = HotSwap(cfg, self.pipeline, poll_ticks=cfg.scoring.models_poll_ticks)
        self.hotswap.resume(record, active)
        self.first_start = record is None       # no active-bundle.json yet: models_dir's bundles are taken as decided
        sensors = self.pipeline.sensors
        self.refused = RefusedReadings(cfg.window.max_clock_skew_s, sensors)   # said in a `missing` fault (user35)
        self.aligner = Aligner.for_agent(cfg, self.rejects)
        self.sources = [open_source(s, sensors, self.rejects, base_dir=cfg.base_dir, tick_s=cfg.tick_s,
                                    clock=clock)
                        for s in cfg.sources]
        self.pipeline.source_map.attach(self.sources)     # a source's lost peer: one fault (faults/source.py)
        self.feedback_inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.feedback_counts: Counter = Counter()     # (accepted|refused, verdict or 'invalid') -> messages
        feedback = feedback_configured(cfg.sinks)
        if feedback is not None:
            self.pipeline.detector.feedback = FeedbackMemory(
                feedback, Path(cfg.resolve(cfg.state_dir)) / FEEDBACK_FILE)
        memory = self.pipeline.detector.feedback
        self.state_reads = state_reads(self.hotswap.record_problem, memory.load_problem if memory else None)
        context = replace(cfg.sink_context(), feedback=self.feedback_inbox.put if feedback is not None else None,
                          clock=clock)
        # Durable sinks first: an event a crash cuts short is at least in the outbox.
        self.sinks = sorted((open_sink(s, context) for s in cfg.sinks),
                            key=lambda sink: not sink.DURABLE)
        self.sink_keys = report_keys(self.sinks)       # each sink's key in health, the summary and metrics
        self._health_every_s = min([HEALTH_EVERY_S, *(every for sink in self.sinks
                                                       if (every := sink.health_every_s()) is not None)])
        self.queue = IntakeQueue()      # bounded in records and bytes; a full queue is counted
        self.records_in = 0
        self.started = time.monotonic()
        self.exit_reason = ""
        self.source_failures: list[tuple[str, str]] = []    # (type, error) of each source whose thread raised while running
        self.data_over = False     # the input ended (or --max-ticks): open alerts and faults end at the stop
        self.open_at_stop = {"ticks": 0, "kept": False}     # ticks read and still open at the stop (`_close`)
        # A step of this host's clock: at least a tick, a turn of the loop being at most ~0.5 s.
        self._clock_watch = ClockStepWatch(max(HOST_CLOCK_STEP_S, cfg.tick_s))
        self.last_health: dict = {}         # the latest health snapshot (the metrics endpoint reads it)
        self.state_writes = StateWrites()     # failed writes of the checkpoint and the journals
        self._open_journals(state_dir, len(cfg.sensor_names()))         # agent/delivery.py
        self._open_checkpoints(state_dir, adjacency(cfg.sensor_specs(), cfg.topology))     # agent/resume.py
        self._checkpoint_tried_for = None     # the bundle the last checkpoint write was for
        self._next_checkpoint = time.monotonic() + cfg.checkpoint_s
        self._first_tick_logged = False
        self._refilling = False         # a tick of a refill (warm, not scored) was seen: its end is logged
        self._refill_said = False           # the restart's refill and its reason logged (its first tick's line)
        self._far_unchecked = True          # the live data against its normal, at the first score (operating_point)
        self._life_first_ts: float | None = None      # this life's first tick
        self._carried_alert_id: str | None = None     # the alert open before this life's first tick (continued)
        self.resumed = self._resume()
        self._ticks_at_start = self.pipeline.ticks     # a checkpoint's: --max-ticks counts this run's (review19)
        # the alerts and sensor faults a checkpoint (or the alert journal) counted in earlier lives: the stop
        # summary says this run's (user15; health's alerts_raised and faults_raised stay the tracker's, across lives)
        self._raised_at_start = (self.pipeline.alerts.raised, dict(self.pipeline.health.raised))
        self.alerts_carried.open_at_start(self._open_alert_ids())      # continued from the last run: the summary
        self.faults_carried.open_at_start(self._open_fault_ids())      # says them (agent/delivery.py Carried)
        self.replay_stopped = False     # a stop cut warmup.replay short: no fit, no checkpoint of it
        if cfg.warmup.replay and self.resumed is None:      # a checkpoint holds what the replay taught
            self._replay(stopping or (lambda: False))
        self.warmup_progress = WarmupProgress(self.pipeline.warmup_ticks, cfg.tick_s,
                                              cfg.sources[0] if cfg.sources else None)
        self.metrics = prometheus.start(cfg.metrics, self)

    def _replay(self, stopping: Callable[[], bool]) -> None:
        """Warm up on `warmup.replay` — unless a stop comes while it is read or before the fit: then
        nothing is fitted and `_close` writes no checkpoint, so the next start reads it again."""
        before = Counter(self.rejects.counts)
        try:
            rows, used = read_replay(self.cfg, self.rejects, self._reading_warmup, stopping)
        except ReplayStopped as exc:
            self.replay_stopped = True
            log.warning("warm-up: %s of warmup.replay: not fitted, no checkpoint written; the next start "
                        "reads the recording again", exc)
            return
        finally:
            self.warmup_rejected = dict(sorted((Counter(self.rejects.counts) - before).items()))
        log.info("%s", used)
        self.notifier.extend(WARMUP_FIT_EXTEND_S, f"warming up: fitting on {len(rows):,} recorded ticks")
        self.pipeline.warm_up_from(rows, self._teaching_faults)
        self._after_warmup()

    def _reading_warmup(self, ticks: int) -> None:
        """While `warmup.replay` is read (before READY=1): systemd's start timeout is extended and
        the watchdog pinged, so a long read is not taken for a hung start (README "warm-up")."""
        self.notifier.extend(WARMUP_READ_EXTEND_S, f"warming up: {ticks:,} recorded ticks read")
        self.notifier.ping()

    def _teaching_faults(self, status: str | None) -> None:
        """While the fault rules are taught on the recording at the first live tick (faults/recorded.py `taught`,
        seconds of CPU, after READY=1): the watchdog pinged, so a long teaching is not taken for a hung loop
        (faults15), and `systemctl status` says what it does."""
        if status:
            self.notifier.status(status)
        self.notifier.ping()

    # -- sources -----------------------------------------------------------------------------

    def _pump(self, src) -> None:
        live = src.live
        try:
            for rec in src.records():
                if live and rec.received is None:   # the mqtt source stamps its arrival itself, ahead of its queue
                    rec.received = self.clock()     # the host clock the aligner checks a live stamp against
                if not self.queue.put(rec, self.stop_event) or self.stop_event.is_set():
                    break
        except Exception as exc:  # noqa: BLE001 — said, and the loop stops the agent at its end marker
            if self.stop_event.is_set():
                log.exception("source %s failed while the agent stopped", src.TYPE)
            else:
                log.exception("source %s failed", src.TYPE)
                self.source_failures.append((src.TYPE, shorten(f"{type(exc).__name__}: {exc}", 300)))
        finally:
            self.queue.put_marker(_END)

    # -- loop --------------------------------------------------------------------------------

    def stop(self, reason: str = "stop requested") -> None:
        if not self.stop_event.is_set():
            self.exit_reason = reason
            self.stop_event.set()
            self.notifier.stopping(f"stopping: {reason}")

    def run(self) -> dict:
        """Start the sources, run the loop until the input ends, --max-ticks, `stop` or an error, then
        close everything down (`_close`); the summary."""
        self._start()
        clean = False
        try:
            self._loop()
            clean = True
        finally:
            self._close(clean)
        return self.summary()

    def _start(self) -> None:
        """SIGHUP answered (a reload and the config file's check, the loop woken), the banner, the
        source threads started, READY."""
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

    def _loop(self) -> None:
        """One record (or a wake-up, or the wait's end) a turn, then what is due between ticks: a
        reload, operator feedback, the config file's check, health, the checkpoint."""
        live = any(s.live for s in self.sources)
        ended = 0
        last_health = 0.0
        while not self.stop_event.is_set():
            self.notifier.ping()
            item = self.queue.get(timeout=0.5)
            if item is _END:
                if self.stop_event.is_set():
                    # A source's answer to the stop (a paced one ends at its next record), taken while the
                    # signal's stop waited here: no end of the input, so open alerts stay open (review19).
                    continue
                ended += 1
                if self.source_failures:        # not the input's end: open alerts and faults stay open
                    kind, error = self.source_failures[0]
                    log.error("stopping: source %s failed, its input did not end (exit 3: systemd restarts the "
                              "agent; open alerts and faults are kept for the next start)", kind)
                    self.stop(f"source {kind} failed: {error}")
                    continue
                if ended == len(self.sources):
                    self._process(self.aligner.flush_all())
                    self.exit_reason = self.exit_reason or "input ended"
                    self.data_over = True
                    return
                continue
            if item is _WAKE:
                item = None
            ticks = self.pipeline.ticks
            if live:
                self._watch_host_clock()
            self._intake(item, self.clock() if live and self.cfg.window.idle_flush_s > 0 else None)
            if self.pipeline.ticks == ticks:         # no tick this turn: a SIGHUP is answered all the same
                self.hotswap.idle(self.pipeline.warm)
            self._answer_feedback()
            self.config_watch.poll()
            now = time.monotonic()
            if now - last_health >= self._health_every_s:
                last_health = now
                if self.read_only_state.look():
                    self.state_lock.taken_again()
                    self._reserve_journals()
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
                self._alive_due(now)            # a silence's sign of life, every ALIVE_S (agent/alive.py)
        # A clean stop (signal, stop()): the records the sources had already handed over and the
        # ticks still open for late samples are scored too, up to --max-ticks, which asked for
        # exactly that many (a signal may come a few records before it).
        while not self._max_ticks_reached() and (item := self.queue.get(timeout=0)) is not None:
            if item is not _END and item is not _WAKE:
                self._intake(item, None)
        if not self._max_ticks_reached():
            self._process(self.aligner.flush_all())

    def _watch_host_clock(self) -> None:
        """A step of this host's clock (NTP, a hand), told from time passing by the boot-time clock: said,
        and handed to the aligner, which the wall clock drives for a live source (its flush, the records
        stamped on arrival): a day's step forward was closed as a day's outage (review22)."""
        wall = self.clock()
        before = self._clock_watch.seen
        step = self._clock_watch.look(wall)
        if step is not None:
            log.warning("this host's clock stepped %s (NTP, or set by hand?), from %s to %s: data stamped with "
                        "it moves with it, not a gap in the data", span(step, signed=True),
                        iso(before[0] + self._clock_watch.seen[1] - before[1]), iso(wall))
            self.stepped(step, wall)

    def _close(self, clean: bool) -> None:
        """The stop, `clean` or on an error: the sources closed, what they had queued counted, open
        alerts and faults ended or left for the next start (`_at_stop`), the final checkpoint (a clean
        stop's), journals and health, the sinks closed, the state directory's lock let go."""
        self.notifier.stopping(f"stopping: {self.exit_reason or 'error'}")
        self.stop_event.set()
        for s in self.sources:
            s.close()
        self._say_unscored(self.queue.discard_rest(), clean)
        self._at_stop()
        if clean and not self.replay_stopped:
            self.save_checkpoint(at_stop=True)
        self._say_open_ticks(clean and not self.replay_stopped and self.state_writes.problem["checkpoint"] is None)
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

    def _max_ticks_reached(self) -> bool:
        return bool(self.max_ticks) and self.pipeline.ticks - self._ticks_at_start >= self.max_ticks

    def _say_unscored(self, dropped: int, clean: bool) -> None:
        """The records the sources had queued that the stop left unscored (`dropped`, counted in
        the intake's `dropped_at_stop`), said with why: --max-ticks asked for that many ticks and no
        more; anything else (an error) lost them. A clean stop by signal scores what was queued, and
        a record a source offers after it is refused and counted (health), not said: its source was
        being stopped."""
        # The summary's count: these and the records a source offered once the stop had begun (user30).
        unscored = self.queue.dropped_at_stop
        offered = (f"; {unscored - dropped} of them offered once the stop had begun" if unscored > dropped else "")
        if clean and self._max_ticks_reached():
            if unscored:
                log.info("%d record(s) the sources had queued beyond --max-ticks %d were not scored (intake "
                         "dropped_at_stop%s)", unscored, self.max_ticks, offered)
        elif dropped:
            log.warning("%d record(s) the sources had queued were not scored: the agent stopped on %s (intake "
                        "dropped_at_stop%s)", unscored, self.exit_reason if clean else "an error", offered)

    def _say_open_ticks(self, kept: bool) -> None:
        """The ticks read and still open at the stop (--max-ticks stops at its last tick, whose closing records
        belong to later ones; an error stops without closing any), for the summary (`open_at_stop`): the records
        read beyond the ticks counted (review41 saw `100 ticks, 102 records in` and no word of the 2). `kept`: the
        checkpoint written at this stop holds them and the next start scores them; else they are not scored."""
        ticks = len(self.aligner.open)
        self.open_at_stop = {"ticks": ticks, "kept": kept}
        if ticks:
            log.info("%d tick(s) read and still open at the stop: %s", ticks,
                     "kept in the checkpoint, the next start scores them" if kept
                     else "not scored (no checkpoint written at this stop)")

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
                log.info("sensor fault(s) left open at the stop: %s", faults_said(faults))
            return
        last_ts = float(self.pipeline.window.ts[-1]) if self.pipeline.warm else time.time()
        for ev in self.pipeline.close(last_ts, "shutdown"):
            self._emit(ev)
        self._emit_faults(self.pipeline.health.close(last_ts))

    def _intake(self, item, now: float | None) -> None:
        """One turn of the loop: a record (None: the queue's wait ran out), then, with `now` (a live
        source and window.idle_flush_s), the ticks the wall clock has closed; the rows, stepped."""
        rows = []
        self._step_restored()       # the rows the restore closed first: the restart's gap is after them
        if item is not None:
            self.records_in += 1
            if self._resume_from is not None:
                self._first_record_after_resume(item)
            skewed = self.rejects.counts["clock skew"]      # refused_readings.REASON, as a literal for test_metric_labels
            rows = self.aligner.push(item)
            self.refused.after_push(item, self.rejects.counts["clock skew"] != skewed)
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
                self._faults_told_until = None      # (its ticks were not told by the last run)
            elif row.clock_moved_s is not None:     # this host's clock stepped and the data with it
                self._resume_times_moved(row.clock_moved_s)
            told = self._faults_told(row.ts)       # by the last run (agent/resume.py)
            if not self._first_tick_logged and self.pipeline.alerts.open is not None:
                self._carried_alert_id = self.pipeline.alerts.open.alert_id     # continued from the last run
            started = time.perf_counter()
            warm = self.pipeline.warm
            res = self.pipeline.step(row)
            if self.metrics is not None:
                self.metrics.observe_tick(res, time.perf_counter() - started)
            if self.pipeline.warm and not warm:
                self._after_warmup()
            if not self._first_tick_logged:
                self._first_tick_logged = True
                self._life_first_ts = res.ts
                self._log_first_tick(res, rebased=row.rebased_from is not None)
            elif res.warming and self._gap_refill and not self._refill_said:
                self._log_refill_start(res)
            if warm and res.warming:
                self._refilling = True
            elif self._refilling and not res.warming:
                # user27: after "the window refills for 14 more tick(s) before the first score" the journal said
                # nothing when scoring began (STATUS alone moved from `refilling`)
                self._refilling = False
                log.info("tick %s: the window is refilled; scoring with tier %s (score %.3f, threshold %.3f)",
                         iso(res.ts), res.tier, res.score, res.threshold)
            if self._far_unchecked and not res.warming and \
                    self.pipeline.ticks - self._ticks_at_start >= self.cfg.window.steps:
                # the first score whose window holds this life's ticks only: a restart that kept the checkpoint's
                # window scores from its first tick on the last run's ticks (user21: a valve shut before the stop)
                self._far_unchecked = False
                resumed = self.checkpoint_start.get("state") == "resumed"
                open_alert = self.pipeline.alerts.open
                # (by its id too: after a kill the first tick may be the checkpoint's next, before the start of an
                # alert opened in the ticks lost with the stop — user36, the far line then said "move the checkpoint
                # aside" with the blockage's alert open)
                carried = open_alert is not None and (
                    open_alert.alert_id == self._carried_alert_id
                    or self._life_first_ts is not None and open_alert.start < self._life_first_ts)
                say_far(self.pipeline.window, self.pipeline.normaliser, self.pipeline.sensors,
                        str(self.cfg.resolve(self.cfg.warmup.replay)) if self.cfg.warmup.replay else None,
                        str(self.cfg.resolve(self.cfg.state_dir) / CHECKPOINT_FILE) if resumed else None,
                        (open_alert.alert_id, open_alert.start) if carried else None)
            if res.warming and not warm:         # not the window's refill after a recorded warm-up
                self.warmup_progress.update(min(self.pipeline.warmup_counted, self.pipeline.warmup_ticks), row.ts)
            self.hotswap.on_tick(res)
            if res.faults or res.alerts:
                self.warmup_progress.clear()      # an event line of its own, not glued to the progress line
            if not told:
                self._emit_faults(res.faults)
            for ev in res.alerts:
                self._emit(ev)
            if self._max_ticks_reached():
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

    def health_snapshot(self) -> dict:
        snap = self.pipeline.snapshot()
        snap["model_update"] = self.hotswap.status()
        snap["sinks"] = {key: stats for key, s in zip(self.sink_keys, self.sinks)
                         if (stats := s.stats()) is not None}
        snap["intake"] = self.queue.stats()
        snap.update({"node": self.cfg.node.id, "site": self.cfg.node.site, "records_in": self.records_in,
                     "rejected": self.rejects.as_dict(), "alert_events": dict(self.events),
                     "fault_events": dict(self.fault_events),
                     "uptime_s": round(time.monotonic() - self.started, 1)})
        snap["sd_notify_dropped"] = self.notifier.dropped
        snap["source_failures"] = [f"{kind}: {error}" for kind, error in self.source_failures]
        snap["checkpoint_at_start"] = dict(self.checkpoint_start)
        snap["agent_build"] = {**identity(), "checkpoint_build": self.checkpoint_build}
        snap["state_writes"] = self.state_writes.snapshot()
        snap["state_reads"] = dict(self.state_reads)
        snap["state_dir_problem"] = self.read_only_state.problem
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
        self.notifier.status(f"tier={status_word(snap['scoring'])} ticks={snap['ticks']} alerts={snap['alerts_raised']}")
        for sink in self.sinks:
            try:
                sink.health(snap)
            except Exception:  # noqa: BLE001
                log.exception("sink %s failed on health", sink.TYPE)

    def _open_alert_ids(self) -> set[str]:
        return set() if self.pipeline.alerts.open is None else {self.pipeline.alerts.open.alert_id}

    def _open_fault_ids(self) -> set[str]:
        return {entry["fault_id"] for entry in self.pipeline.health.open_faults().values()}

    def summary(self) -> dict:
        snap = self.health_snapshot()
        snap["exit_reason"] = self.exit_reason
        snap["late_reordered"] = self.aligner.reordered
        snap["undelivered"] = {key: got for key, s in zip(self.sink_keys, self.sinks)
                               if (got := {k: n for k, n in s.dropped_this_run().items() if n})}
        alerts, faults = self._raised_at_start
        snap["alerts_raised_this_run"] = self.pipeline.alerts.raised - alerts
        snap["alerts_continued"] = self.alerts_carried.counts(self._open_alert_ids())
        snap["faults_raised_this_run"] = {k: n - faults.get(k, 0) for k, n in self.pipeline.health.raised.items()}
        snap["faults_continued"] = self.faults_carried.counts(self._open_fault_ids())
        # the live records' rejects, the warm-up recording's apart (health's `rejected` counts both): a resumed run,
        # which reads no warm-up, read `rejected 0` where the first said `rejected 1` for the same live data (user29)
        warm = self.warmup_rejected
        snap["rejected"] = {k: left for k, n in snap["rejected"].items() if (left := n - warm.get(k, 0))}
        snap["rejected_warmup"] = dict(warm)
        snap["rejected_steady"] = self.rejects.steady_spells()      # counted without a line (qa56: stop_summary)
        snap["ticks_this_run"] = self.pipeline.ticks - self._ticks_at_start    # `ticks`: the restored state's too
        snap["open_at_stop"] = dict(self.open_at_stop)
        return snap


    def _refill_reason(self) -> str:
        """Why the window refills after a restart: the restart gap was longer than it — not "the agent was down
        longer than the window", which a kill -9 down 14 s after 470 ticks past its checkpoint was not (user23)."""
        if self._carried_refill:
            steps = self.cfg.window.steps
            return (f"the window was still refilling when the last run stopped ({steps - self._carried_refill} of its "
                    f"{steps} ticks in)")
        gap = self.aligner.last_restart_gap
        if gap is None:
            return "the gap since the checkpoint's last tick was longer than the window"
        parts = [f"the agent down {span(gap['down_s'])}"] if gap.get("down_s") is not None else []
        if gap.get("lost_s"):
            parts.append(f"about {span(gap['lost_s'])} scored after the checkpoint and lost with the stop")
        if gap.get("waiting_s") is not None:
            parts.append(f"{span(gap['waiting_s'])} waiting for its sources' first data")
        return (f"the restart gap ({span(gap['skipped_s'])} of ticks since the checkpoint's last tick"
                + (f": {', '.join(parts)}" if parts else "") + ") was longer than the window")

    def _log_refill_start(self, res) -> None:
        """The restart's refill starting after this start's first ticks were scored: the last run's ticks the restore
        closed (a silence of its sender it was alive through, or a record it held back after one, and that silence:
        Aligner.silent_until, restored_rows) are stepped before the first new data decides the refill. Its reason is
        said here, at the refill's first tick — before (qa42), the first tick's line said `scored by numpy` and the
        refill's reason was never logged."""
        self._refill_said = True
        log.info("tick %s: %s; the window refills from this tick for %d more tick(s) before the first score (this "
                 "start's first %d tick(s), the last run's ticks its restore closed, were scored before it)",
                 iso(res.ts), self._refill_reason(), self.pipeline.refill,
                 self.pipeline.ticks - self._ticks_at_start - 1)

    def _log_first_tick(self, res, rebased: bool) -> None:
        """`rebased`: this tick is a new time base's first (the data stepped back from a checkpoint's: the
        demo run again) — the window refills for that, not for a recording (review19)."""
        if res.warming and self.pipeline.warm:      # warm (warmup.replay, or a clock step back) before this tick
            log.info("first tick %s: %s; the window refills for %d more tick(s) before the first score", iso(res.ts),
                     "the time base started again" if self._rebased or rebased else
                     self._refill_reason() if self._gap_refill else "warm from the recording",
                     self.pipeline.refill)
            self._refill_said = self._gap_refill
        elif res.warming:
            log.info("first tick %s: warming up (%d/%d ticks)", iso(res.ts), len(self.pipeline.warmup),
                     self.cfg.warmup.ticks)
        else:
            log.info("first tick %s: scored by %s (score %.3f, threshold %.3f)", iso(res.ts), res.tier,
                     res.score, res.threshold)
