"""One agent per state directory: an exclusive lock on `<state_dir>/agent.lock`.

Two agents on one state_dir — a manual `stad-agent run` beside the running service, a second unit
with the same config — would overwrite each other's checkpoint and journals, send each other's
outbox events, and, with one node id, take each other's MQTT session over ten times a second
(the broker drops the older connection with the same client id; both reconnect). The second
agent is refused before it opens anything, naming the holder's pid.

The lock is flock(2) on an open file: the kernel releases it when the process ends, `kill -9`
and a power cut included, so a stale lock file never blocks a restart.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("stad.agent")

LOCK_FILE = "agent.lock"


class StateDirInUse(OSError):
    """Another live process holds the state directory's lock."""


class StateLock:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / LOCK_FILE
        self._fd: int | None = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            # A full disk (no inode left) or a read-only state: the agent still runs where it can;
            # its checkpoint and outbox say the same once, each.
            log.warning("state_dir lock %s cannot be made (%s); not guarded against a second agent", self.path,
                        exc.strerror or exc)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise StateDirInUse(errno.EBUSY, f"state_dir {state_dir} is in use by another stad-agent (pid {holder}); "
                                             "one agent per state_dir (stop the other, or give this one its own "
                                             "state_dir and node.id)") from None
        self._fd = fd
        try:                            # the holder's pid, for the refusal: best effort (a full disk)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)          # closing the file drops the flock
            self._fd = None

    def __del__(self) -> None:
        self.release()


__all__ = ["LOCK_FILE", "StateDirInUse", "StateLock"]
