"""What a power cut can leave in state_dir, and what the next start makes of it (chaos9).

A power cut tears what a kill -9 never does: a first checkpoint's temporary file with no checkpoint beside it (its
rename not yet on disk), a checkpoint or alive.json cut to nothing, a journal emptied, the JSONL's last line cut
mid-JSON, an outbox's write-ahead log whose database file was lost. For each, a real agent (agent_turns: an Agent
driven turn by turn, its MQTT sink's outbox on a broker that is not there) raises an alert, stops, the file is torn
as a power cut tears it, and the next start must say what it found (log, health), keep what is good, and still hold
every alert event the outbox had stored.
"""
from __future__ import annotations

import json
import logging
import shutil

import pytest

from agent.outbox import Outbox
from agent.record import DayFiles
from agent.service import Agent
from agent_turns import HOST, agent_config, close, events, host_clock, record, turn
from conftest import free_port


def mqtt_sink() -> dict:
    return {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port(), "reconnect_min_s": 5,
                                       "reconnect_max_s": 5}}


def stop(agent: Agent) -> None:
    close(agent)
    for sink in agent.sinks:
        sink.close()


def first_life(tmp_path, sink: dict) -> list[tuple[str, int]]:
    """Rows 0–79, an alert open from row 70, a checkpoint and alive.json written; the (alert_id, seq) of its events."""
    agent = Agent(agent_config(tmp_path, sinks=[sink]), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(agent, record(i, HOST, 8.0 if i >= 70 else 0.0))
        assert agent.pipeline.alerts.open is not None
        assert agent.save_checkpoint() is not None and agent._mark_alive()
    finally:
        stop(agent)
    return [(e["alert_id"], e["seq"]) for e in events(tmp_path) if e["kind"] == "alert"]


def tear(tmp_path, case: str) -> None:
    state = tmp_path / "state"
    if case == "first checkpoint's temporary file alone":
        shutil.move(state / "checkpoint.bin", state / "checkpoint.bin.tmp")
    elif case == "checkpoint emptied":
        (state / "checkpoint.bin").write_bytes(b"")
    elif case == "alive.json cut":
        data = (state / "alive.json").read_bytes()
        (state / "alive.json").write_bytes(data[:len(data) // 2])
    elif case == "alert journal emptied":
        (state / "alert-journal.json").write_bytes(b"")
    elif case == "jsonl's last line cut":
        path = tmp_path / "alerts.jsonl"
        path.write_bytes(path.read_bytes()[:-40])
    elif case == "jsonl's tail zeros":        # a file system that grew the file before its data reached the disk
        path = tmp_path / "alerts.jsonl"
        path.write_bytes(path.read_bytes() + bytes(4096))


CASES = {
    # case: (the start's checkpoint state, a word its detail or the line says, the state read noted, a log line's words)
    "first checkpoint's temporary file alone": ("refused", "checkpoint.bin.tmp", None, "cut short"),
    "checkpoint emptied": ("refused", "truncated", None, "refused: truncated"),
    "alive.json cut": ("resumed", None, "alive", "alive.json not usable"),
    "alert journal emptied": ("resumed", None, "alert_journal", "unreadable"),
    "jsonl's last line cut": ("resumed", None, None, "removed an incomplete last line"),
    "jsonl's tail zeros": ("resumed", None, None, "removed an incomplete last line"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_start_after_a_power_cut_says_what_it_found_and_loses_no_stored_alert(tmp_path, case, caplog):
    # On 19acb1bf the first case started as if there were no checkpoint at all (`none`, nothing said).
    sink = mqtt_sink()
    stored = first_life(tmp_path, sink)
    assert len(stored) >= 2, stored
    tear(tmp_path, case)
    state, detail, read, said = CASES[case]
    caplog.set_level(logging.INFO)
    again = Agent(agent_config(tmp_path, sinks=[sink]), clock=host_clock(HOST + 92))
    try:
        assert again.checkpoint_start["state"] == state, again.checkpoint_start
        if detail:
            assert detail in again.checkpoint_start["detail"]
        noted = {k for k, v in again.state_reads.items() if v}
        assert noted == ({read} if read else set()), again.state_reads
        assert said in caplog.text
        for i in range(92, 100):
            turn(again, record(i, HOST, 8.0))
        box = next(s for s in again.sinks if s.TYPE == "mqtt").outbox
        waiting = {(e.alert_id, e.seq) for e in box.pending(limit=1000)}
        assert set(stored) <= waiting, (stored, waiting)
    finally:
        stop(again)
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    keys = [(e["alert_id"], e["seq"]) for e in lines if e["kind"] == "alert"]
    assert len(keys) == len(set(keys)), keys
    assert set(stored) <= set(keys), "the JSONL lost an event a restart could write again"


def test_an_outbox_log_whose_database_file_was_lost_is_read(tmp_path, caplog):
    # On 19acb1bf SQLite took the missing file for a new outbox and deleted its write-ahead log: the events stored
    # since the last checkpoint were gone without a word. (A file a power cut emptied was read already: review22.)
    path = tmp_path / "mqtt-outbox.sqlite"
    box = Outbox(path, max_events=100, max_age_s=3600)
    for seq in range(3):
        assert box.add("a-1", seq, "new" if seq == 0 else "update", json.dumps({"seq": seq})) is not None
    frozen = tmp_path / "frozen"        # the disk as the power cut left it: the log, not the database's name
    frozen.mkdir()
    shutil.copy(f"{path}-wal", frozen / "wal")
    box.close()
    for part in ("", "-wal", "-shm"):
        (tmp_path / f"mqtt-outbox.sqlite{part}").unlink(missing_ok=True)
    shutil.copy(frozen / "wal", f"{path}-wal")
    caplog.set_level(logging.INFO)
    again = Outbox(path, max_events=100, max_age_s=3600)
    try:
        assert [(e.alert_id, e.seq, e.replay) for e in again.pending()] == [("a-1", 0, True), ("a-1", 1, True),
                                                                              ("a-1", 2, True)]
        assert "is missing (cut short by a power cut?)" in caplog.text
    finally:
        again.close()


def test_a_recordings_line_a_power_cut_tore_is_cut_before_the_next_record(tmp_path, capsys):
    # On 19acb1bf `stad-agent record` appended the next record to the torn line: one line neither record could be
    # read from (the replay source rejects it), the first record of the new run lost with the torn one.
    day = 20_000 * 86400.0
    name = tmp_path / "2024-10-04.jsonl"
    whole = json.dumps({"ts": "2024-10-04T00:00:00.000Z", "values": {"a": 1.0}}) + "\n"
    torn = '{"ts": "2024-10-04T00:00:01.000Z", "val'
    name.write_text(whole + torn)
    files = DayFiles(tmp_path)
    try:
        files.write(day + 2, {"a": 3.0})
    finally:
        files.close()
    lines = name.read_text().splitlines()
    assert [json.loads(line)["values"] for line in lines] == [{"a": 1.0}, {"a": 3.0}]
    assert f"removed an incomplete last line ({len(torn)} bytes)" in capsys.readouterr().err
