"""systemd's notify protocol over the NOTIFY_SOCKET datagram socket, standard library only.

No-op when NOTIFY_SOCKET is absent. WATCHDOG=1 is sent by ping(), which the processing loop
calls itself, at most every half of WATCHDOG_USEC: a stuck loop stops the pings, and systemd
(WatchdogSec=) kills and restarts the agent.

The protocol as used here (see sd_notify(3)):
    READY=1      once, after the pipeline is loaded and the sources are started (Type=notify)
    STATUS=...   free text shown by `systemctl status` (tier, ticks, alerts)
    WATCHDOG=1   keep-alive, only from the processing loop
    STOPPING=1   once, as soon as shutdown begins (SIGTERM), before the sinks are flushed
    EXTEND_TIMEOUT_USEC=...  before READY=1, while a long `warmup.replay` is read and fitted: the
                 start is still going, do not time it out for this long (TimeoutStartSec=)

Sends never block: when nothing reads the socket and its queue is full, a message is dropped,
counted in `dropped`, and logged once (a blocking send would hang the very loop the watchdog
watches).
"""
from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("stad.sdnotify")


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None):
        self.address = address
        self.sock: socket.socket | None = None
        if address and not (address.startswith("/") or address.startswith("@")):
            log.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract '@' address; not notifying", address)
            address = None
        if address:
            # '@name' is an abstract socket: a leading NUL byte on the wire.
            self.target = "\0" + address[1:] if address.startswith("@") else address
            import socket   # only under systemd (NOTIFY_SOCKET set)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._dontwait = socket.MSG_DONTWAIT
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self.interval = self.watchdog_usec / 2e6 if self.watchdog_usec else None
        self.last_ping = float("-inf")
        self.stopping_sent = False
        self.dropped = 0            # messages not sent because nothing reads the socket (or it is gone)

    @classmethod
    def from_env(cls) -> "Notifier":
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if pid and pid.isdigit() and int(pid) != os.getpid():
            usec = None     # the watchdog is meant for another process (our parent, say)
        return cls(os.environ.get("NOTIFY_SOCKET"), int(usec) if usec and usec.isdigit() else None)

    @property
    def enabled(self) -> bool:
        return self.sock is not None

    def send(self, message: str) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendto(message.encode(), self._dontwait, self.target)
        except OSError as exc:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("sd_notify to %s failed (%s): dropping notifications; the count is in "
                            "health as sd_notify_dropped", self.address, exc)
            else:
                log.debug("sd_notify %r failed: %s", message, exc)

    def ready(self, status: str | None = None) -> None:
        """READY=1, with the first STATUS= in the same datagram when given."""
        self.send("READY=1" if status is None else f"READY=1\nSTATUS={_one_line(status)}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={_one_line(text)}")

    def extend(self, seconds: float, status: str) -> None:
        """EXTEND_TIMEOUT_USEC: the current state (the start) goes on for up to `seconds` more."""
        self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}\nSTATUS={_one_line(status)}")

    def stopping(self, status: str | None = None) -> None:
        """STOPPING=1, sent once however many times shutdown is requested."""
        if self.stopping_sent:
            return
        self.stopping_sent = True
        self.send("STOPPING=1" if status is None else f"STOPPING=1\nSTATUS={_one_line(status)}")

    def ping(self) -> None:
        """WATCHDOG=1 when half the watchdog period has passed since the last one; cheap otherwise."""
        if self.interval is None:
            return
        now = time.monotonic()
        if now - self.last_ping >= self.interval:
            self.last_ping = now
            self.send("WATCHDOG=1")


def _one_line(text: str) -> str:
    # A newline would start a new KEY=VALUE assignment in the datagram.
    return " ".join(text.splitlines())
