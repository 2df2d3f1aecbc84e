"""A state directory the agent cannot write at start (review42): the agent runs degraded, says so, and sees it mend.

Why: an SD card's ext4 remounted read-only on errors made `run` refuse (exit 2, then review41's exit 4 which
systemd retried five times in ~30 s before the unit stayed `failed`): the gateway was blind until someone came,
though everything but its state files works on such a disk. A read-only state dir is a full disk that cannot even
be written once, and the agent already runs through a full disk: so `run` starts (agent/cli.py), reads what it
can — the checkpoint, the journals, the outbox's waiting events (agent/outbox_salvage.py `rows_read_only`) —
publishes, and keeps what it cannot write in memory: the outbox's events (at most its `max_events`, each
acknowledged one forgotten), the journals' last event (agent/delivery.py). What is still in memory at a stop or a
crash is lost; a restart resumes from the last checkpoint written before the disk went read-only.

This watch says it in the log at the start and every SAY_EVERY_S while it lasts (a journal that only says it
once is read by nobody hours later), in health (`state_dir_problem`), and tries the directory with each health snapshot (a directory made and removed):
once it can be written (the disk remounted read-write, a ReadWritePaths= given and the unit reloaded) it says so,
and the state files' own retries (checkpoint_s, each health snapshot, each outbox event) write them again.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from .host_checks import writable_dir_problems

log = logging.getLogger("stad.agent")

SAY_EVERY_S = 600.0     # the log line again, while the directory stays read-only


class ReadOnlyState:
    """The state directory's problem at start, from preflight's read-only lines (`problems`: those of `state_dir`;
    a sink's file elsewhere is said once, the sink counting its failed writes); None: writable."""

    def __init__(self, state_dir: Path, problems: list[str], outbox_max_events: int | None,
                 clock=time.monotonic):
        self.state_dir = Path(state_dir)
        self.clock = clock
        own = [p for p in problems if p.startswith("state_dir:")]
        self.problem: str | None = "; ".join(own) if own else None
        for line in problems:           # a sink's file on a read-only file system: that sink counts what it loses
            if line not in own:
                log.error("starting: %s — its writes fail until it is writable (counted by that sink)", line)
        self._since = self._said = clock()
        self._held = (f"the outbox's events at most {outbox_max_events:,} (max_events), acknowledged ones forgotten"
                      if outbox_max_events is not None else "no outbox (no mqtt sink)")
        if self.problem is not None:
            self._say(first=True)

    def _say(self, first: bool = False) -> None:
        log.error("%s %s — running degraded: %s, nothing written in state_dir %s: alert and "
                  "fault events are published and held in memory (%s; the journals' last event each); what is held "
                  "is lost at a stop or a crash, and a restart resumes from the last checkpoint written. Tried with "
                  "each health snapshot, said again every %.0f min.",
                  "starting:" if first else f"for {(self.clock() - self._since) / 60:.0f} min:", self.problem,
                  "the checkpoint, journals and outbox read from it" if first else "still", self.state_dir,
                  self._held, SAY_EVERY_S / 60)

    def look(self) -> bool:
        """With each health snapshot: try the directory, say it again (every SAY_EVERY_S). True when it has just
        become writable (made, if it was not there: a parent remounted read-write)."""
        if self.problem is None:
            return False
        now = self.clock()
        if not writable_dir_problems(self.state_dir):
            try:
                self.state_dir.mkdir(parents=True, exist_ok=True)
            except OSError:
                return False
            log.warning("state_dir %s is writable again after %.0f s: the checkpoint, journals and outbox are "
                        "written from now on (each by its own next try)", self.state_dir, now - self._since)
            self.problem = None
            return True
        if now - self._said >= SAY_EVERY_S:
            self._said = now
            self._say()
        return False


__all__ = ["SAY_EVERY_S", "ReadOnlyState"]
