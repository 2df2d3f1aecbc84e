"""qa36: state files a power cut, a bad disk or a hand cannot make usable, read at start — the agent says which file
and why, counts it, and starts (resuming what it still can), never a traceback that keeps it down.

Each probe damages one file of a real stopped run's state directory and starts a real agent on it:
- the checkpoint's header length (8 bytes of its prefix) turned huge: a start with models_dir and no
  active-bundle.json reads the header alone (agent/active_bundle.py `_checkpoint_meta` → checkpoint.read_meta), which
  asked for that many bytes at once: MemoryError (2**40) or OverflowError (past 2**63);
- a journal, its spare or active-bundle.json nested past the JSON parser's recursion limit (RecursionError, which no
  reader caught: only feedback messages from MQTT did);
- a journal's spare whose header's byte count is not a number an int can hold (1e999: OverflowError).
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from agent.checkpoint import CHECKPOINT_FILE, CheckpointRefused, EventJournal, read_meta
from agent.feedback import FeedbackConfig, FeedbackMemory
from agent.held_file import HEADER_BYTES
from agent.state_writes import STATE_READS
from mqtt_broker import free_port
from qa36_state_run import NESTED, copied, metrics, second_life
from qa36_state_run import stopped_run as stopped_run_in
from restart_helpers import T0


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    return stopped_run_in(tmp_path_factory.mktemp("qa36"))


def _huge_header_length(state: Path, length: int) -> str:
    """The checkpoint's header length (prefix bytes 12..20) set to `length`; active-bundle.json gone (a power cut
    lost it), so the start reads the checkpoint's header alone to find the bundle it was taken with."""
    path = state / CHECKPOINT_FILE
    data = bytearray(path.read_bytes())
    data[12:20] = struct.pack("<Q", length)
    path.write_bytes(bytes(data))
    (state / "active-bundle.json").unlink()
    return "checkpoint"


@pytest.mark.parametrize("length", [1 << 40, (1 << 64) - 1], ids=["1TiB", "past-2**63"])
def test_a_checkpoint_header_length_past_the_file_is_refused_in_one_line_at_a_start_that_lost_its_bundle_record(
        tmp_path, stopped_run, length):
    cfg = copied(stopped_run, tmp_path)
    size = (tmp_path / "state" / CHECKPOINT_FILE).stat().st_size
    _huge_header_length(tmp_path / "state", length)
    status, err = second_life(tmp_path, cfg)
    assert "Traceback" not in err, err[-3000:]
    assert "warming up (0/60 ticks)" in status
    assert re.search(rf"checkpoint \S+/state/checkpoint.bin refused: truncated: {size} of \d+ bytes; warming up",
                     err), err[-3000:]


def test_read_meta_refuses_a_header_longer_than_the_file_without_reading_it(tmp_path, stopped_run):
    path = tmp_path / CHECKPOINT_FILE
    data = bytearray((stopped_run / "state" / CHECKPOINT_FILE).read_bytes())
    header_len = struct.unpack_from("<Q", data, 12)[0]
    for length in (1 << 40, (1 << 63) + 5, len(data)):
        data[12:20] = struct.pack("<Q", length)
        path.write_bytes(bytes(data))
        with pytest.raises(CheckpointRefused, match=rf"truncated: a header of {length} bytes in a file of "
                                                    rf"{len(data)} bytes"):
            read_meta(path)
    data[12:20] = struct.pack("<Q", header_len)
    path.write_bytes(bytes(data))
    assert read_meta(path)["last_ts"] == T0 + 173


def _nested(name: str):
    def damage(state: Path) -> str:
        (state / name).write_text(NESTED)
        return name
    return damage


def _spare_bytes_not_an_int(state: Path) -> str:
    """The alert journal's spare with a header whose byte count no int holds, the journal itself gone."""
    spare = state / "alert-journal.json.spare"
    head = json.dumps({"format": "stad-alert-journal-spare/1", "n": 99, "bytes": 1e999, "crc32": 0}).encode()
    spare.write_bytes(head.ljust(HEADER_BYTES - 1) + b"\n" + b"{}")      # (as ReservedFile.put lays it out)
    return "alert-journal.json.spare"


