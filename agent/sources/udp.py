"""JSON lines over UDP: one line or several newline-separated lines per datagram."""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import ClassVar, Iterator

from ..records import Record, Rejects
from ..plugins import Plugin
from ..typed import rng
from .base import Source, SourceConfig
from .lines import parse_json_line

RECEIVE_TIMEOUT_S = 0.2     # how long close() may wait for a blocked receive to notice


@dataclass
class UdpConfig(SourceConfig):
    TYPE: ClassVar[str] = "udp"
    bind: str = "127.0.0.1"
    port: int = rng(0, 65535, default=5555)
    max_datagram: int = rng(64, 65507, default=8192)


class UdpSource(Source):
    TYPE = "udp"
    live = True

    def __init__(self, cfg: UdpConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s)
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(RECEIVE_TIMEOUT_S)
        self.sock.bind((cfg.bind, cfg.port))
        #: the bound port: differs from cfg.port when that is 0 (an ephemeral port)
        self.port: int = self.sock.getsockname()[1]

    def records(self) -> Iterator[Record]:
        try:
            while not self._stop.is_set():
                try:
                    data, (host, port) = self.sock.recvfrom(self.cfg.max_datagram)
                except socket.timeout:
                    continue
                except OSError:
                    return      # the socket was closed under us by close()
                where = f"udp {host}:{port}"
                text = data.decode("utf-8", errors="replace")
                for line in text.splitlines():
                    if line.strip():
                        rec = parse_json_line(line, where, self.rejects, live=True)
                        if rec is not None:
                            yield rec
        finally:
            self.sock.close()

    def close(self) -> None:
        self._stop.set()


PLUGIN = Plugin(config=UdpConfig, create=UdpSource)
