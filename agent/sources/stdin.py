"""JSON lines from standard input, one reading or row per line; end of input ends the source. A line ends at '\n',
'\r\n' or a lone '\r' (a serial device's), as the replay reads lines. A line holding a byte that is not UTF-8 is
counted `bad payload`, naming the byte (`lines.not_utf8_said`), as the UDP source says it; it was read as U+FFFD,
an `unknown sensor '��c'` (chaos8).

A standard input that cannot be read is refused when the source is opened (`run` exits 1, "cannot
start", naming it): closed (`<&-`), or open for writing only — as `nohup` leaves it when started from
a terminal. The first read failed, the source ended, and the agent stopped at once with exit 0,
"input ended", as if its input had been read to the end (qa21). A read that fails later (a socket the
sender reset) is the source failing, not its input's end (agent/service.py: exit 3).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator

from ..records import Record, Rejects
from ..plugins import Plugin
from ..typed import rng
from .base import Source, SourceConfig
from .lines import not_utf8_said, parse_json_line

POLL_S = 0.2        # how long close() may wait for a blocked read to notice


@dataclass
class StdinConfig(SourceConfig):
    TYPE: ClassVar[str] = "stdin"
    max_line_bytes: int = rng(64, 64 * 2**20, default=2**20,
        doc="a longer line is skipped whole and counted as `line too long`")


class StdinSource(Source):
    TYPE = "stdin"
    live = True

    def __init__(self, cfg: StdinConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, stream=None, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s, clock)
        if stream is None and (problem := unreadable_stdin()) is not None:
            raise OSError(f"stdin source: standard input {problem}: pipe the readings in "
                          "(`producer | stad-agent run …`)")
        self.stream = stream if stream is not None else sys.stdin
        self._stop = threading.Event()

    def records(self) -> Iterator[Record]:
        for n, line in enumerate(self._lines(), 1):
            if line is None:
                self.rejects.add("line too long", f"stdin:{n}", f"more than {self.cfg.max_line_bytes} bytes; skipped")
            elif (said := not_utf8_said(line, "the sender's text encoding? send UTF-8")) is not None:
                self.rejects.add("bad payload", f"stdin:{n}", f"{said}; the line is skipped")
            elif line.strip():
                rec = parse_json_line(line, f"stdin:{n}", self.rejects, live=True)
                if rec is not None:
                    yield rec

    def _lines(self) -> Iterator[str | None]:
        """Lines without their newline; None for a line longer than max_line_bytes (skipped whole)."""
        limit = self.cfg.max_line_bytes
        selector = self._selector()
        if selector is None:
            for line in self.stream:    # in-memory or unselectable: plain blocking reads
                if self._stop.is_set():
                    return
                yield None if len(line.rstrip("\n").encode("utf-8", "replace")) > limit else line
            return
        # Read the descriptor directly: a select() poll lets close() stop a silent input,
        # which a blocking readline() would not. The unfinished line is kept as a list of pieces
        # (joined once, at its newline: linear, however long), and dropped once it passes the limit.
        # A line ends at '\n', '\r\n' or a lone '\r' (a serial device's line end), as a text stream's universal
        # newlines read it (the plain path above) and the replay does: '\r' alone made one line of a whole input,
        # its records counted as one `bad json` (chaos5).
        fd = self.stream.fileno()
        pieces: list[bytes] = []
        size = 0
        too_long = False
        after_cr = False            # the last chunk ended at a '\r': a '\n' right after it ends nothing more
        with selector:
            while not self._stop.is_set():
                if not selector.select(POLL_S):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                start = 1 if after_cr and chunk[:1] == b"\n" else 0
                after_cr = chunk[-1:] == b"\r"
                while True:
                    end = line_end(chunk, start)
                    step = 2 if chunk[end:end + 2] == b"\r\n" else 1
                    piece = chunk[start:] if end < 0 else chunk[start:end]
                    if not too_long:
                        size += len(piece)
                        if size > limit:
                            too_long = True
                            pieces = []
                            yield None
                        elif piece:
                            pieces.append(piece)
                    if end < 0:
                        break
                    if not too_long:
                        yield b"".join(pieces).decode("utf-8", errors="surrogateescape")
                    pieces, size, too_long = [], 0, False
                    start = end + step
        if pieces and not too_long and not self._stop.is_set():
            yield b"".join(pieces).decode("utf-8", errors="surrogateescape")

    def _selector(self) -> selectors.BaseSelector | None:
        """A select()-based poller on the stream, or None where that is impossible."""
        import selectors
        try:
            selector = selectors.SelectSelector()   # unlike epoll, also accepts regular files
            selector.register(self.stream.fileno(), selectors.EVENT_READ)
            return selector
        except (AttributeError, OSError, ValueError):
            return None

    def close(self) -> None:
        self._stop.set()


def line_end(chunk: bytes, start: int) -> int:
    """Where the first line end ('\n' or '\r') at or after `start` is in `chunk`, or -1."""
    ends = [i for i in (chunk.find(b"\n", start), chunk.find(b"\r", start)) if i >= 0]
    return min(ends) if ends else -1


def unreadable_stdin() -> str | None:
    """Why this process's standard input cannot be read, or None (also where that cannot be told:
    a stand-in without a descriptor, a platform without fcntl)."""
    if sys.stdin is None:               # Python found descriptor 0 closed
        return "is closed"
    try:
        import fcntl
        mode = fcntl.fcntl(sys.stdin.fileno(), fcntl.F_GETFL)
    except (ImportError, OSError, ValueError):
        return None
    if mode & os.O_ACCMODE == os.O_WRONLY:
        return "is open for writing only (as `nohup` leaves it when started from a terminal)"
    return None


PLUGIN = Plugin(config=StdinConfig, create=StdinSource)
