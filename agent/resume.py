"""What a start takes from the last run, and what a running agent leaves for the next.

Why a part of its own: a restart (`systemctl restart`, a kill -9, a power cut, an upgrade) must
neither page twice for one incident nor leave a subscriber holding an alert open for good, and the
rules for that are most of what the agent does outside its loop. On start the agent resumes from
`<state_dir>/checkpoint.bin` (agent/checkpoint.py) when it fits the config — all or nothing, but
for one taken with another bundle or `scoring.profile` alone: all but the model tier, prepared
again as a hot-swapped bundle is (Pipeline.restore's `tier_changed`); a
checkpoint whose last tick lies ahead of this host's clock keeps what was learned but not its time
base — then reads the journals' last alert and fault events: delivered again to any sink that may
lack them, their open alert and faults continued when newer than the checkpoint (same ids, an
`update` with `gap_s` at the first new data) or ended (reason `restart`) when nothing can judge
them. While running it writes a checkpoint (`save_checkpoint`: every `checkpoint_s`, after a model
swap, at a clean stop) — or, when the checkpoint has nothing new (no tick closed: a sender silent),
the agent's sign of life (`alive.json`: agent/alive.py), so that the next start takes the silence
it lived through for the source's (missing ticks), not for its own downtime (the restart gap).
Both are written with the rule they were made under (CLAIMS_RULE, agent/alive.py): what an earlier
release wrote without it — a claim, a checkpoint's held records — may have been written while its own
restart was pending, and is not trusted (clock24).

`Resume` is the Agent's base, and agent/journal_resume.py's `JournalResume` (what is taken from the journals: their
last events, the open alert and faults they left) and `alive.SignOfLife` its own: `_open_checkpoints` sets up its state;
it uses the Agent's `cfg`, `pipeline`, `aligner`, `sources`, `sinks`, `rejects`, `state_writes`,
`hotswap` and the events' delivery (agent/delivery.py: `journal`, `fault_journal`, `_emit`,
`_emit_faults`, `_told_open`).
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from .alerts import iso
from .alive import ALIVE_FILE, ALIVE_S  # noqa: F401 (its callers' names: tests, silence_feed)
from .alive import CLAIMS_RULE, SignOfLife, under_claims_rule
from .build_id import identity, other_build
from .checkpoint import CheckpointRefused, CheckpointStore, fingerprint, model_kept, read_meta, tier_mismatch
from .journal_resume import JournalResume
from .journaled import is_time
from .live_pace import near_host_clock_s
from .pipeline_state import tier_from_replay
from .resumed_settings import changed_at_resume, recorded
from .warmup import read_replay
from .window import MAX_TS, Aligner

log = logging.getLogger("stad.agent")


class Resume(JournalResume, SignOfLife):
    """The checkpoint and the journals across a restart (see the module's docstring)."""

    def _open_checkpoints(self, state_dir: Path, adjacency) -> None:
        self.checkpoints = CheckpointStore(state_dir)
        self._adjacency = adjacency           # the topology's, in the config fingerprint
        self._saved = (None, None)            # (ticks, bundle) of the last checkpoint written
        self._saved_at: tuple[float, int] | None = None     # its (created, records_in), this life
        self._init_alive(state_dir)
        # (last closed tick, last tick ts) to resume after; the tick None: the time base started again
        self._resume_from: tuple[int | None, float] | None = None
        self._rebased = False                 # the checkpoint's time base was left (_rebase_time)
        self._faults_told_until: float | None = None     # the fault journal's tick, when newer than the checkpoint
        self._gap_refill = False              # the restart's gap was longer than the window: it refills
        self._carried_refill = 0              # …or the last run's own refill, carried by its checkpoint: its ticks left
        # (alert_id, last tick above) the last run's sign of life kept, newer than the state restored (`_later_above`)
        self._above_mark: tuple[str, float] | None = None
        # The aligner's `restart_pending` is this restore's (not only a later step of this host's clock: `stepped`)
        self._restore_pending = False
        self._resumed_created: float | None = None     # the restored checkpoint's `created` (`_mark_clean_stop`)
        # What became of the checkpoint at start, in health: a fleet sees a gateway that warms up again, and why.
        self.checkpoint_start: dict = {"state": "none", "detail": None}
        # The build that wrote the checkpoint resumed ("unrecorded": a release before user39), None when none was:
        # beside this build's in health's agent_build, a fleet tells an upgraded gateway that resumed (user39).
        self.checkpoint_build: str | None = None

    def fingerprint(self) -> dict:
        return fingerprint(self.cfg, self._adjacency, self.pipeline.bundle_identity())

    def save_checkpoint(self, at_stop: bool = False) -> dict | None:
        """Write the checkpoint now (atomically); None when there is nothing new or it failed. With
        nothing new since the last one, the agent's sign of life instead (`_mark_alive`). `at_stop`: a clean
        stop's, said in its header (`clean_stop`: the next start's restart gap loses nothing, `_stopped_clean`)."""
        key = (self.pipeline.ticks, self.hotswap.current)
        if self.pipeline.ticks == 0 or key == self._saved:
            self._mark_alive()
            if at_stop and self._saved_at is not None:      # a clean stop all the same (`_mark_clean_stop`; user16)
                self._mark_clean_stop(self._saved_at[0])
            return None
        if self.aligner.restart_pending and self._restore_pending:
            if at_stop and self.aligner.stopped_clean:      # nothing lost by this life nor by the one it resumed
                self._mark_clean_stop(self._resumed_created)
            # Restored, no new data placed yet: the checkpoint on disk holds what was learned, and the records
            # held meanwhile are the restart's first data — written as held, the next start took them for the
            # last run's data back after a silence and closed the downtime before them as missing ticks (a
            # false `source` fault: user13's blind gateway, its checkpoint written at once with a bundle; clock23).
            # Not for a step of this host's clock alone (`stepped`): what was learned since the last checkpoint
            # is in memory only — a clean stop in the step's wait lost it, the next start warmed up again (qa35).
            return None
        # `configured`: what a start that lost active-bundle.json compares with (agent/active_bundle.py)
        meta = {"config": self.fingerprint(), "last_ts": self.pipeline.last_ts,
                "last_closed_k": self.aligner.last_closed_k, "ticks": self.pipeline.ticks,
                "alive_at": self._caught_up(), "claims_rule": CLAIMS_RULE,
                "configured": {"bundle": self.cfg.scoring.bundle, "models_dir": self.cfg.scoring.models_dir},
                "settings": recorded(self.cfg, self.pipeline.thresholds),    # what the next start compares (user15)
                "clean_stop": at_stop, "agent_build": identity()}     # which build wrote it (user39)
        try:
            info = self.checkpoints.save(meta, {"pipeline": self.pipeline.state_dict(),
                                                "aligner": self.aligner.state_dict()})
        except (OSError, TypeError, ValueError) as exc:
            self.state_writes.failure("checkpoint", self.checkpoints.path, exc, self._checkpoint_fallback())
            return None
        self.state_writes.success("checkpoint", self.checkpoints.path)
        opened = self.pipeline.alerts.open
        self._above_kept = None if opened is None else opened.last_above     # (`_mark_above`: newer only)
        self._saved = key
        self._saved_at = (info["created"], self.records_in)
        log.debug("checkpoint written: %d bytes in %.1f ms", info["bytes"], info["seconds"] * 1e3)
        return info

    def stepped(self, step_s: float, now: float) -> None:
        """This host's clock stepped `step_s` (the Agent's `_watch_host_clock`): handed to the aligner, whose
        `restart_pending` a step forward sets too — a restore's still when it was pending at the step."""
        self._restore_pending = self._restore_pending and self.aligner.restart_pending
        self.aligner.host_clock_stepped(step_s, now)

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
        tier_changed = None
        self._unrestored_last_ts = self._header_last_ts()   # (kept only if the checkpoint is refused below)
        try:
            current = self.fingerprint()
            loaded = self.checkpoints.load(current, tier_apart=True)
            if loaded is not None:
                meta, state = loaded
                # another bundle or scoring.profile alone: all but the model tier resumes (pipeline_state.prepare_restored)
                tier_changed = tier_mismatch(meta["config"], current)
                created, last_ts = _checkpoint_times(meta)
                ahead_s = self._ahead_of_host_clock(last_ts, Aligner.host_ahead_in(state["aligner"]))
                aligner = Aligner.for_agent(self.cfg, self.rejects)
                if ahead_s is None:
                    aligner.restore(state["aligner"], trusted=under_claims_rule(meta.get("claims_rule")))
                self.pipeline.restore(state["pipeline"], tier_changed)
                _no_calm_counted_in_a_refill(self.pipeline)
                replay_read = bool(self.cfg.warmup.replay) and self.pipeline.tier_waits is not None
                if self.cfg.warmup.replay:      # a model tier left waiting: prepared on the recording now (swap6)
                    tier_from_replay(self.pipeline, lambda: read_replay(self.cfg, self.rejects, self._reading_warmup))
                self.aligner = aligner          # nothing after this can fail
                restored = True
                self._unrestored_last_ts = None
                resumed = f"taken {time.time() - created:.0f} s ago"
                written = meta.get("agent_build")
                build = written.get("build") if isinstance(written, dict) else None
                self.checkpoint_build = build if isinstance(build, str) else "unrecorded"
                if (by := other_build(written)) is not None:    # the first start after an upgrade or a rollback
                    resumed += f"; {by}"
                if ahead_s is not None:         # said on health and in READY's status too
                    resumed += f"; its last tick {ahead_s / 3600.0:.1f} h ahead of this host's clock, time base not kept"
                # the same model under another manifest: its state carried, said with both digests (swap11)
                for problem in (model_kept(meta["config"], current), self.pipeline.tier_note,
                                self.pipeline.recent_problem, self.pipeline.standby_problem):
                    if problem:     # the model tier prepared again or waiting; a part refused alone (pipeline_state.restored_*)
                        resumed += f"; {problem}"
                self.checkpoint_start = {"state": "resumed", "detail": resumed}
                self._restore_pending = self.aligner.restart_pending
                if ahead_s is not None:
                    self._rebase_time(last_ts, ahead_s)
                elif self.aligner.last_closed_k is not None and last_ts is not None:
                    self._resume_from = (self.aligner.last_closed_k, last_ts)
                    self._silence_before_stop(meta)
                    self.aligner.down_between = self._down_between(meta, created)
                    self.aligner.stopped_clean = self._stopped_clean(meta, created, self.aligner.down_between)
                    self.aligner.waited_before = self._waited_before(meta.get("created"))
                    self._life_started = None if self.aligner.down_between is None else self.aligner.down_between[1]
                    self._resumed_created = meta.get("created")     # a clean stop before new data says it for this one
                log.info("checkpoint %s loaded (%s, last tick %s, %d ticks seen); %s", self.checkpoints.path,
                         resumed, iso(last_ts), self.pipeline.ticks,
                         "scoring from the first tick" if self.pipeline.warm else
                         f"warm-up goes on ({len(self.pipeline.warmup)}/{self.cfg.warmup.ticks} ticks)")
                kept = {t: thr for t, thr in self.pipeline.thresholds.items()    # the model tier's, when prepared
                        if not tier_changed or t == "numpy"}                     # again, is fitted anew: not kept
                changed = changed_at_resume(meta.get("settings"), self.cfg, kept, replay_read)
                if changed:
                    log.info("checkpoint resumed: %s", changed)
        except CheckpointRefused as exc:
            self._refused(str(exc))
        except Exception as exc:  # noqa: BLE001 — a bad checkpoint must never stop the agent
            self._refused(f"does not fit: {type(exc).__name__}: {exc}")
        self._resume_alerts(model_anew=bool(tier_changed) or not self.pipeline.warm)
        self._take_above_mark()
        self._resume_faults(restored)
        return resumed

    def _take_above_mark(self) -> None:
        """The open alert's last tick above the threshold the last run's sign of life kept (`_mark_above`), when it
        names that alert and is later than the state restored: taken at the first new data (`_later_above`), the
        time base kept (not after a clock stepped back: `_rebase_time`)."""
        opened = self.pipeline.alerts.open
        if opened is None:
            return
        self._above_kept = opened.last_above
        mark = self._above_in_sign_of_life()
        if mark is not None and mark[0] == opened.alert_id and mark[1] > opened.last_above \
                and self._resume_from is not None and self._resume_from[0] is not None:
            self._above_mark = mark
            self._above_kept = mark[1]

    def _silence_before_stop(self, meta: dict) -> None:
        """The last run lived through a silence of its sources it had no tick to checkpoint in: the
        aligner closes it as missing ticks with the restore's rows (Aligner.silent_until), so the
        restart gap (and an open alert's `gap_s`) is the downtime after it, not the two together. What an
        earlier release wrote (no CLAIMS_RULE) is not trusted: the records its checkpoint held are rejected, then
        its claim's ticks are said as part of the restart's gap (clock24, clock28)."""
        dropped = 0 if under_claims_rule(meta.get("claims_rule")) else self.aligner.reject_held(
            "held by a checkpoint an earlier release wrote, which it did also while its own restart was pending")
        if dropped:
            log.warning("the checkpoint holds %d record(s) the last run held for confirmation; it was written by an "
                        "earlier release, which wrote it also while its own restart was pending, holding that "
                        "restart's first data (user13's blind gateway, fixed 5 Dec 2026): rejected (timestamp jump), "
                        "not taken for the last run's data back after a silence", dropped)
            self.checkpoint_start["detail"] += f"; {dropped} record(s) an earlier release held rejected"
        # The held records first: the untrusted claim's ticks are measured without them (they bound a trusted claim,
        # being taken at the restore; rejected, they bound nothing and every tick up to the claim is the restart's
        # gap). Measured before, a checkpoint killed with records held — a sender a few ticks late at the kill —
        # claimed none and the claim went unsaid (clock28: the clock24 test's flake beside two busy loops).
        alive, unmarked = self._alive_until(meta)
        claimed = self.aligner.silence_claimed(unmarked) if unmarked is not None and \
            (alive is None or unmarked > alive) else 0
        if claimed:
            log.warning("the last run's sign of life says it was alive until %s with every record taken, its sources "
                        "silent for the last %d tick(s) of it; it was written by an earlier release, which said so "
                        "also while its own restart was pending (user13's blind gateway, fixed 5 Dec 2026): not "
                        "trusted — those ticks are part of this restart's gap (skipped, no sensor missing), so a "
                        "silence of the senders before the stop is not told", iso(unmarked), claimed)
            self.checkpoint_start["detail"] += (f"; an earlier release's sign of life (alive until {iso(unmarked)}) "
                                                f"not trusted: {claimed} tick(s) taken as the restart's gap")
        silent = self.aligner.silent_until(alive) if alive is not None else 0
        if silent:
            log.info("the last run was alive until %s, its sources silent for the last %d tick(s) of it: they close "
                     "as missing; the restart gap starts after them", iso(alive), silent)

    def _ahead_of_host_clock(self, last_ts: float | None, host_ahead_s: float) -> float | None:
        """How far the checkpoint's last tick lies ahead of this host's clock, when a live source
        stamps with that clock and it is further than the clock-skew bound; else None. Less the
        checkpoint's `host_ahead_s`: steps of this host's clock the data did not follow, told while it ran
        (a sender on its own clock, TimeBaseRules) — the data's time is where it was."""
        if last_ts is None or not any(src.live for src in self.sources):
            return None
        bound = near_host_clock_s(self.cfg.window.max_clock_skew_s)
        ahead = last_ts - (self.clock() - host_ahead_s)
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

    def _header_last_ts(self) -> float | None:
        """The last tick the checkpoint on disk holds, from its header alone, read before it is loaded: when it is
        refused (sensors changed, another release's state) its faults cannot be judged, but a clean stop wrote it at
        the stop, so its last tick is when the last run last saw them open (`_resume_faults`: user27's FAULT_END
        stamped with the fault journal's last write, 8 min before the stop)."""
        return _header_last_ts_of(self.checkpoints.path)

    def _refused(self, why: str) -> None:
        self.checkpoint_start = {"state": "refused", "detail": why}
        self.checkpoint_build = None
        log.warning("checkpoint %s refused: %s; warming up (%d ticks)", self.checkpoints.path, why,
                    self.cfg.warmup.ticks)

    def _judged_until(self, ts: float) -> None:
        """Ticks up to `ts` were judged by the last run (after the checkpoint's): scored and learned
        from again if the source re-sends them, but not judged again, so no alert is raised twice."""
        if self._resume_from is not None and ts > self._resume_from[1]:
            self.pipeline.detector.held_until = ts
            self._resume_from = (self.aligner.tick_of(ts), ts)

    def _step_restored(self) -> None:
        """Before the first record after a restart: the rows the restore closed — the last run's data
        held back after a silence (Aligner.restore), the silence it lived through (`_silence_before_
        stop`) — are stepped, and the restart's resume point moves past them: the gap judged at the
        first new data is the downtime after them. Only forward: a journal newer than them keeps its
        own (`_judged_until`: ticks the last run judged after its checkpoint; an alert it updated
        there was seen there, and the gap its next event says starts there)."""
        if self._resume_from is None or self._resume_from[0] is None:
            return
        restored = self.aligner.restored_rows()
        if restored:
            self._process(restored)
            last_ts = self.aligner.last_closed_k * self.cfg.tick_s
            if last_ts > self._resume_from[1]:
                self._resume_from = (self.aligner.last_closed_k, last_ts)

    def _resume_times_moved(self, delta: float) -> None:
        """This host's clock stepped by `delta` seconds and the data's grid with it (Row.clock_moved_s): the
        restart's resume point and the ticks the fault journal told move with it, as the learned state's
        times do (pipeline_time.step_clock_moved) — else, after a step back, the ticks up to the journal's would
        be taken as told again and their fault events kept back for as long as the step."""
        if self._resume_from is not None:
            last_k, last_ts = self._resume_from
            moved_k = round(delta / self.cfg.tick_s)
            self._resume_from = (None if last_k is None else last_k + moved_k, last_ts + delta)
        if self._faults_told_until is not None:
            self._faults_told_until += delta

    def _faults_told(self, ts: float) -> bool:
        """Whether the fault events of the tick at `ts` were told by the last run: a tick its fault
        journal, newer than the checkpoint, covers (`_resume_faults`), stepped again — the restore's
        rows (the silence it lived through, closed again), or data re-sent. Such a tick goes through
        the fault tracker untold (as `_judged_until` keeps its alerts from being raised twice); at
        the first tick past them the tracker's open faults are made the journal's again. Not after
        the time base started again (a clock stepped back: `_rebase_time`, or the data: Agent.
        _process), whose ticks lie before the journal's without having been told. Without
        this a kill -9 after a sender's return from a silence told that silence's `missing` faults
        a second time, under new ids."""
        until = self._faults_told_until
        if until is None:
            return False
        if ts <= until:
            return True
        self._faults_told_until = None
        self.pipeline.health.resume_open(self._told_open)
        self._told_open.update(self.pipeline.health.stations.entries(live=True))    # (one writer again: faults6)
        return False

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
        carried = self.pipeline.refill                          # the last run's refill, not yet done at its stop
        gap_s = max(0.0, ts - last_ts - self.cfg.tick_s)         # the ticks in between went unseen
        if gap_s > 0 and rec.received is None:     # (live data: the aligner says the restart gap)
            log.info("first new data after a gap: %.0f s of ticks the restored state has not seen", gap_s)
        skipped = self.aligner.restart_gap_ahead(rec)
        self._later_above(ts)
        for ev in self.pipeline.after_restart(ts, gap_s, skipped=skipped):
            self._emit(ev)
        # The window's own gap can be longer than the alert's: ticks a journal newer than the checkpoint
        # says the last run judged (`_judged_until`) are not in the state. Skipped, they must not be
        # scored as adjacent either (before: an alert's 9 s since its last event, the window's 25).
        seen = self.pipeline.last_ts
        if skipped and seen is not None and round((ts - seen) / self.cfg.tick_s) - 1 > self.cfg.window.steps:
            self.pipeline.refill_window(after=ts)
        self._gap_refill = self.pipeline.refill > 0
        # A refill the checkpoint carried (a restart before the last run's window had refilled: user27 stopped an
        # agent 17 ticks after its warm-up on a recording) is not the gap's: its first tick said "the gap … was
        # longer than the window" after a gap of one tick.
        self._carried_refill = carried if self._gap_refill and self.pipeline.refill == carried else 0

    def _later_above(self, first_new: float) -> None:
        """At the first new data after a restart: the open alert's last tick above the threshold moved to the one
        the last run's sign of life kept (`_mark_above`: at most ALIVE_S old at a kill -9), when later than the
        state restored and before this first new tick. What a kill -9 leaves of an alert's last ticks: the
        checkpoint's state (up to `checkpoint_s` old), the alert journal's at its last event (taken when newer),
        and this; the ticks after the last of them were scored and lost with the process. It is the `end` of an
        alert the restart ends (`restart`, after the refill or at once); before (clock25), the checkpoint's or the
        journal's, up to `checkpoint_s` early (clock26)."""
        mark, self._above_mark = self._above_mark, None
        opened = self.pipeline.alerts.open
        if mark is None or opened is None or mark[0] != opened.alert_id or not opened.last_above < mark[1] < first_new:
            return
        log.info("alert %s: last above the threshold at %s, as the last run's sign of life kept it (the state "
                 "restored: %s)", opened.alert_id, iso(mark[1]), iso(opened.last_above))
        opened.last_above = mark[1]


def _no_calm_counted_in_a_refill(pipeline) -> None:
    """A checkpoint written while the window refilled after a restart (`refill` > 0), its open alert's judgment
    pending (`judge_after_refill`), holds no calm tick after that refill: none was scored yet. This release writes
    the calm counts 0 there (AlertTracker.resumed resets them at the refill: those from before the downtime are not
    adjacent to the ticks after it); the releases before clock27 reset them at the first score, so a checkpoint they
    wrote during the refill holds the count from before the downtime. After the upgrade a short restart (no new
    refill) carried it into the judgment, and fewer than `clear_ticks` calm scores ended the alert `restart` — an
    incident whose scores dip under the band paged again under a new id (clock28). Taken as none, said once.
    Not told apart: a checkpoint written between the refill's last tick and the first score (`refill` 0 then, as
    mid-judgment): its count is kept, as before — never a later end than that release's own first-score rule."""
    opened = pipeline.alerts.open
    if opened is None or not opened.judge_after_refill or pipeline.refill <= 0 or not (opened.below or opened.spent):
        return
    log.info("alert %s: its %d calm tick(s) in a row from before a restart whose window is still refilling (%d "
             "tick(s) to go) are not counted: the checkpoint was written by an earlier release, which kept them until "
             "the first score after the refill; judged from that score as a live alert is",
             opened.alert_id, max(opened.below, opened.spent), pipeline.refill)
    opened.below = opened.spent = 0


def _header_last_ts_of(path: Path) -> float | None:
    """The last tick a checkpoint file's header says it holds, or None (no file, not a checkpoint, no tick). Only a
    regular file is peeked at: the load after this opens it again, and a second open of anything else (a FIFO, a
    device) could block the start or read other bytes than the load does (tests/test_checkpoint.py's FIFO start)."""
    try:
        if not path.is_file():
            return None
        value = read_meta(path).get("last_ts")
    except (OSError, CheckpointRefused, AttributeError):
        return None
    return float(value) if is_time(value) else None


def _checkpoint_times(meta: dict) -> tuple[float, float | None]:
    """(created, last_ts) of a checkpoint's header, read before any state is restored; ValueError
    naming the key when either is not a time this agent can use."""
    times = []
    for key in ("created", "last_ts"):
        value = meta.get(key)
        if value is None and key == "last_ts":
            times.append(None)
            continue
        if not is_time(value):
            raise ValueError(f"header {key}: " + ("missing" if value is None else f"{value!r} is not a time"))
        times.append(float(value))
    return times[0], times[1]
