"""One agent per state directory: an exclusive lock on `<state_dir>/agent.lock`.

Two agents on one state_dir — a manual `stad-agent run` beside the running service, a second unit
with the same config — would overwrite each other's checkpoint and journals, send each other's
outbox events, and, with one node id, take each other's MQTT session over ten times a second
(the broker drops the older connection with the same client id; both reconnect). The second
agent is refused before it opens anything, naming the holder's pid.

The lock is flock(2) on the state directory itself, opened read-only: the kernel releases it when
the process ends, `kill -9` and a power cut included, so nothing stale ever blocks a restart; and
it needs no file the agent must be allowed to write (a lock file left 0600 by a manual root run
would otherwise turn the guard off for the service's user). `agent.lock` only names the holder's
pid for the refusal, best effort. A filesystem without locks (NFS without lockd: ENOLCK) runs
unguarded with a warning, as a state directory that cannot be opened does.
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
        self._take(Path(state_dir))

    def _take(self, state_dir: Path) -> None:
        try:
            fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("state_dir %s cannot be opened to lock it (%s); not guarded against a second agent",
                        state_dir, exc.strerror or exc)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirInUse(errno.EBUSY, f"state_dir {state_dir} is in use by another stad-agent (pid "
                                             f"{self._holder()}); one agent per state_dir (stop the other, or "
                                             "give this one its own state_dir and node.id)") from None
        except OSError as exc:          # ENOLCK and the like: the filesystem cannot lock
            os.close(fd)
            log.warning("state_dir %s cannot be locked (%s); not guarded against a second agent", state_dir,
                        exc.strerror or exc)
            return
        self._fd = fd
        self.name_holder()

    def taken_again(self) -> None:
        """The state directory writable again after a degraded start (agent/read_only_state.py): lock it now if it
        could not be locked then — it did not exist yet on a read-only parent, and a second agent started once it
        was made would have run beside this one (qa48) — and name this pid in `agent.lock`."""
        if self._fd is not None:
            self.name_holder()
            return
        try:
            self._take(self.path.parent)            # (names this pid when it locks)
        except StateDirInUse as exc:
            log.error("%s: two agents now run on it; stop one", exc)

    def name_holder(self) -> None:
        """Write this pid into `agent.lock`, for a refused agent's message: best effort (a full disk, a foreign
        file, a read-only state dir — named again once it is writable: agent/read_only_state.py)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
            self.path.write_text(f"{os.getpid()}\n", encoding="ascii")
        except OSError:
            pass

    def _holder(self) -> str:
        return _holder_pid(self.path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)          # closing the descriptor drops the flock
            self._fd = None

    def __del__(self) -> None:
        self.release()


def _holder_pid(lock_file: Path) -> str:
    try:
        return lock_file.read_text(encoding="ascii", errors="replace").strip() or "?"
    except OSError:
        return "?"


def holder_now(state_dir: Path) -> str | None:
    """The pid (or '?') of the agent that holds `state_dir`'s lock now, None when none does (or the directory
    cannot be opened or locked: StateLock says so at the start). For check-config, whose "ok" must not hide
    that `run` would be refused: a shared lock, taken and dropped at once, so that two checks never refuse
    each other — an agent starting in those microseconds is refused once (systemd restarts it)."""
    try:
        fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder_pid(Path(state_dir) / LOCK_FILE)
    except OSError:
        return None
    finally:
        os.close(fd)                    # closing the descriptor drops the shared lock
    return None


__all__ = ["LOCK_FILE", "StateDirInUse", "StateLock", "holder_now"]
