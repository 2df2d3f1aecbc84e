"""How the agent's alert and sensor-fault events leave it: journaled first, then every sink.

Why a part of its own: the order is what a restart relies on. An event is written to its journal
(`<state_dir>`, agent/checkpoint.py's EventJournal) before any sink sees it, so a kill -9 between
the two leaves the restart the event to deliver again (agent/resume.py); a tick's fault events
share one journal write (one fsync however many sensors a power cut takes down); a journal write
that fails is kept and tried again with each health snapshot, since the journal holds the LAST
event and that is the one a restart needs. The durable sinks come first (the Agent sorts them),
and one sink's failure never starves the others.

`Delivery` is the Agent's base: `_open_journals` sets up its state; it uses the Agent's `sinks`,
`state_writes` and `pipeline` (the alert state journaled with an event).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict

from pathlib import Path

from .checkpoint import FAULT_JOURNAL_FILE, JOURNAL_FILE, EventJournal, alert_spare_bytes, fault_spare_bytes
from .faults.events import FaultEvent

log = logging.getLogger("stad.agent")


class Carried:
    """The alerts (or the sensor faults) an earlier run raised that this run continued, for the stop summary: those
    open at this start (`open_at_start`, after the restore) and those this run sent an event of (`sent`: an end at
    the restart, or of an alert the last run wrote but could not journal), this run's own raises apart.

    One rule for alerts and faults (review47). Before, an alert counted when this run sent an event of it (chaos10:
    `alerts raised 0 (events end: 1, update: 21)` was read as "no alert") and a fault when it was open at this start
    (user37: `sensor faults 0 (none)` with one open): an alert open at the start that this run sent nothing of, and
    a fault the restart ended (no usable checkpoint), went unsaid."""

    def __init__(self) -> None:
        self.raised: set[str] = set()       # ids this run raised
        self.before: set[str] = set()       # ids an earlier run raised that this run continued

    def open_at_start(self, ids) -> None:
        self.before.update(i for i in ids if i not in self.raised)

    def sent(self, event_id: str, raised: bool) -> None:
        """An event this run sent; `raised`: the one that raises it (`new`, `fault`)."""
        if raised:
            self.raised.add(event_id)
        elif event_id not in self.raised:
            self.before.add(event_id)

    def counts(self, open_now: set[str]) -> dict[str, int]:
        """{continued, ended} as the stop summary says them (agent/stop_summary.py continued_said); `open_now`: the
        ids open at the stop."""
        return {"continued": len(self.before), "ended": len(self.before - open_now)}


class Delivery:
    """Alert and fault events: journaled, then handed to every sink (see the module's docstring)."""

    def _open_journals(self, state_dir: Path, sensors: int) -> None:
        self.events = Counter()
        self.fault_events = Counter()          # fault / fault_end events, by fault kind
        # the alerts and sensor faults an earlier run raised that this run continued, for the stop summary
        self.alerts_carried, self.faults_carried = Carried(), Carried()
        self.journal = EventJournal(state_dir, JOURNAL_FILE, "alert", alert_spare_bytes(sensors))
        self.fault_journal = EventJournal(state_dir, FAULT_JOURNAL_FILE, "fault", fault_spare_bytes(sensors))
        self._reserve_journals()
        self._told_open: dict[str, dict] = {}   # sensor → open fault, as the fault events sent so far tell it
        self._fault_last: tuple[dict, list[dict]] = ({}, [])   # the fault journal's last event and its tick's events
        self._unjournaled: dict[str, tuple[EventJournal, dict, dict]] = {}     # journal writes to try again

    def _reserve_journals(self) -> None:
        """The journals' spares, while the disk has room (a full one needs them): at the start, and once a state dir
        read-only at the start is writable again (agent/read_only_state.py; qa48: until then none was made)."""
        for journal in (self.journal, self.fault_journal):
            if not journal.reserve():
                log.error("cannot reserve %s (%s) in state_dir: on a full disk the %s journal cannot be written and "
                          "a kill -9 then loses what it would have told the restart (check-config says so too)",
                          journal.spare.path.name, journal.spare.problem, journal.what)

    def _emit(self, ev) -> None:
        self.events[ev.event] += 1
        self.alerts_carried.sent(ev.alert_id, raised=ev.event == "new")
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
        events tell them, which a restart resumes. A tick on which a mate joined an open fault
        untold, or an open fault was handed over to another rule, is journaled too (faults/station.py
        `take_rewritten`), with the last event again: a kill -9 before that fault's end must not lose the join or
        the kind."""
        rewritten = self.pipeline.health.stations.take_rewritten()
        events = self.refused.explain(events)       # readings that came, refused (clock skew): said (user35)
        if not events and not rewritten:
            return
        for key, entry, _ in rewritten:
            self._told_open[key] = entry
        for ev in events:
            self.fault_events[f"{ev.event} {ev.kind}"] += 1
            self.faults_carried.sent(ev.fault_id, raised=ev.event == "fault")
            if ev.event != "fault_end":     # (a fault_update: the same open fault, mates joined)
                self._told_open[ev.sensor] = ev.open_entry()
            else:
                self._told_open.pop(ev.sensor, None)
        if events:
            self._fault_last = (asdict(events[-1]), [asdict(ev) for ev in events])
        ts = events[-1].ts if events else max(at for *_, at in rewritten)    # (the join's or hand-over's tick)
        last, told = self._fault_last
        self._journal("fault_journal", self.fault_journal, last, {"ts": ts, "open": dict(self._told_open), "events": told})
        if not events:
            return
        for sink in self.sinks:             # (each sink the tick's events together: the outbox syncs once)
            try:
                sink.faults(events)
            except Exception:  # noqa: BLE001 — one sink's fault must not starve the others
                log.exception("sink %s failed on %s", sink.TYPE, ", ".join(ev.fault_id for ev in events))

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
