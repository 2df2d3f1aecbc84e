"""Rejects that also keep every (reason, where, detail): what a source said, for a test to read back, each
with the place it named (a topic, a sender, a file:line)."""
from __future__ import annotations

from agent.records import Rejects, worded


class RecordingRejects(Rejects):
    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, str, str]] = []

    def add(self, reason, where, detail=""):
        detail = worded(detail)
        super().add(reason, where, detail)
        self.seen.append((reason, where, detail))


def said_at(rejects: RecordingRejects, where: str) -> list[tuple[str, str]]:
    """(reason, detail) of every reject that named `where`."""
    return [(reason, detail) for reason, at, detail in rejects.seen if at == where]
