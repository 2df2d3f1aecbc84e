"""qa36: the checkpoint written in pieces (perf67, perf68: its header made and written ~8K characters at a time, the
prefix pwritten into its room, the header hashed back from the file, then the arrays) on a state disk that fills up
while it is written — a real 2 MiB tmpfs (tests/small_fs.py; skipped without root) left with 64 KiB of room.

Whether the write stops inside the header's pieces or inside the arrays, the previous checkpoint must stay whole and
load, the temporary file must go (its blocks are the room the outbox and the journals need), and the write must raise
the disk's own error (ENOSPC) for the agent to say and count; then a real agent on a disk that fills between two
checkpoints says it once, names what a restart resumes from, and its next life resumes that checkpoint. The same
with a write cut short by a file-size limit (RLIMIT_FSIZE in a child process: the crossing write is short, the next
fails EFBIG), which needs no root.
"""
from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.checkpoint import CHECKPOINT_FILE, CheckpointStore, decode
from restart_helpers import T0, AgentProcess, row, wait_for, write_config
from small_fs import small_fs  # noqa: F401 — small_fs: a pytest fixture

ROOM = 64 * 1024
REPO = Path(__file__).resolve().parents[1]


def leave_room(fs, room: int) -> None:
    """Fill the file system, then give back `room` bytes (whole pages of the filler)."""
    fs.fill()
    size = fs.filler.stat().st_size
    os.truncate(fs.filler, size - room)


def header_heavy() -> dict:
    """A state whose JSON header alone is ~5x ROOM (a list of 20 000 floats none of which narrows)."""
    rng = np.random.default_rng(1)
    return {"rows": [float(x) for x in rng.random(20_000)], "w": np.arange(4.0)}


def array_heavy() -> dict:
    """A state whose header is small and whose body is ~6x ROOM (one float64 array that does not narrow)."""
    return {"rows": [1.0, 2.0], "w": np.random.default_rng(2).random(50_000)}


@pytest.mark.parametrize("state, where", [(header_heavy, "header"), (array_heavy, "arrays")], ids=["header", "arrays"])
def test_a_disk_full_inside_a_piece_leaves_the_previous_checkpoint_whole_and_no_temporary_file(small_fs, state, where):
    store = CheckpointStore(small_fs.path)
    before = store.save({"config": {"n": 1}}, {"rows": [0.5], "w": np.arange(3.0)})
    old = store.path.read_bytes()
    leave_room(small_fs, ROOM)
    big = state()
    with pytest.raises(OSError) as raised:
        store.save({"config": {"n": 2}}, big)
    assert raised.value.errno == errno.ENOSPC
    assert store.path.read_bytes() == old and before["bytes"] == len(old)
    meta, back = decode(store.path.read_bytes())
    assert meta["config"] == {"n": 1} and back["rows"] == [0.5] and np.array_equal(back["w"], np.arange(3.0))
    assert sorted(p.name for p in small_fs.path.iterdir()) == [CHECKPOINT_FILE, "filler"]
    # where the disk ran out: inside the header's pieces, or past them inside the arrays
    header_text = len(str(big["rows"]))
    assert (header_text > 2 * ROOM) if where == "header" else (header_text < ROOM // 4)
    small_fs.free()
    store.save({"config": {"n": 2}}, big)          # room again: the same state is written whole
    meta, back = decode(store.path.read_bytes())
    assert meta["config"] == {"n": 2} and back["rows"] == big["rows"] and np.array_equal(back["w"], big["w"])


def test_an_agent_whose_disk_fills_between_checkpoints_says_it_once_and_its_restart_resumes_the_previous(
        tmp_path, small_fs):
    cfg = write_config(tmp_path)
    path = small_fs.path / CHECKPOINT_FILE
    agent = AgentProcess(tmp_path, cfg, "run1")
    try:
        assert "warming up (0/60 ticks)" in agent.ready()
        agent.feed(row(i) for i in range(120))

        def checkpointed_through_117():
            try:
                return decode(path.read_bytes())[0]["last_ts"] == T0 + 117
            except (OSError, ValueError):
                return False
        wait_for(checkpointed_through_117, "a checkpoint after tick 117", proc=agent.proc)
        leave_room(small_fs, 8192)    # the checkpoint is ~32 KB: its write runs out inside it (or at its first
        #                               block, when an alert journal's write took the room first)
        agent.feed(row(i) for i in range(120, 200))
        said = agent.wait_log(r"cannot write the checkpoint \S+/state/checkpoint.bin: \[Errno 28\] No space left on "
                              r"device; a restart will resume from the previous one \(written \d+ s ago\)")
        assert said
        agent.kill()
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    err = agent.stderr()
    assert err.count("cannot write the checkpoint") == 1, err[-3000:]
    assert "Traceback" not in err
    assert not (small_fs.path / (CHECKPOINT_FILE + ".tmp")).exists()
    assert decode(path.read_bytes())[0]["last_ts"] == T0 + 117
    small_fs.free()
    again = AgentProcess(tmp_path, cfg, "run2")
    try:
        assert "resumed from checkpoint" in again.ready()
        again.feed(row(i) for i in range(200, 230))
        assert again.finish() == 0
    finally:
        if again.proc.poll() is None:
            again.kill()
    assert re.search(r"checkpoint \S+ loaded \(taken \d+ s ago, last tick 2026-01-05T08:01:57.000Z", again.stderr())


CHILD = r'''
import errno, resource, signal, sys
import numpy as np
from agent.checkpoint import _PREFIX, CheckpointStore, decode, encode
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # past the limit a write fails (EFBIG) instead of a kill
store = CheckpointStore(sys.argv[1])
store.save({"config": {"n": 1}}, {"rows": [0.5], "w": np.arange(3.0)})
old = store.path.read_bytes()
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
state = {"rows": [float(x) for x in np.random.default_rng(1).random(20_000)],
         "w": np.random.default_rng(2).random(50_000)}
whole = encode({"config": {"n": 2}, "created": 0.0}, state)
header_end = _PREFIX.size + _PREFIX.unpack_from(whole)[2]
where = "header" if limit < header_end else "arrays" if limit < len(whole) - 32 else "past them"
try:
    store.save({"config": {"n": 2}}, state)
except OSError as exc:
    assert exc.errno == errno.EFBIG, exc
else:
    raise SystemExit("written past the file-size limit")
assert store.path.read_bytes() == old and decode(old)[0]["config"] == {"n": 1}
print("kept", where)
'''


@pytest.mark.parametrize("limit, where", [(20_000, "header"), (600_000, "arrays")],
                         ids=["inside-header", "inside-arrays"])
def test_a_write_cut_short_by_a_file_size_limit_leaves_the_previous_checkpoint(tmp_path, limit, where):
    """RLIMIT_FSIZE in a child process: the write that crosses it is short (`_write_all` writes the rest, which fails:
    EFBIG), inside the ~380 KB header's pieces or past them inside the 400 KB array."""
    res = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(limit)], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert res.returncode == 0 and res.stdout.split() == ["kept", where], (res.stdout, res.stderr[-3000:])
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]
