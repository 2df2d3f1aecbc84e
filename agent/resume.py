"""What a start takes from the last run, and what a running agent leaves for the next.

Why a part of its own: a restart (`systemctl restart`, a kill -9, a power cut, an upgrade) must
neither page twice for one incident nor leave a subscriber holding an alert open for good, and the
rules for that are most of what the agent does outside its loop. On start the agent resumes from
`<state_dir>/checkpoint.bin` (agent/checkpoint.py) when it fits the config — all or nothing; a
checkpoint whose last tick lies ahead of this host's clock keeps what was learned but not its time
base — then reads the journals' last alert and fault events: delivered again to any sink that may
lack them, their open alert and faults continued when newer than the checkpoint (same ids, an
`update` with `gap_s` at the first new data) or ended (reason `restart`) when nothing can judge
them. While running it writes a checkpoint (`save_checkpoint`: every `checkpoint_s`, after a model
swap, at a clean stop).

`Resume` is the Agent's base: `_open_checkpoints` sets up its state; it uses the Agent's `cfg`,
`pipeline`, `aligner`, `sources`, `sinks`, `rejects`, `state_writes`, `hotswap` and the events'
delivery (agent/delivery.py: `journal`, `fault_journal`, `_emit`, `_emit_faults`, `_told_open`).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path

from .alerts import AlertEvent, iso
from .checkpoint import CheckpointRefused, CheckpointStore, fingerprint
from .faults.events import FaultEvent
from .window import DEFAULT_MAX_CLOCK_SKEW_S, MAX_TS, Aligner

log = logging.getLogger("stad.agent")


class Resume:
    """The checkpoint and the journals across a restart (see the module's docstring)."""

    def _open_checkpoints(self, state_dir: Path, adjacency) -> None:
        self.checkpoints = CheckpointStore(state_dir)
        self._adjacency = adjacency           # the topology's, in the config fingerprint
        self._saved = (None, None)            # (ticks, bundle) of the last checkpoint written
        # (last closed tick, last tick ts) to resume after; the tick None: the time base started again
        self._resume_from: tuple[int | None, float] | None = None
        self._rebased = False                 # the checkpoint's time base was left (_rebase_time)
        self._gap_refill = False              # the restart's gap was longer than the window: it refills
        # What became of the checkpoint at start, in health: a fleet sees a gateway that warms up again, and why.
        self.checkpoint_start: dict = {"state": "none", "detail": None}

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
                    log.info("sensor fault(s) open when the last run stopped, continued: %s", faults_said(told_open))
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
                log.info("sensor fault(s) open when the last run stopped, continued: %s", faults_said(told_open))
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


def faults_said(open_faults: dict[str, dict]) -> str:
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
