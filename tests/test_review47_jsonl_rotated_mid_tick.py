"""A tick's fault lines (JsonlSink.faults, synced once) when the file is rotated between two of them (review47).

chaos10 syncs a tick's fault lines once, after the last. A rotation (`logrotate` renaming alerts.jsonl) between two
of them closed the file holding the first lines unsynced — a power cut could lose lines the agent had gone on from —
and when no new file could be made at the path (the directory not writable by the agent, no inode left; here a
directory in its place, which refuses root too), the batch's sync ran on no file: `TypeError` out of the sink
(`os.fdatasync(None)`), the tick's other lines not counted as dropped. Real files; the rotation is made from inside
os.write, right after the first line's write — the only place it can fall between two lines of one call."""
from __future__ import annotations

import os

from agent.sinks.base import SinkContext
from agent.sinks.jsonl import JsonlConfig, JsonlSink
from conftest import fault_event


def rotate_after_the_first_line(monkeypatch, path, make_path_unopenable: bool) -> list[int]:
    """os.write and os.fdatasync passed on; after the first write to `path`'s file, the file renamed to `<path>.1`
    (and a directory made at `path` when asked). The inodes fdatasync'd, in order."""
    real_write, real_sync = os.write, os.fdatasync
    synced: list[int] = []
    rotated = []

    def write(fd, data):
        done = real_write(fd, data)
        if not rotated and os.fstat(fd).st_ino == os.stat(path).st_ino:
            rotated.append(True)
            os.rename(path, f"{path}.1")
            if make_path_unopenable:
                os.mkdir(path)
        return done

    def fdatasync(fd):
        synced.append(os.fstat(fd).st_ino)
        return real_sync(fd)
    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return synced


def test_the_lines_before_a_rotation_are_synced_before_their_file_is_closed(tmp_path, monkeypatch):
    path = tmp_path / "alerts.jsonl"
    sink = JsonlSink(JsonlConfig(path=str(path)), SinkContext(node_id="gw", site="lab", state_dir=str(tmp_path)))
    first = os.stat(path).st_ino
    synced = rotate_after_the_first_line(monkeypatch, path, make_path_unopenable=False)
    sink.faults([fault_event(1), fault_event(2)])
    sink.close()
    assert (tmp_path / "alerts.jsonl.1").read_text().count("\n") == 1
    assert path.read_text().count("\n") == 1
    # on 740108ec: only the new file's inode — the rotated file's line was never synced
    assert synced == [first, os.stat(path).st_ino], synced


def test_a_rotation_with_no_new_file_drops_the_rest_and_syncs_what_was_written(tmp_path, monkeypatch):
    path = tmp_path / "alerts.jsonl"
    sink = JsonlSink(JsonlConfig(path=str(path)), SinkContext(node_id="gw", site="lab", state_dir=str(tmp_path)))
    first = os.stat(path).st_ino
    synced = rotate_after_the_first_line(monkeypatch, path, make_path_unopenable=True)
    sink.faults([fault_event(1), fault_event(2), fault_event(3)])   # on 740108ec: TypeError (os.fdatasync(None))
    assert (tmp_path / "alerts.jsonl.1").read_text().count("\n") == 1
    assert synced == [first]
    stats = sink.stats()
    assert stats["dropped"] == {"fault": 2} and stats["written"] == 1
    assert "directory" in stats["problem"], stats