@pytest.mark.parametrize("damage, said, counted", [
    (_nested("alert-journal.json"), r"alert journal \S+/alert-journal.json unreadable \(nested too deep",
     "alert_journal"),
    (_nested("fault-journal.json"), r"fault journal \S+/fault-journal.json unreadable \(nested too deep",
     "fault_journal"),
    # (a spare's header is its first 256 bytes: not deep enough to recurse, but past json_read.MAX_DEPTH)
    (_nested("alert-journal.json.spare"), r"alert journal \S+/alert-journal.json.spare unreadable \(nested too deep",
     "alert_journal"),
    (_spare_bytes_not_an_int, r"alert journal \S+/alert-journal.json.spare unreadable \(its header's bytes is "
                              r"Infinity, not a byte count within the file\)", "alert_journal"),
    (_nested("active-bundle.json"), r"active-bundle.json is unreadable \(not JSON: nested too deep",
     "active_bundle"),
], ids=["alert-journal", "fault-journal", "journal-spare-nested", "journal-spare-bytes", "active-bundle"])
def test_a_state_file_the_json_parser_cannot_take_is_said_counted_and_the_agent_resumes_the_rest(
        tmp_path, stopped_run, damage, said, counted):
    pytest.importorskip("prometheus_client")
    port = free_port()
    cfg = copied(stopped_run, tmp_path, metrics_port=port)
    name = damage(tmp_path / "state")
    pages = []
    status, err = second_life(tmp_path, cfg, lambda: pages.append(metrics(port)))
    found = {key: re.search(rf'stad_state_read_failures_total{{file="{key}"}} (\S+)', pages[0]) for key in STATE_READS}
    assert {k: m and float(m.group(1)) for k, m in found.items()} == \
        {k: 1.0 if k == counted else 0.0 for k in STATE_READS}, pages[0]
    assert "Traceback" not in err, err[-3000:]
    assert "resumed from checkpoint" in status, status
    assert re.search(said, err), err[-3000:]
    assert name in err


def test_the_journal_reader_says_a_nested_journal_and_takes_its_spare(tmp_path):
    journal = EventJournal(tmp_path)
    assert journal.reserve()
    journal.record({"event": "new", "seq": 0}, {"open": None})
    journal.spare.put({"n": 1}, (tmp_path / "alert-journal.json").read_bytes(), sync=True)
    journal.close()
    (tmp_path / "alert-journal.json").write_text(NESTED)
    again = EventJournal(tmp_path)
    assert again.read()["event"] == {"event": "new", "seq": 0}
    assert again.problem == f"{tmp_path / 'alert-journal.json'}: unreadable (nested too deep)"
    again.close()


def test_feedback_memory_nested_too_deep_is_a_load_problem_not_a_traceback(tmp_path):
    path = tmp_path / "feedback.json"
    path.write_text(NESTED)
    memory = FeedbackMemory(FeedbackConfig(), path)
    assert memory.load_problem is not None and memory.load_problem.startswith(f"{path}: ")
    assert "nested too deep" in memory.load_problem
    assert not memory.known and not memory.lifts


@pytest.mark.parametrize("sensors", [5, [["a"]], [{"name": "a"}]], ids=["a-number", "lists", "mappings"])
def test_a_checkpoint_whose_header_config_is_in_another_form_is_refused_as_corrupt_saying_so(tmp_path, sensors):
    """A header (its sha256 right: another release's form, a hand) whose `config.sensors` is no list of names: before,
    `mismatch` raised TypeError and the resume said `does not fit: TypeError: 'int' object is not iterable`."""
    from agent.checkpoint import CheckpointStore, encode
    (tmp_path / CHECKPOINT_FILE).write_bytes(encode({"config": {"sensors": sensors}, "created": 1.0}, {}))
    current = {"sensors": ["a", "b"], "tick_s": 1, "window_steps": 16, "topology": "t", "numpy_scorer": {},
               "threshold_method": "pot", "profile": {}, "bundle": None}
    for tier_apart in (False, True):
        with pytest.raises(CheckpointRefused, match=r"^corrupt: the configuration in its header is not in the expected "
                                                    r"form \(TypeError: "):
            CheckpointStore(tmp_path).load(current, tier_apart=tier_apart)
