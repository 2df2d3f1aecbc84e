"""JSON lines over UDP: one line or several newline-separated lines per datagram.

A datagram may hold several lines; a reject names the line (`udp 10.0.0.5:4000 line 2 of 3`), and a line that is not
UTF-8 is counted as `bad payload` saying so (chaos7). Nothing is lost silently: a datagram longer than `max_datagram`
is counted ('datagram too long') rather than read truncated, and datagrams the kernel dropped because its receive buffer was
full are counted ('kernel drop') from SO_RXQ_OVFL — and from the socket's own drop count (SO_MEMINFO) whenever a
receive waits and at the stop: SO_RXQ_OVFL rides on a datagram queued after the drops, so a burst that overflowed the
buffer and then a silence left its drops uncounted until the next datagram, and for good at a stop (review40: 19,834
of 20,000 datagrams dropped, none counted). Lines split on '\n' only: a U+2028 inside a
JSON string is data, not a line break. At the stop, the datagrams the kernel still holds for the socket are
read without waiting for more and each of their lines counted ('unread at stop'): closed with them queued,
they were lost without a count (chaos1: bench/fuzz.py's udp run under load).
"""
from __future__ import annotations

import errno
import select
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator

from ..records import Record, Rejects
from ..plugins import Plugin
from ..host_checks import bind_problems
from ..typed import doc, rng
from .base import Source, SourceConfig
from .lines import SEND_UTF8, byte_not_utf8_said, parse_json_line

RECEIVE_TIMEOUT_S = 0.2     # how long close() may wait for a blocked receive to notice
#: How long the stop reads what the kernel holds at most: a sender faster than this loop reads (a flood at line rate)
#: must not hold the stop for as long as it goes on — what comes after the stop began was not left unread by it.
UNREAD_READ_S = 0.5
SO_RXQ_OVFL = 40            # Linux: drop count as ancillary data (socket.SO_RXQ_OVFL where Python has it)
SO_MEMINFO = 55             # Linux ≥ 4.12: the socket's memory counters, its drop count among them
SK_MEMINFO_DROPS = 8        # the drop count's place in SO_MEMINFO's array of u32
#: errors a receive may report while the socket stays good: an ICMP error queued on the socket by an
#: earlier send (port/host/network unreachable: Linux reports it on the next receive of a connected UDP
#: socket), or a momentary lack of kernel memory. They say nothing about the input: counted, and the
#: loop goes on. Any other error (EBADF: the descriptor closed under us; ENOTSOCK, EINVAL...) means the
#: socket can deliver nothing more: a source failure the service names (exit 3), never a quiet end.
TRANSIENT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN,
                              errno.ENETDOWN, errno.ENOBUFS, errno.ENOMEM, errno.EAGAIN})


@dataclass
class UdpConfig(SourceConfig):
    TYPE: ClassVar[str] = "udp"
    endless: ClassVar[bool] = True
    bind: str = doc("address to listen on", default="127.0.0.1")
    port: int = rng(0, 65535, default=5555, doc="UDP port (0: any free port)")
    max_datagram: int = rng(64, 65507, default=8192,
        doc="a longer datagram is counted as `datagram too long`, never read cut short")

    def listens_on(self) -> tuple[str, str, int] | None:
        return ("udp", self.bind, self.port) if self.port else None

    def label(self) -> str:
        return f"udp {self.bind}:{self.port}"

    def preflight(self, resolve) -> list[tuple[str, str]]:
        return bind_problems(self.bind, self.port)


