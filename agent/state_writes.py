"""Writes of the agent's own state files (checkpoint, alert journal, fault journal) that fail, said
and counted the way the sinks say and count theirs.

A full or failing state disk makes every such write fail, and the alert journal is written for
every alert event: logged per write, an alert storm on a full disk floods the log with one error
line per event and says nothing when space returns, while health and /metrics show nothing at
all. Here each file logs one line when its writes start failing (again only when the reason
changes), one line when a write works again (how many failed, over how long), and counts the
failed writes for health (`state_writes`), Prometheus (`stad_state_write_failures_total{file}`)
and the summary line.

The small state files read once at start (`active-bundle.json`, agent/hotswap.py; `feedback.json`,
agent/feedback.py; the alert and fault journals and `alive.json`, agent/alive.py) that cannot be used — cut short by a power cut, corrupt, a directory; active-bundle.json
also lost, missing beside a checkpoint (agent/active_bundle.py) — are said
by their readers (the file, why, what the agent does instead) and noted here for health
(`state_reads`: file -> 'path: why', null when it was read or absent) and Prometheus
(`stad_state_read_failures_total{file}`): a gateway that lost its model record or its operators'
feedback in a power cut shows it without reading its log.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("stad.agent")

# file key -> (what it is, what a failed write costs, its `fallback` when the caller names none — for the
# checkpoint's key a caller's `fallback` is what a restart will do, the line says "a restart will <fallback>"; for a
# journal, what a failed write costs when its spare (agent/checkpoint.py EventJournal) could not take it either)
STATE_FILES = {
    "checkpoint": ("checkpoint", "a restart will {fallback}", ""),
    "alert_journal": ("alert journal", "{fallback}",
                      "an alert open at a crash cannot be continued or ended by the restart"),
    "fault_journal": ("fault journal", "{fallback}",
                      "a fault open at a crash cannot be continued or ended by the restart"),
}


#: the state files read at start whose refusal is noted: the journals and the sign of life (agent/alive.py)
#: too since review22 — a journal a power cut tore was said in the log only
STATE_READS = ("active_bundle", "feedback", "alert_journal", "fault_journal", "alive")


def state_reads(active_bundle: str | None, feedback: str | None) -> dict[str, str | None]:
    """The state files refused at start ('path: why'), None for those read or absent; the journals' and
    the sign of life's are noted when the restart reads them (Resume)."""
    return dict.fromkeys(STATE_READS) | {"active_bundle": active_bundle, "feedback": feedback}


class StateWrites:
    """Per state file: failed writes this life, the current problem (None: the last write worked)."""

    def __init__(self):
        self.failed = dict.fromkeys(STATE_FILES, 0)
        self.problem: dict[str, str | None] = dict.fromkeys(STATE_FILES)
        self._since: dict[str, tuple[float, int]] = {}    # file -> (monotonic start, failed count at start)
        # what was said per file while its problem lasts: (path, reason) — the checkpoint's key covers the sign of
        # life (alive.json) too, and a failure of one must not silence the other's (a full disk met by alive.json
        # first left `checkpoint.bin`'s failure unsaid: qa14's test under load)
        self._said: dict[str, set[tuple[str, str]]] = {key: set() for key in STATE_FILES}

    def failure(self, key: str, path: Path, exc: Exception, fallback: str = "", counted: bool = True) -> None:
        """A write failed; `counted` False: a retry of a write already counted (the journals')."""
        what, cost, lost = STATE_FILES[key]
        self.failed[key] += counted
        reason = str(exc)
        if (str(path), reason) not in self._said[key]:
            self._said[key].add((str(path), reason))
            log.error("cannot write the %s %s: %s; %s (said once; the failed writes are counted in health "
                      "state_writes)", what, path, reason, cost.format(fallback=fallback or lost))
        self.problem[key] = reason
        self._since.setdefault(key, (time.monotonic(), self.failed[key] - 1))

    def success(self, key: str, path: Path, its_own: bool = False) -> None:
        """A write worked: the file's problem is gone. `its_own`: only when every failure since the last success
        was at `path` — a write that works while the others under its key still fail (alive.json's time of change,
        which a full disk does not stop) must not say the checkpoint is written again."""
        if self.problem[key] is None or (its_own and any(p != str(path) for p, _ in self._said[key])):
            return
        self._said[key].clear()
        start, before = self._since.pop(key)
        log.warning("the %s %s is written again (%d write(s) failed over %.0f s)", STATE_FILES[key][0], path,
                    self.failed[key] - before, time.monotonic() - start)
        self.problem[key] = None

    def snapshot(self) -> dict:
        return {key: {"failed": self.failed[key], "problem": self.problem[key]} for key in STATE_FILES}


__all__ = ["STATE_FILES", "STATE_READS", "StateWrites", "state_reads"]
