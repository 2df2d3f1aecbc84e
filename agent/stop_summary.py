"""The stop's summary: the one line `stad-agent run` prints last on stderr, from `Agent.summary()` (agent/service.py).

Why a module of its own: the daemon loop gathers what a run did (its ticks, rejects, alerts, faults, drops, state
writes); how that reads to an operator — each drop's reason in words (user14), this run's counts and not the
earlier lives' that health adds (user15), the restart gap and its waiting part — is wording, not the loop's.

A reason steady from one sender is counted without a line (records.Rejects): its count alone in the summary did not say
that hours of it were never logged, nor from whom. The summary says so after the rejects' `);` (qa56), leaving the
head bench/chaos_check.py SUMMARY reads — up to that `);` — as it was.
"""
from __future__ import annotations

from .records import read_without_text, span, split_read_without
from .state_writes import STATE_FILES


#: each reason a sink drops an event for, as the stop summary says it after the count (health: sinks.*.dropped)
UNDELIVERED = {
    "refused": "refused by the broker (kept in mqtt-refused.jsonl to send again)",
    "max_events": "dropped over outbox.max_events while the broker was away",
    "max_age": "dropped older than outbox.max_age_s while the broker was away",
    "not_stored": "lost (the state disk could not store them)",
    "corrupt": "unreadable in a corrupt outbox",
    "alert": "alert lines not written",
    "fault": "fault lines not written",
}


def alerts_said(s: dict) -> str:
    """`alerts raised N` — this run's (user15) — and the alerts an earlier run raised whose events this run sent
    (chaos10: after a restart mid-incident `alerts raised 0 (events end: 1, update: 21)` was read as "no alert")."""
    return continued_said(f"alerts raised {s.get('alerts_raised_this_run', s['alerts_raised'])}",
                          s.get("alerts_continued") or {})


def continued_said(said: str, got: dict) -> str:
    """`said` (this run's count) and those an earlier run raised that this one continued: {continued, ended}."""
    n, ended = got.get("continued", 0), got.get("ended", 0)
    if not n:
        return said
    before = f"{said}, {n} raised before this start continued"
    if ended == n:
        return f"{before} and ended in this run"
    return f"{before}, still open at the stop" if not ended else f"{before}, {ended} of them ended in this run"


def steady_said(spells: dict) -> str:
    """'counted without a line while steady: repeated reading 7080 (from udp 10.0.0.5:4000 at about 60 a minute: said
    steady 2.0 h before the stop and steady still); ' for the reasons steady in this run (Rejects.steady_spells), or ''
    (a spell that ended: `steady 4 min, ended 14 min before the stop`)."""
    said = []
    for reason, got in spells.items():
        when = (f"said steady {span(got['steady_s'])} before the stop and steady still" if got["ended_s_ago"] is None
                else f"steady {span(got['steady_s'])}, ended {span(got['ended_s_ago'])} before the stop")
        spells_said = f"{got['spells']} steady spells, the last " if got["spells"] > 1 else ""
        said.append(f"{reason} {got['quiet']} ({spells_said}from {got['sender']} at about {got['per_min']:.3g} a "
                    f"minute: {when})")
    return f"counted without a line while steady: {' and '.join(said)}; " if said else ""