class UdpSource(Source):
    TYPE = "udp"
    live = True

    def __init__(self, cfg: UdpConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s, clock)
        import socket       # here: a config without a udp source does not load it
        self._socket = socket
        self._stop = threading.Event()
        self._closing = threading.Lock()     # the socket is closed only once the stop's count of what it held is done
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(RECEIVE_TIMEOUT_S)
        try:
            self.sock.bind((cfg.bind, cfg.port))
        except OSError as exc:          # taken since check-config: say which source could not bind
            self.sock.close()
            raise OSError(exc.errno, f"udp source {cfg.bind}:{cfg.port}: {exc.strerror}") from None
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RXQ_OVFL", SO_RXQ_OVFL), 1)
        except OSError:
            pass    # not Linux: kernel drops stay uncounted
        self.kernel_drops = 0       # datagrams dropped by the kernel since the socket was opened
        #: the bound port: differs from cfg.port when that is 0 (an ephemeral port)
        self.port: int = self.sock.getsockname()[1]

    def records(self) -> Iterator[Record]:
        socket = self._socket
        ancillary_space = socket.CMSG_SPACE(4)
        try:
            while not self._stop.is_set():
                try:
                    # One byte more than allowed: a datagram that fills it was too long (MSG_TRUNC).
                    data, ancillary, flags, (host, port) = self.sock.recvmsg(self.cfg.max_datagram + 1,
                                                                             ancillary_space)
                except socket.timeout:
                    self._count_socket_drops()      # a burst's drops, told by no datagram queued after them
                    continue
                except OSError as exc:
                    if self._stop.is_set():
                        return      # close() asked: the end of this source, not an error
                    if exc.errno in TRANSIENT_ERRNOS:
                        self.rejects.add("udp receive error", f"udp :{self.port}",
                                         f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}; still listening")
                        continue
                    raise OSError(exc.errno, f"udp source :{self.port}: receive failed: {exc.strerror or exc}") from exc
                where = f"udp {host}:{port}"
                self._count_kernel_drops(ancillary, where)
                if flags & socket.MSG_TRUNC or len(data) > self.cfg.max_datagram:
                    self.rejects.add("datagram too long", where, f"more than max_datagram ({self.cfg.max_datagram}) "
                                     "bytes; dropped whole")
                    continue
                for line, at in self._lines(data, where):
                    rec = parse_json_line(line, at, self.rejects, live=True)
                    if rec is not None:
                        rec.origin = where      # the sender: what is said once per sender (live_pace) is said once
                        yield rec
        finally:
            self._count_unread(close=True)

    def _lines(self, data: bytes, where: str) -> Iterator[tuple[str, str]]:
        """(line, where) of each line of a datagram that is not blank: `where` names the line of a datagram of
        several (a reject of its second line named only the sender, chaos7). A line that is not UTF-8 is counted
        `bad payload` saying so: read with its bad bytes replaced, it was an `unknown sensor '��c'`, or json's
        "Expecting value", the bytes unsaid (the MQTT source said "not UTF-8")."""
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            lines = data.split(b"\n")
        kept = [line for line in lines if line.strip()]
        for i, line in enumerate(kept, 1):
            at = f"{where} line {i} of {len(kept)}" if len(kept) > 1 else where
            if isinstance(line, bytes):
                try:
                    line = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.rejects.add("bad payload", at, lambda: byte_not_utf8_said(line[exc.start], exc.start + 1,
                                                                                   "line", SEND_UTF8))
                    continue
            yield line, at

    def _count_kernel_drops(self, ancillary, where: str) -> None:
        for level, kind, payload in ancillary:
            if level == self._socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(payload) >= 4:
                self._dropped_in_all(struct.unpack("=I", payload[:4])[0])

    def _count_socket_drops(self) -> None:
        """The socket's drop count now (SO_MEMINFO), where SO_RXQ_OVFL tells it only with the next datagram; not
        on a kernel without it."""
        words = SK_MEMINFO_DROPS + 1
        try:
            info = self.sock.getsockopt(self._socket.SOL_SOCKET, getattr(self._socket, "SO_MEMINFO", SO_MEMINFO),
                                        4 * words)
        except OSError:
            return
        if len(info) >= 4 * words:
            self._dropped_in_all(struct.unpack(f"={words}I", info[:4 * words])[SK_MEMINFO_DROPS])

    def _dropped_in_all(self, total: int) -> None:
        """The kernel has dropped `total` datagrams for the socket since it was opened: those not counted yet, counted."""
        if total > self.kernel_drops:
            self.rejects.add_many("kernel drop", f"udp :{self.port}", total - self.kernel_drops,
                                  "the receive buffer was full (the agent fell behind)")
            self.kernel_drops = total

    def _count_unread(self, close: bool = False) -> None:
        """The datagrams the kernel still holds for the socket, read without waiting for more (for UNREAD_READ_S at
        most): each of their lines counted `unread at stop`, and the kernel drops they report. At the stop (close()), and again by the
        reading thread as it closes the socket (`close`): what came between is counted too. A datagram the reading
        thread takes meanwhile is its own (a record offered once the stop is set: the intake counts it)."""
        with self._closing:
            if self.sock.fileno() < 0:
                return
            lines = 0
            deadline = time.monotonic() + UNREAD_READ_S
            try:
                while time.monotonic() < deadline and select.select([self.sock], [], [], 0)[0]:
                    data, ancillary, _, (host, port) = self.sock.recvmsg(self.cfg.max_datagram + 1,
                                                                         self._socket.CMSG_SPACE(4))
                    self._count_kernel_drops(ancillary, f"udp {host}:{port}")
                    lines += sum(1 for line in data.decode("utf-8", errors="replace").split("\n") if line.strip())
            except OSError:
                pass        # (a timeout: the reading thread took the last one) nothing more to read
            finally:
                self._count_socket_drops()
                self.rejects.add_many("unread at stop", f"udp :{self.port}", lines,
                                      "the agent stopped before reading them")    # (one line for them all)
                if close:
                    self.sock.close()

    def close(self) -> None:
        self._stop.set()
        self._count_unread()


PLUGIN = Plugin(config=UdpConfig, create=UdpSource)
