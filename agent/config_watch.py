"""On SIGHUP: has the config file changed since this agent started, and would a restart take it?

SIGHUP reloads the model bundle only (agent/hotswap.py); the configuration is read once, at start.
Many daemons re-read their config on SIGHUP (`systemctl reload`), so an operator who edited the
file and sent one believed it applied — and one with a bad key went unnoticed until the next
restart (an upgrade, a power cut) refused it, and under systemd a refused start (exit 2) is not
restarted: the gateway stayed down. So a SIGHUP checks the file as `check-config` does (keys,
then what it names on this machine) and says, in one line, that a changed file is not applied
and whether a restart would take it or refuse it, with each problem's key path.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .digest import sha256
from .records import shorten
from .typed import ConfigError

log = logging.getLogger("stad.agent")


def _digest(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def restart_problems(path: Path) -> list[str]:
    """What `run` would refuse in the file now ('key.path: message'); empty when it would start (degraded, too:
    preflight.degraded)."""
    from . import config, preflight
    try:
        found, _notes = preflight.check(config.load(path))
    except ConfigError as exc:
        return list(exc.problems)
    return preflight.degraded(found)[0]


class ConfigWatch:
    def __init__(self, path: str | Path | None):
        self.path = None if path is None else Path(path)
        self.started_with = None if self.path is None else _digest(self.path)
        self._requested = False

    def request(self) -> None:
        """SIGHUP arrived (safe in a signal handler: sets a flag only)."""
        self._requested = True

    def poll(self) -> None:
        """In the loop: answer a SIGHUP that arrived since the last call."""
        if not self._requested:
            return
        self._requested = False
        if self.path is None or _digest(self.path) == self.started_with:
            return
        found = restart_problems(self.path)
        if found:
            log.error("SIGHUP: %s changed since this agent started and a restart would refuse it — %d problem(s): "
                      "%s; the agent runs on with the configuration it started with (SIGHUP reloads the model "
                      "bundle only): fix the file before the next restart (stad-agent check-config -c %s)",
                      self.path, len(found), shorten("; ".join(found), 1200), self.path)
        else:
            log.warning("SIGHUP: %s changed since this agent started; it is not applied (SIGHUP reloads the "
                        "model bundle only): restart the agent to run with it (check-config finds no problem "
                        "in it)", self.path)


__all__ = ["ConfigWatch", "restart_problems"]