def format_summary(s: dict) -> str:
    # a file read without a mapped column is counted by its reason's name but said apart: its rows were read (user32)
    dropped, read_without = split_read_without(s["rejected"])
    rej = ", ".join(f"{k}: {v}" for k, v in dropped.items()) or "none"
    read_without_said = f"{read_without_text(read_without)}; " if read_without else ""
    ev = ", ".join(f"{k}: {v}" for k, v in sorted(s["alert_events"].items())) or "none"
    # this run's alerts and faults (`Agent.summary`; health's counts add the earlier lives': user15)
    raised = s.get("faults_raised_this_run", s["faults_raised"])
    faults = ", ".join(f"{k}: {v}" for k, v in sorted(raised.items()) if v) or "none"
    # and the faults an earlier run raised, open at this start (user36: `sensor faults 0 (none)` with one open)
    faults_said = continued_said(f"sensor faults {sum(raised.values())} ({faults})", s.get("faults_continued") or {})
    # this run's drops (the MQTT outbox's health counts add the earlier lives'), each reason in words (user14)
    lost = ", ".join(f"{sink}: " + " and ".join(f"{n} {UNDELIVERED.get(r, r)}" for r, n in why.items())
                     for sink, why in s.get("undelivered", {}).items())
    moved = ", ".join(f"{k} {n}" for k, n in s.get("time_base_moves", {}).items() if n)
    # what the outbox (the MQTT sink's, one per agent) still holds for the next start, its depth after the sink's
    # close: user33 read the summary for it (qa50); the sink's own line says it too
    waiting = sum(st.get("depth") or 0 for st in (s.get("sinks") or {}).values() if isinstance(st, dict))
    unwritten = ", ".join(f"{STATE_FILES[k][0]} {st['failed']}" for k, st in s.get("state_writes", {}).items()
                          if st["failed"])
    unscored = s.get("intake", {}).get("dropped_at_stop")     # refused once the stop began, or left queued
    # the warm-up recording's rejects apart from the live ones (a resumed run reads no warm-up: user30)
    warm, warm_read_without = split_read_without(s.get("rejected_warmup") or {})
    warm_said = (f"warm-up recording rejected {sum(warm.values())} ({', '.join(f'{k}: {v}' for k, v in warm.items())}); "
                 if warm else "") + (f"warm-up recording: {read_without_text(warm_read_without)}; "
                                     if warm_read_without else "")
    # a replay's gaps between recordings, passed with no fault event (faults/source.py)
    gaps = sum(src.get("recording_gaps", 0) for src in s.get("sources", {}).values())
    # this run's ticks beside its records in (user30: a resumed run said `14400 ticks, 3534 records in`, the
    # ticks counted from the checkpoint's first life); the lifetime count near the end when a checkpoint was resumed
    # (the line's head, to the rejects' `);`, is read by bench/chaos_check.py SUMMARY)
    ticks = s.get("ticks_this_run", s["ticks"])
    steady = steady_said(s.get("rejected_steady") or {})       # after the head's `);` (qa56)
    return (f"summary: {ticks} ticks, {s['records_in']} records in, rejected {sum(dropped.values())} "
            f"({rej}); {steady}{read_without_said}{warm_said}{alerts_said(s)} (events {ev}); "
            f"{faults_said}; tier {s['tier']}; "
            + (f"time base moved: {moved}; " if moved else "")
            + (f"gaps between recordings passed (no fault event): {gaps}; " if gaps else "")
            + (f"restart gap skipped: {s['last_restart_gap']['skipped_s']:g} s"
               + (f" ({s['last_restart_gap']['waiting_s']:g} s of it its sources' silence while "
                  f"{s['last_restart_gap']['waiting_starts']} start(s) waited for their first data); "
                  if s["last_restart_gap"].get("waiting_s") is not None else "; ") if s.get("last_restart_gap") else "")
            + (f"events dropped this run: {lost}; " if lost else "")
            + (f"alert and fault events waiting in the outbox for the next start: {waiting}; " if waiting else "")
            + (f"state file writes failed: {unwritten}; " if unwritten else "")
            + (f"ticks read and still open at the stop: {opened['ticks']} ("
               + ("kept in the checkpoint, the next start scores them); " if opened["kept"] else "not scored); ")
               if (opened := s.get("open_at_stop") or {}).get("ticks") else "")
            + (f"records read but not scored at the stop: {unscored}; " if unscored else "")
            + (f"{s['ticks']} ticks with the resumed state's; " if ticks != s["ticks"] else "")
            + f"stopped: {s['exit_reason']}")
