"""A full state disk met first by the sign of life (alive.json) must not silence the checkpoint's own failure.

Both are written under StateWrites' `checkpoint` key; the problem was said once per reason, so when alive.json's
write failed first (a quiet spell before the next checkpoint, as on a loaded machine) the checkpoint.bin failure
with the same errno was never said — qa14's full-disk test waited for it in vain under load. Now each file's
failure is said once while the problem lasts, and said again after a success."""
from __future__ import annotations

import errno
import logging
from pathlib import Path

from agent.state_writes import StateWrites


def test_each_files_failure_is_said_once_while_it_lasts(caplog, tmp_path: Path):
    writes = StateWrites()
    full = OSError(errno.ENOSPC, "No space left on device")
    alive, checkpoint = tmp_path / "alive.json", tmp_path / "checkpoint.bin"
    with caplog.at_level(logging.ERROR, logger="stad"):
        for _ in range(3):
            writes.failure("checkpoint", alive, full, "take the silence for downtime")
            writes.failure("checkpoint", checkpoint, full, "resume from the previous one")
    said = [r.getMessage() for r in caplog.records if "cannot write the checkpoint" in r.getMessage()]
    assert len(said) == 2 and str(alive) in said[0] and str(checkpoint) in said[1], said
    assert writes.failed["checkpoint"] == 6 and writes.problem["checkpoint"] == str(full)
    writes.success("checkpoint", checkpoint)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="stad"):
        writes.failure("checkpoint", checkpoint, full, "resume from the previous one")
    assert [r.getMessage() for r in caplog.records if str(checkpoint) in r.getMessage()]
