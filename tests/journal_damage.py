"""Shared by the damaged-journal tests (tests/test_qa31_*_journal.py): a journal document damaged at one key
path, and the second life that must run on it."""
from __future__ import annotations

from pathlib import Path

from restart_helpers import AgentProcess, finished


def damage(doc: dict, path: tuple, value) -> None:
    """Set the value at `path` (keys and list indexes) inside `doc`."""
    *parents, key = path
    for k in parents:
        doc = doc[k]
    doc[key] = value


def second_life(tmp: Path, config: Path, lines: list[str]) -> str:
    """`stad-agent run` on the state left in `tmp`, fed `lines`, its input then closed: it must reach READY and
    exit 0 without a traceback; its log."""
    agent = AgentProcess(tmp, config, "run2")
    try:
        agent.ready()
        agent.feed(lines)
    except BaseException:
        agent.kill()
        raise
    return finished(agent)
