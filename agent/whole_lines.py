"""A JSON-lines file holds whole lines only: an incomplete last line — a power cut or a full disk cut the write short,
a file system that grew the file before its data reached the disk left zeros — is cut off before the file is appended
to again. Else the next line would be glued to it, and both lost to a reader (the JSONL sink's restart search, a
recording that `replay` reads back). Used by the JSONL sink (agent/sinks/jsonl.py) and `stad-agent record`
(agent/record.py) when they open a file.
"""
from __future__ import annotations

import os
from pathlib import Path

TAIL_CHUNK = 1 << 16


def cut_partial_tail(path: Path, fd: int) -> int:
    """Truncate the file open as `fd` after its last newline; the number of bytes removed."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    with open(path, "rb") as f:
        end = size
        while end > 0:
            start = max(0, end - TAIL_CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            if end == size and chunk.endswith(b"\n"):
                return 0
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
    os.ftruncate(fd, keep)
    return size - keep


__all__ = ["TAIL_CHUNK", "cut_partial_tail"]
