"""What a start takes from the journals: the last run's last alert and fault events (agent/checkpoint.py
EventJournal: alert-journal.json, fault-journal.json).

Why a part of its own: each journal holds the last event of its kind and the state that goes with it, written
before any sink saw the event, so after a restart it is newer than the checkpoint whenever an event happened
since. Its event is delivered again to every sink that may lack it; its open alert and faults are continued when
newer than the checkpoint (same ids), or ended (reason `restart`) when nothing can judge them — the alert a sink
holds after the journal's last (a run that could not journal it, then died), and what a journal of another
release's format left open, too. Every number in them is checked before it is used (agent/journaled.py): a journal
is JSON read back after a flipped bit, a hand edit or a downgrade. The rest of a restart (the checkpoint, the
resume point, the first new data) is agent/resume.py's `Resume`, whose base this is: it uses the Agent's `cfg`,
`pipeline`, `aligner`, `sinks`, `state_reads`, the journals and the events' delivery (agent/delivery.py), and
Resume's `_judged_until`, `_faults_told_until` and `_unrestored_last_ts` (a refused checkpoint's last tick).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, fields, replace

from .alerts import AlertEvent, iso
from .checkpoint import FORMAT_VERSION
from .faults.events import FaultEvent
from .journaled import checked_open, event_problem, journal_ts, open_alert_problem, other_version

log = logging.getLogger("stad.agent")


class JournalResume:
    """The journals across a restart (see the module's docstring); `Resume`'s base."""

    def _resume_alerts(self, model_anew: bool = False) -> None:
        """The last run's last alert event: delivered where it may be missing; its tracker used
        when it is newer than the checkpoint; an alert it left open that cannot be judged, ended. `model_anew`: the
        model tier is prepared on other ticks than the last run's (another bundle or profile, or a warm-up of its
        own): the tracker's residue peaks and floors, that run's model's scores, are forgotten (new_model_scale)."""
        doc = self.journal.read()
        self.state_reads["alert_journal"] = self.journal.problem
        if doc is None:
            self._end_unjournaled(None, self._other_version_alert())
            return
        try:
            why = event_problem(doc["event"])
            if why is not None:
                raise ValueError(why)
            event = AlertEvent(**doc["event"])
            ts, tracker = journal_ts(doc), doc["tracker"]["state"]
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            log.warning("alert journal %s not usable (%s); ignored", self.journal.path, exc)
            self.state_reads["alert_journal"] = f"{self.journal.path}: not usable ({exc})"
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
                why = open_alert_problem(tracker)
                if why is not None:
                    raise ValueError(why)
                alerts.restore(tracker)
            except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
                log.warning("alert journal %s: tracker not usable (%s); ignored", self.journal.path, exc)
                self.state_reads["alert_journal"] = f"{self.journal.path}: tracker not usable ({exc})"
                return
            self._forget_unknown_faults(alerts)
            if model_anew and alerts.new_model_scale():
                log.info("alert journal %s: the residue rule's per-sensor peaks and floors were the last run's model's "
                         "scores; this run's model is prepared anew: forgotten", self.journal.path)
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

    def _forget_unknown_faults(self, alerts) -> None:
        """The journal's tracker may name a fault of a sensor this config no longer has (faults4's `after_fault`,
        an open alert's `fault`: a user removed the sensor judged faulty, and the checkpoint was refused for it):
        re-judged without it, the first tick above the threshold died looking it up (qa31). Such a fault is
        forgotten, said with its key; the alert itself goes on. A `station` fault names its station / machine group
        (faults5), which is a name the config has when one of its sensors is in that group (review25: such a fault
        was forgotten at every restart, said as a sensor not in the config)."""
        names = set(self.cfg.sensor_names()) | set(self.pipeline.groups)
        for key, fault in (("alerts.after_fault", alerts.after_fault),
                           ("alerts.open.fault", alerts.open.fault if alerts.open is not None else None)):
            if fault is None or (isinstance(fault, dict) and fault.get("sensor") in names
                                 and isinstance(fault.get("fault_id"), str)):
                continue
            sensor = fault.get("sensor") if isinstance(fault, dict) else fault
            why = f"{key}: sensor {sensor!r} is not in the config"
            log.warning("alert journal %s: %s; forgotten (new alerts are judged with every sensor)", self.journal.path,
                        why)
            self.state_reads["alert_journal"] = f"{self.journal.path}: {why}"
            if key == "alerts.after_fault":
                alerts.after_fault = None
            else:
                alerts.open.fault, alerts.open.fault_calm = None, 0

    def _other_version_alert(self) -> tuple[AlertEvent, object] | None:
        """(the last alert event, the version) of an alert journal of another format version (agent/journaled.py
        other_version), the event's fields this release knows; None when there is none or it is no event."""
        doc = other_version(self.journal.path, FORMAT_VERSION)
        if doc is None:
            return None
        known = {f.name for f in fields(AlertEvent)}
        try:
            why = event_problem(doc["event"])
            if why is not None:
                raise ValueError(why)
            event = AlertEvent(**{k: v for k, v in doc["event"].items() if k in known})
            return event, doc.get("version")
        except (TypeError, ValueError) as exc:
            log.warning("alert journal %s (format version %r): its last event not usable (%s)", self.journal.path,
                        doc.get("version"), exc)
            return None

    def _end_unjournaled(self, journaled: AlertEvent | None, other: tuple[AlertEvent, object] | None = None) -> None:
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
        other, version = other or (None, None)          # (a journal of another format version's last event)
        if other is not None and (newest is None or other.ts > newest.ts):
            newest = other
        last_ts = self.pipeline.last_ts
        if newest is None or (last_ts is not None and newest.ts <= last_ts):
            return                      # none, or the checkpoint is newer: its alert state holds it
        self.pipeline.alerts.forget_open()
        self._judged_until(newest.ts)
        if newest.event == "end":
            return
        if newest is other:
            log.warning("alert %s (#%d, %s) was left open by the last run, whose alert journal %s is of format version "
                        "%s (another release's; ignored); the restart cannot judge it: ending it (reason restart)",
                        other.alert_id, other.seq, iso(other.ts), self.journal.path, version)
            self._emit(replace(other, seq=other.seq + 1, event="end", end=other.ts, reason="restart",
                               replayed=False, gap_s=None))
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
        self.state_reads["fault_journal"] = self.fault_journal.problem
        try:
            if doc is None:
                self._end_other_version_faults(restored)
                return
            try:
                events = [FaultEvent(**e) for e in doc["tracker"].get("events", [doc["event"]])]
                ts, told_open = journal_ts(doc), dict(doc["tracker"]["open"])
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                log.warning("fault journal %s not usable (%s); ignored", self.fault_journal.path, exc)
                self.state_reads["fault_journal"] = f"{self.fault_journal.path}: not usable ({exc})"
                return
            self._fault_last = (doc["event"], [asdict(ev) for ev in events])     # (a join journaled says it again)
            for sink in self.sinks:
                try:
                    sink.recover_faults(events)
                except Exception:  # noqa: BLE001
                    log.exception("sink %s failed to recover the last run's last fault events", sink.TYPE)
            last_ts = self.pipeline.last_ts if restored else None
            if last_ts is not None and ts > last_ts and not self._rebased:
                self._faults_told_until = ts        # ticks up to it told already (`_faults_told`)
            if last_ts is not None and ts <= last_ts:
                told_open = health.open_faults()    # the checkpoint is newer: it holds the open faults already
                if told_open:
                    log.info("sensor fault(s) open when the last run stopped, continued: %s", faults_said(told_open))
                return
            told_open, problems = checked_open(told_open)
            held = health.open_faults() if restored else {}
            for name, why in problems.items():  # each alone: the checkpoint's, else left out (agent/journaled.py)
                if held.get(name):
                    told_open[name] = held[name]
                log.warning("fault journal %s: open fault %s not usable (%s); %s", self.fault_journal.path, name, why,
                            "the checkpoint's goes on" if held.get(name) else "left out")
            if problems:
                self.state_reads["fault_journal"] = f"{self.fault_journal.path}: not usable: {'; '.join(problems.values())}"
            try:
                if not (restored and health.rules):
                    ended = health.ended_at_restart(told_open, ts if restored else self._last_seen_open(ts))
                else:
                    health.resume_open(told_open)
                    ended = None
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("fault journal %s: open faults not usable (%s); ignored", self.fault_journal.path, exc)
                self.state_reads["fault_journal"] = f"{self.fault_journal.path}: open faults not usable ({exc})"
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
            self._let_go_of_ended_faults()

    def _last_seen_open(self, journal_ts: float) -> float:
        """When the last run last saw its open faults open, for their end at a restart with no checkpoint restored:
        the fault journal's last write (`journal_ts`), or the refused checkpoint's last tick when later (resume.py
        `_header_last_ts`: a clean stop writes one at the stop; the journal is written only at a fault event)."""
        kept = self._unrestored_last_ts
        return journal_ts if kept is None or kept <= journal_ts else kept

    def _let_go_of_ended_faults(self) -> None:
        """The faults the alerts hold (`after_fault`, the open alert's `fault`) under an id no fault is open under
        once both journals are read: ended where the alerts could not hear it — at this restart (reason restart,
        outside any tick: no usable checkpoint to judge them by), or by a life whose fault journal this one could
        not use. Let go as at their end (AlertTracker.fault_ended): before, `after_fault` stayed for good and held
        back every new alert on it by the sensor-fault wait (review24's leftover; review26)."""
        alerts, open_ids = self.pipeline.alerts, set(self.pipeline.health.ids)
        for key, fault in (("alerts.after_fault", alerts.after_fault),
                           ("alerts.open.fault", alerts.open.fault if alerts.open is not None else None)):
            if fault is not None and fault["fault_id"] not in open_ids:
                log.info("%s: fault %s is not open after the restart; let go of (new alerts are judged with every "
                         "sensor)", key, fault["fault_id"])
                alerts.fault_ended(fault["fault_id"])

    def _end_other_version_faults(self, restored: bool) -> None:
        """The open faults of a fault journal of another format version (agent/journaled.py other_version), which
        this release cannot judge: ended (reason restart), as this release's would be with no checkpoint; said
        once. Beside a `restored` checkpoint, only those it does not hold (by fault_id) when the journal is newer:
        raised after it, they stayed open for good downstream (faults7's leftover; review26); an older journal's
        are the checkpoint's to know (as its alert event is: `_end_unjournaled`)."""
        doc = other_version(self.fault_journal.path, FORMAT_VERSION)
        if doc is None:
            return
        health = self.pipeline.health
        try:
            told_open, _ = checked_open(doc["tracker"].get("open"))
            ts = journal_ts(doc)
            held = {}
            if restored:
                last_ts = self.pipeline.last_ts
                if last_ts is not None and ts <= last_ts:
                    return
                held = health.open_faults()
                ids = {f["fault_id"] for f in held.values()}
                told_open = {name: f for name, f in told_open.items() if f["fault_id"] not in ids}
            ended = health.ended_at_restart(told_open, ts if restored else self._last_seen_open(ts))
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            log.warning("fault journal %s (format version %r): its open faults not usable (%s)", self.fault_journal.path,
                        doc.get("version"), exc)
            return
        if ended:
            log.warning("sensor fault(s) open when the last run stopped (%s), in a fault journal %s of format version "
                        "%r (another release's; ignored); %s: ending them (reason restart)",
                        ", ".join(sorted(told_open)), self.fault_journal.path, doc.get("version"),
                        "the checkpoint does not hold them" if restored else "no usable checkpoint to judge them by")
            self._told_open = {**held, **told_open}
            self._emit_faults(ended)


def faults_said(open_faults: dict[str, dict]) -> str:
    """Open faults (FaultTracker.open_faults) for a log line: `c missing (<fault_id>), …`."""
    return ", ".join(f"{s} {f['kind']} ({f['fault_id']})" for s, f in sorted(open_faults.items()))


__all__ = ["JournalResume", "faults_said"]
