"""check-config's notes at `run`'s start: in full at the first start and whenever they change; one line at a
start whose notes are the ones an earlier start printed.

Why: `run` checks its config as check-config does, and printed every `note:` at every start (user13): under
systemd each restart — the watchdog's, a reboot, a `systemctl restart` after a password change — put the same
paragraph into the journal again, where an operator reading `journalctl -u stad-agent` finds the one new line
of a restart among them. Nothing at all would be wrong too: a note can say that the model tier will not run, or
that a sensor gets no reading from the warm-up recording. So the first start says them all; a later start with
the same notes says one line — how many, since when, and the command that prints them — and a start whose
notes differ (a config changed, a runtime removed) says them all again.

Kept in `state_dir/config-notes.json`: the notes' digest, their count and when they were printed in full. Not
state the agent needs: a record missing, unreadable or not written (a full state disk) only means that the
notes are printed in full again at the next start. Written once the agent is built (it holds state_dir then):
a start refused before that (another agent holds state_dir) leaves it as it was.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import json_read
from .alert_events import iso
from .checkpoint import atomic_write
from .digest import sha256         # not hashlib: it loads OpenSSL's libcrypto (~3.5 MiB) at every start
from .journaled import is_time
from .records import shorten

NOTES_FILE = "config-notes.json"


class StartNotes:
    def __init__(self, config_path: str, notes: list[str], state_dir: Path):
        self.config_path = config_path
        self.notes = notes
        self.path = Path(state_dir) / NOTES_FILE
        self.digest = sha256("\n".join(notes).encode()).hexdigest()
        self.printed = False

    def _last(self) -> dict | None:
        """The record of the start that printed the notes last; None when there is none usable — its `printed_at`
        no time (review37: read as any int or float, 1e308, NaN or 400 digits stopped `run` with a traceback at
        every start, in the line that says it)."""
        try:
            record = json_read.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        printed = record.get("printed_at") if isinstance(record, dict) else None
        return record if is_time(printed) else None

    def say(self, out=None) -> None:
        """Print the notes (stderr), or the one line saying they stand."""
        out = out or sys.stderr
        if not self.notes:
            return
        last = self._last()
        if last is not None and last.get("digest") == self.digest:
            print(f"{self.config_path}: note: the {len(self.notes)} note(s) check-config gives this config are the "
                  f"ones printed at the start of {iso(last['printed_at'])} (not repeated; stad-agent check-config -c "
                  f"{self.config_path} prints them)", file=out)
            return
        for note in self.notes:
            print(f"{self.config_path}: note: {shorten(note, 400)}", file=out)
        self.printed = True

    def keep(self) -> None:
        """Record the notes printed in full (the agent is built: state_dir is its). A write that fails is let be."""
        if not (self.printed or (not self.notes and self.path.exists())):     # (notes gone: forget the old ones)
            return
        try:
            atomic_write(self.path, json.dumps({"digest": self.digest, "count": len(self.notes),
                                                "printed_at": time.time()}).encode())
        except OSError:
            pass


__all__ = ["NOTES_FILE", "StartNotes"]
