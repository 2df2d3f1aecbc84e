"""The agent's sign of life: what a running agent claims of itself for the next start, and how that start reads it.

Why a part of its own: after a kill -9 or a power cut the checkpoint alone cannot tell the next start what the
ticks after it were. A sender's silence the agent lived through is the source's (missing ticks, a `source`
fault); the agent's own downtime is not (the restart gap: skipped, no sensor missing). Between checkpoints,
while the sources are silent, the agent says every ALIVE_S that it is alive with every record taken
(`alive.json`, `_mark_alive`; its checkpoint once when they fall silent after it: `_alive_due`); while data
flows, only the file's time of change is moved (`_touch_alive`), so that the next start can say how long the
agent was down (`_down_between`) rather than the checkpoint's age. The claim is never made while a restart is
pending (`_caught_up`: those ticks are the agent's own downtime — user13's blind gateway, clock23), and it is
written with the rule it was made under (CLAIMS_RULE): a claim an earlier release wrote without it is read back
but not trusted (`_alive_until`, `under_claims_rule`; clock24).

While an alert is open the sign of life also keeps the last tick it was above the threshold (`alert`: its id and
`last_above`, on the data's time base), written every ALIVE_S when that moved past what the checkpoint holds
(`_mark_above`, instead of the time-of-change touch): after a kill -9 the next start knows it within ALIVE_S, where
the checkpoint alone knew it up to `checkpoint_s` (300 s by default) early — the `end` of an alert the restart
ends `restart` (`_above_in_sign_of_life`, read by resume.py's `_take_above_mark`; clock26).

`SignOfLife` is the base of `resume.Resume`, which writes the checkpoint and restores it: `_init_alive` sets
up its state. It uses the Agent's `cfg.checkpoint_s`, `sources`, `queue`, `aligner.restart_pending`,
`records_in`, `pipeline.ticks`, `clock`, `state_writes`, `state_reads` and, from `Resume`, `save_checkpoint`,
`_saved_at` (the last checkpoint's (created, records_in)) and `checkpoints.path`.

A clean stop that writes no checkpoint (nothing new since the last one; a restored life stopped before its first new
data, while no checkpoint may be written) says it stopped cleanly in `alive.json` instead (`_mark_clean_stop`, with
the file's time of change set to the stop's): before, the next start found no `clean_stop` and worded its restart gap
as a kill -9's, "lost with the stop" (user15 left it; user16).
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from . import json_read
from .checkpoint import atomic_write

log = logging.getLogger("stad.agent")

#: The agent's sign of life while nothing new comes (`SignOfLife._mark_alive`), in state_dir.
ALIVE_FILE = "alive.json"
#: How often (s) the sign of life is written while its sources are silent (`SignOfLife._alive_due`): after
#: a kill -9 in a silence, at most this much of the silence's end is taken for the agent's downtime
#: (on the checkpoint's cadence it was up to `checkpoint_s`, 300 s by default). One ~70-byte atomic
#: write (temporary file, fsync, rename) each time, only while no record comes: 720 writes an hour of
#: silence, none while data flows (bench/alive.py: its cost, and README "Restarts, checkpoints") — then only
#: the file's time of change is moved (`_touch_alive`: the next start's downtime figure).
ALIVE_S = 5.0
#: The rule what the state files say of the last run was written under, beside it (the checkpoint's header and
#: alive.json, `claims_rule`): 2 — nothing while a restart is pending (clock23): neither "alive until T with every
#: record taken" (`alive_at`, alive.json's `at`) nor a checkpoint, whose records held for confirmation are then
#: the last run's own data. An earlier release wrote no rule and could write both while the ticks after its
#: restored checkpoint were still its own downtime (user13's blind gateway); the first start after the upgrade
#: cannot tell those from true ones, so it trusts neither (`_alive_until`, Aligner.restore's `trusted`; clock24).
CLAIMS_RULE = 2


class SignOfLife:
    """The sign of life between checkpoints and its reading at the next start (see the module's docstring)."""

    def _init_alive(self, state_dir: Path) -> None:
        self._next_alive = 0.0                # (monotonic) when `_alive_due` next writes the sign of life
        self._records_at_alive = -1           # records_in at the last `_alive_due`
        self._alive_path = state_dir / ALIVE_FILE
        self._above_kept: float | None = None     # the open alert's last_above the state files hold (`_mark_above`)
        self._life_started: float | None = None     # this life's start (the agent's clock) after a restore
        self._waiting_marked = False          # alive.json holds this life's wait for its first data (`_mark_waiting`)

    def _alive_doc(self) -> dict:
        """alive.json as the mapping it holds; OSError (FileNotFoundError: there is none) or ValueError (not JSON,
        nested too deep, not a mapping) when it cannot be used. Every reader of the file reads it here."""
        doc = json_read.loads(self._alive_path.read_bytes())
        if not isinstance(doc, dict):
            raise ValueError(f"not a mapping ({type(doc).__name__})")
        return doc

    def _caught_up(self) -> float | None:
        """Now (the agent's clock), when a live source feeds it and every record the sources handed
        over is taken: the ticks after the newest data up to now had none (a sender's silence, if
        long); else None (a recording's time is not this clock's; records still queued, or left
        unscored at the stop, are not). Nor while a restart is pending (Aligner.restart_pending: the
        state restored, no new data yet): the ticks after the restored last one are this agent's
        downtime, not a silence it lived through — said alive then, the next start after a second
        kill -9 closed that downtime as missing ticks, a false `source` fault that masked every
        sensor (user13's blind gateway; clock23)."""
        if not any(src.live for src in self.sources) or len(self.queue) or self.queue.dropped_at_stop \
                or self.aligner.restart_pending:
            return None
        return self.clock()

    def _alive_due(self, now: float) -> None:
        """Between checkpoints, every ALIVE_S (monotonic `now`): the sign of life, when the sources
        have been silent since the last checkpoint (`_mark_alive` writes nothing otherwise); when they
        fell silent after it (records came since, none in the last ALIVE_S), the checkpoint once, so
        that the silence's first `checkpoint_s` is not taken for downtime either."""
        if self._waiting_marked and not self.aligner.restart_pending:
            self._unmark_waiting()
        if now < self._next_alive:
            return
        self._next_alive = now + min(ALIVE_S, self.cfg.checkpoint_s)
        quiet = self.records_in == self._records_at_alive
        self._records_at_alive = self.records_in
        if quiet and self.pipeline.ticks and (self._saved_at is None or self._saved_at[1] != self.records_in):
            if self.save_checkpoint() is not None:
                return
        elif self._mark_alive():
            return
        if not self._mark_above() and not self._mark_waiting():
            self._touch_alive()       # (nothing written: data flowing)

    def _alert_mark(self) -> dict | None:
        """The open alert's id and last tick above the threshold, as the sign of life keeps them (None: none open)."""
        a = self.pipeline.alerts.open
        return None if a is None else {"alert_id": a.alert_id, "last_above": a.last_above}

    def _mark_above(self) -> bool:
        """While data flows with an alert open whose last tick above the threshold is newer than the state files
        hold (the last checkpoint, or this sign of life): `alive.json` written with it (its claim kept as it was),
        which also moves its time of change (the touch's purpose). One ~165-byte atomic write every ALIVE_S while
        the alert is above, in place of the touch: after a kill -9 the next start ends such an alert (`restart`)
        with its `end` at most ALIVE_S early instead of `checkpoint_s` (clock26). Whether it was written (tried)."""
        mark = self._alert_mark()
        if mark is None or (self._above_kept is not None and mark["last_above"] <= self._above_kept) \
                or not any(src.live for src in self.sources) or self.aligner.restart_pending:
            return False        # (a restart pending: nothing scored yet, the last run's mark kept for the next)
        try:
            doc = self._alive_doc()
        except (OSError, ValueError):       # none yet, or unusable (said at the next start): no claim to keep
            doc = {"at": None, "checkpoint": None, "claims_rule": CLAIMS_RULE}
        try:
            atomic_write(self._alive_path, json.dumps({**doc, "alert": mark}).encode())
        except OSError as exc:
            self.state_writes.failure("checkpoint", self._alive_path, exc, "end an alert open at a kill -9 "
                                      "(`restart`) at the checkpoint's last tick above, not at this one's")
            return True
        self._above_kept = mark["last_above"]
        self.state_writes.success("checkpoint", self._alive_path, its_own=True)
        return True

    def _mark_waiting(self) -> bool:
        """While a restart is pending with a live source (restored, no new data yet): `alive.json` written with this
        life's wait, the claim in it kept as it was (no silence is claimed: clock23) — `waiting`: the restored
        checkpoint it is for, the last sign of life before the first such wait (`since`), the seconds up waiting
        and the starts that waited, this life's added to those the file held for the same checkpoint at the
        restore (`_waited_before`). A device away across restarts (chaos2's Modbus soak: 8 lives each killed before
        their first data) was worded as the agent's own downtime, 163 s of it, by the first life with data; the
        next start now words that part as its sources' silence while it waited (agent/restart_gap.py). One
        ~200-byte atomic write every ALIVE_S while it waits. Whether it was written (tried)."""
        waited, started = self.aligner.waited_before, self._life_started
        if not self.aligner.restart_pending or not self._restore_pending or started is None \
                or self._resumed_created is None or self.aligner.down_between is None \
                or not any(src.live for src in self.sources):
            return False
        up_s, starts, since = waited if waited is not None else (0.0, 0, self.aligner.down_between[0])
        mark = {"checkpoint": self._resumed_created, "since": since, "starts": starts + 1,
                "up_s": round(up_s + max(0.0, self.clock() - started), 3)}
        try:
            doc = self._alive_doc()
        except (OSError, ValueError):       # none yet, or unusable (said at the next start): no claim to keep
            doc = {"at": None, "checkpoint": None, "claims_rule": CLAIMS_RULE}
        try:
            atomic_write(self._alive_path, json.dumps({**doc, "waiting": mark}).encode())
        except OSError as exc:
            self.state_writes.failure("checkpoint", self._alive_path, exc, "word a restart's wait for its sources' "
                                      "first data as the agent's own downtime")
            return True
        self._waiting_marked = True
        self.state_writes.success("checkpoint", self._alive_path, its_own=True)
        return True

    def _unmark_waiting(self) -> None:
        """The wait is over (the first data came, or the wall-clock flush's wait ran out): `waiting` taken out of
        alive.json at once, so that a kill -9 after it does not have the next start word this life's run as a
        wait (clock23's two kills: the second life waited 5 s, then ran on data)."""
        self._waiting_marked = False
        try:
            doc = self._alive_doc()
            doc.pop("waiting", None)
            atomic_write(self._alive_path, json.dumps(doc).encode())
        except (OSError, ValueError) as exc:
            self.state_writes.failure("checkpoint", self._alive_path, exc, "word this life's run after its wait as "
                                      "more of the wait, at the next start")
            return
        self.state_writes.success("checkpoint", self._alive_path, its_own=True)

    def _waited_before(self, created: float | None) -> tuple[float, int, float] | None:
        """(seconds up, starts, the last sign of life before them) that earlier lives on the checkpoint `created`
        spent waiting for their first data (`_mark_waiting`), from alive.json; None when it says none for it."""
        try:
            mark = self._alive_doc().get("waiting")
            if mark["checkpoint"] != created:
                return None
            up_s, starts, since = mark["up_s"], mark["starts"], mark["since"]
        except (OSError, ValueError, KeyError, TypeError):        # (TypeError: no mark, or not a mapping)
            return None
        if not all(json_read.finite_number(v) and v >= 0 for v in (up_s, starts, since)):
            return None
        return float(up_s), int(starts), float(since)

    def _touch_alive(self) -> None:
        """Every ALIVE_S while a live source feeds the agent and no silence is to be said: `alive.json`'s
        time of change moved to now (its content, the silence's claim, kept; created when missing, with
        none), so that the next start can say how long the agent was down — before, a kill -9 two
        seconds long said the checkpoint's age, minutes (user13's defect 5). A change of the file's
        times, no data written and no fsync: a power cut may lose the last few, which only makes the
        figure larger. A failed touch is counted and said under the checkpoint's key (health `state_writes`);
        the next that works clears that problem, never one the checkpoint's own writes left (before, a touch
        never cleared its own, which stayed until the next checkpoint or silence's sign of life: review28)."""
        if not any(src.live for src in self.sources):
            return
        try:
            os.utime(self._alive_path)
        except FileNotFoundError:
            try:
                atomic_write(self._alive_path, json.dumps({"at": None, "checkpoint": None,
                                                           "claims_rule": CLAIMS_RULE}).encode())
            except OSError as exc:
                self.state_writes.failure("checkpoint", self._alive_path, exc,
                                          "read its downtime from the checkpoint's time")
                return
        except OSError as exc:
            self.state_writes.failure("checkpoint", self._alive_path, exc,
                                      "read its downtime from an older sign of life")
            return
        # its own failures only: a touch works on a disk too full for the checkpoint (review29)
        self.state_writes.success("checkpoint", self._alive_path, its_own=True)

    def _mark_alive(self) -> bool:
        """The checkpoint has nothing new to write (no tick closed: a sender silent, every sensor) and
        no record came since it: say the agent is alive, in `alive.json` — the time and the checkpoint
        it extends, ~70 bytes every ALIVE_S (`_alive_due`) and on the checkpoint's cadence, never while
        records come. Without it a restart
        during a silence took the silence for its own downtime: the restart gap (health, an open
        alert's `gap_s`) the silence and the downtime together, no sensor missing for the silence.
        The next start closes the silence up to it as missing ticks (`_alive_until`). Whether it
        was written (tried)."""
        if self._saved_at is None or self._saved_at[1] != self.records_in:
            return False
        at = self._caught_up()
        if at is None:
            return False
        mark = self._alert_mark()
        doc = {"at": at, "checkpoint": self._saved_at[0], "claims_rule": CLAIMS_RULE}
        try:
            atomic_write(self._alive_path, json.dumps(doc if mark is None else {**doc, "alert": mark}).encode())
        except OSError as exc:
            self.state_writes.failure("checkpoint", self._alive_path, exc,
                                      "take the sender's silence since the checkpoint for its own downtime")
            return True
        self.state_writes.success("checkpoint", self._alive_path)
        if mark is not None:
            self._above_kept = mark["last_above"]
        return True

    def _alive_until(self, meta: dict) -> tuple[float | None, float | None]:
        """When the last run was last known alive with every record taken: its checkpoint's `alive_at`,
        or a later `alive.json` written for that checkpoint (one for another is stale); None when
        neither says, or either is not a time up to now (said, and ignored: the restart gap then
        starts at the checkpoint's last tick, as before). As (trusted, not trusted): a claim made under
        this release's rule (CLAIMS_RULE, written beside it) is trusted; one without it was written by an
        earlier release, which could make it while a restart was pending — a false silence after a second
        kill -9 (user13's blind gateway) — and nothing in the files tells the two apart, so it is not."""
        times = [(meta.get("alive_at"), meta.get("claims_rule"))]
        try:
            doc = self._alive_doc()
            if doc["checkpoint"] == meta.get("created"):
                times.append((doc["at"], doc.get("claims_rule")))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s not usable (%s); ignored", self._alive_path, exc)
            self.state_reads["alive"] = f"{self._alive_path}: not usable ({exc})"
        now = self.clock()
        good = [(float(t), under_claims_rule(rule)) for t, rule in times if isinstance(t, (int, float))
                and not isinstance(t, bool) and 0.0 <= t <= now]
        if len(good) < len([t for t, _ in times if t is not None]):
            log.warning("checkpoint %s: a time the last run was alive is not a time up to now (%s); ignored",
                        self.checkpoints.path, [t for t, _ in times])
        return (max((t for t, marked in good if marked), default=None),
                max((t for t, marked in good if not marked), default=None))

    def _above_in_sign_of_life(self) -> tuple[str, float] | None:
        """(alert_id, last tick above the threshold) the last run's sign of life kept for its open alert
        (`_mark_above`); None when it kept none or it is not usable (a damaged file: said by `_alive_until`)."""
        try:
            mark = self._alive_doc().get("alert")
            alert_id, last_above = mark["alert_id"], mark["last_above"]
        except (OSError, ValueError, KeyError, TypeError):        # (TypeError: no mark, or not a mapping)
            return None
        if not isinstance(alert_id, str) or not json_read.finite_number(last_above):
            return None
        return alert_id, float(last_above)

    def _down_between(self, meta: dict, created: float) -> tuple[float, float] | None:
        """(when the last run was last known up, now): its checkpoint's time, the time it said it was
        alive, `alive.json`'s last change (`_touch_alive`, every ALIVE_S while live data flows) — the
        latest that is a time up to now. The restart gap's line says the seconds between beside the
        ticks it skips: those are the downtime and the ticks since the last checkpoint together."""
        times = [created, meta.get("alive_at")]
        try:
            times.append(self._alive_path.stat().st_mtime)
        except OSError:
            pass
        now = self.clock()
        good = [float(t) for t in times if isinstance(t, (int, float)) and not isinstance(t, bool) and 0.0 <= t <= now]
        return (max(good), now) if good else None

    def _mark_clean_stop(self, created: float | None) -> None:
        """A clean stop that writes no checkpoint: said in alive.json for the checkpoint on disk (`created`), with the
        claim already there for it (`at`) kept, and the file's time of change set to the stop's own — a later life
        touches it at its first turn (`_touch_alive`), so its kill -9 is not taken for this clean stop."""
        if created is None:
            return
        doc = {"at": None, "checkpoint": created, "claims_rule": CLAIMS_RULE}
        try:
            old = self._alive_doc()
            if old.get("checkpoint") == created:
                doc["at"] = old.get("at")
            if isinstance(old.get("waiting"), dict) and old["waiting"].get("checkpoint") == created:
                doc["waiting"] = old["waiting"]     # the waits of lives on it go on being counted (`_mark_waiting`)
        except (OSError, ValueError):
            pass
        stop_ns = time.time_ns()
        doc["clean_stop"] = stop_ns / 1e9
        try:
            atomic_write(self._alive_path, json.dumps(doc).encode())
            os.utime(self._alive_path, ns=(stop_ns, stop_ns))
        except OSError as exc:
            self.state_writes.failure("checkpoint", self._alive_path, exc,
                                      "word this clean stop's restart gap as a kill's")
            return
        self.state_writes.success("checkpoint", self._alive_path)

    def _stopped_clean(self, meta: dict, created: float, down: tuple[float, float] | None) -> str | None:
        """Whether the last run stopped cleanly with this checkpoint and lived no longer, and where that stop is said
        (the restart gap's line words the two apart, agent/restart_gap.py `_note_restart_gap`; user17):
        "checkpoint": its header's `clean_stop`, the checkpoint written at the stop, with no sign of life after it
        (`down`, `_down_between`: a later life on it touches alive.json at its first turn, so a later kill -9 is not
        taken for this clean stop); "alive.json": a clean stop alive.json says for it (`_mark_clean_stop`: the stop
        wrote no checkpoint, nothing new since this one) with no sign of life after that stop. None: not clean."""
        if down is None:
            return None
        if meta.get("clean_stop") is True and down[0] <= created:
            return "checkpoint"
        try:
            doc = self._alive_doc()
            stopped = doc["clean_stop"] if doc.get("checkpoint") == meta.get("created") else None
        except (OSError, ValueError, KeyError):
            return None
        if isinstance(stopped, float) and down[0] <= stopped + 1e-3:     # (the file's time: ns, as a float)
            return "alive.json"
        return None


def under_claims_rule(rule) -> bool:
    """Whether a state file was written under CLAIMS_RULE's rule (or a later one)."""
    return isinstance(rule, int) and not isinstance(rule, bool) and rule >= CLAIMS_RULE
