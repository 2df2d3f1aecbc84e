"""systemd's notify protocol over the NOTIFY_SOCKET datagram socket, standard library only.

No-op when NOTIFY_SOCKET is absent. WATCHDOG=1 is sent by ping(), which the processing loop
calls itself, at most every half of WATCHDOG_USEC: a stuck loop stops the pings.
"""
from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("stad.sdnotify")


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None):
        self.address = address
        self.sock: socket.socket | None = None
        if address:
            # '@name' is an abstract socket: a leading NUL byte on the wire.
            self.target = "\0" + address[1:] if address.startswith("@") else address
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.interval = watchdog_usec / 2e6 if watchdog_usec else None
        self.last_ping = 0.0

    @classmethod
    def from_env(cls) -> "Notifier":
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if pid and pid.isdigit() and int(pid) != os.getpid():
            usec = None
        return cls(os.environ.get("NOTIFY_SOCKET"), int(usec) if usec and usec.isdigit() else None)

    def send(self, message: str) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendto(message.encode(), self.target)
        except OSError as exc:
            log.debug("sd_notify %r failed: %s", message, exc)

    def ready(self) -> None:
        self.send("READY=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def ping(self) -> None:
        if self.interval is None:
            return
        now = time.monotonic()
        if now - self.last_ping >= self.interval:
            self.last_ping = now
            self.send("WATCHDOG=1")
