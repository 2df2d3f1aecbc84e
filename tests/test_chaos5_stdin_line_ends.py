"""stdin's line ends (the chaos5 round: an input whose lines end in a lone '\\r', as a serial device sends them). On
the code before, the source read its descriptor and split at '\\n' only: 100 records ended by '\\r' were one line,
one `bad json` ("Extra data"), 99 records lost within one count — while the same source on a text stream (its plain
path, universal newlines) and the replay read '\\r' as a line end."""
from __future__ import annotations

import json
import os
import queue
import threading

from agent.records import Rejects
from agent.sources.stdin import StdinConfig, StdinSource


def lines(n: int, k0: int = 0) -> list[bytes]:
    return [json.dumps({"ts": 1_767_600_000 + k, "a": k}).encode() for k in range(k0, k0 + n)]


def test_lines_ended_by_a_lone_cr_crlf_or_lf_are_each_a_record(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"\r".join(lines(100)) + b"\r" + b"\r\n".join(lines(50, 100)) + b"\r\n"
                     + b"\n".join(lines(50, 150)) + b"\n")
    rejects = Rejects()
    with open(path, "rb") as stream:
        recs = list(StdinSource(StdinConfig(), ["a"], rejects, stream=stream).records())
    assert rejects.total == 0, rejects.as_dict()
    assert [r.values["a"] for r in recs] == [float(k) for k in range(200)]
    assert [r.origin for r in recs] == [f"stdin:{k + 1}" for k in range(200)]     # '\r\n' is one end, not two


def test_a_crlf_split_between_two_reads_ends_one_line(tmp_path):
    # The source runs in its own thread, as in the agent; each write waits for the record it must give (on the code
    # before, the first never came: its line waited for a '\n').
    read_end, write_end = os.pipe()
    rejects, got = Rejects(), queue.Queue()
    stream = os.fdopen(read_end, "rb")
    source = StdinSource(StdinConfig(), ["a"], rejects, stream=stream)
    reader = threading.Thread(target=lambda: [got.put(r) for r in source.records()] + [got.put(None)], daemon=True)
    reader.start()
    try:
        first, second, third = lines(3)
        os.write(write_end, first + b"\r")          # the read ends at the '\r': the line is whole already
        assert got.get(timeout=60).origin == "stdin:1"
        os.write(write_end, b"\n" + second + b"\r")
        rec = got.get(timeout=60)
        assert (rec.origin, rec.values) == ("stdin:2", {"a": 1.0})
        os.write(write_end, b"x" + b"\n" + third + b"\n")     # after a '\r' and more bytes, a '\n' ends a line
        assert got.get(timeout=60).origin == "stdin:4"
    finally:
        os.close(write_end)
        source.close()
        reader.join(timeout=60)
        stream.close()
    assert got.get(timeout=60) is None
    assert rejects.as_dict() == {"bad json": 1} and rejects.first["bad json"][0] == "stdin:3"
