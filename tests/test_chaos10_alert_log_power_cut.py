"""alerts.jsonl through a power cut (chaos10): every line on disk before the agent goes on, and what a cut leaves at the
end repaired at the next start, so a `jq` reader never meets half a line and the log holds every event.

Many operators read the JSONL as *the* record (their log shipper tails it). On 3ed21786 its lines were never synced:
a power cut lost the last seconds of them (the outbox and the journals kept the events), and a last line whose data
had not reached the disk but whose newline had (zeros, or a line's first page lost) was kept at the start — a line no
reader can parse, the next ones appended after it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from agent.sinks.base import SinkContext
from agent.sinks.jsonl import JsonlConfig, JsonlSink
from conftest import agent_env, alert_event, fault_event, free_port, wait_for
from restart_helpers import AgentProcess, finished, killed_after_tick_173, row, write_config

STRACE = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (apt-get install strace)")


@STRACE
def test_every_jsonl_line_is_synced_before_the_agent_journals_its_next_event(tmp_path):
    # `stad-agent run` (stdin: 230 rows, alerts opening, updating and ending; a sensor silent from row 150, so fault
    # events too) under strace: after every write to alerts.jsonl the file is fdatasync'd before the agent writes an
    # alert or fault journal again (the next event) and before it exits. A power cut then loses at most the line being
    # written — the journal's last event, written again at the next start. On 3ed21786: no sync of alerts.jsonl at all.
    config = write_config(tmp_path, mqtt_port=free_port())
    rows = [row(i) if i < 150 else json.dumps({k: v for k, v in json.loads(row(i)).items() if k != "c"}) + "\n"
            for i in range(230)]
    (tmp_path / "rows").write_text("".join(rows))
    trace = tmp_path / "trace"
    with (tmp_path / "rows").open() as feed:
        run = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=write,fsync,fdatasync", "-o", str(trace),
                              sys.executable, "-m", "agent", "run", "-c", str(config)],
                             stdin=feed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=agent_env(), cwd=tmp_path, timeout=300)
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-3000:]
    unsynced = 0            # lines written to alerts.jsonl since its last sync
    lines = syncs = 0
    for line in trace.read_text().splitlines():
        if re.search(r"\bwrite\(\d+<[^>]*/alerts\.jsonl>", line):
            unsynced += 1
            lines += 1
        elif re.search(r"(fdatasync|fsync)\(\d+<[^>]*/alerts\.jsonl>", line):
            unsynced, syncs = 0, syncs + 1
        elif re.search(r"\bwrite\(\d+<[^>]*/(alert|fault)-journal\.json[^>]*>", line):
            assert unsynced == 0, f"{unsynced} JSONL line(s) not synced when the next event was journaled: {line[:200]}"
    assert unsynced == 0, f"{unsynced} JSONL line(s) not synced at the exit"
    events = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    faults = sum(e["event"].startswith("fault") for e in events)
    assert lines == len(events) and faults >= 1 and len(events) - faults >= 4, events
    assert 0 < syncs <= lines, (syncs, lines)


@STRACE
def test_a_ticks_fault_lines_take_one_sync(tmp_path):
    # A station's power cut: 40 sensors' fault events in one tick, one disk sync (as the outbox's add_many and the
    # fault journal's one write), not 40. The real sink, its real file, under strace.
    script = """
import sys
from pathlib import Path
from agent.faults.events import FaultEvent
from agent.sinks.base import SinkContext
from agent.sinks.jsonl import JsonlConfig, JsonlSink
sink = JsonlSink(JsonlConfig(path=sys.argv[1]), SinkContext(node_id="gw", site="lab", state_dir=sys.argv[2]))
events = [FaultEvent(fault_id=f"f-{i}", seq=0, event="fault", node="gw", site="lab", sensor=f"s{i}", group="k1",
                     kind="missing", ts=1767600000.0, start=1767600000.0, end=None, evidence={"summary": "no data"})
          for i in range(40)]
sink.faults(events)
sink.close()
"""
    trace = tmp_path / "trace"
    run = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=write,fsync,fdatasync", "-o", str(trace),
                          sys.executable, "-c", script, str(tmp_path / "alerts.jsonl"), str(tmp_path)],
                         env=agent_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-3000:]
    calls = [m.group(1) for m in re.finditer(r"\b(write|fdatasync|fsync)\(\d+<[^>]*/alerts\.jsonl>",
                                             trace.read_text())]
    assert calls == ["write"] * 40 + ["fdatasync"], calls
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 40


def zeros(line: bytes) -> bytes:
    """The line's data never reached the disk, the file's size (and so its newline's place) did: zeros."""
    return bytes(len(line) - 1) + b"\n"


def first_page_lost(line: bytes) -> bytes:
    """The line spans two pages, the first never written: its start zeros, its end (and newline) on disk."""
    return bytes(len(line) // 2) + line[len(line) // 2:]


@pytest.mark.parametrize("tear", [zeros, first_page_lost])
def test_a_last_line_a_power_cut_tore_is_removed_at_the_start_and_its_event_written_again(tmp_path, tear):
    # Life 1 raises an alert (rows 170–) and is killed (-9: the power cut) once it is checkpointed through tick 173; its last line is then torn as a cut tears
    # it. Life 2 must say it, remove it, write the alert journal's last event again, and leave a file each line of
    # which parses. On 3ed21786 the torn line was kept (it ends with a newline): json.loads and jq choke on it.
    config = write_config(tmp_path)
    killed_after_tick_173(tmp_path, config)      # no event after its last line: its last is the journal's
    path = tmp_path / "alerts.jsonl"
    data = path.read_bytes()
    body, last = data[:data.rstrip(b"\n").rfind(b"\n") + 1], data[data.rstrip(b"\n").rfind(b"\n") + 1:]
    cut_event = json.loads(last)
    journaled = json.loads((tmp_path / "state" / "alert-journal.json").read_text())["event"]
    assert (journaled["alert_id"], journaled["seq"]) == (cut_event["alert_id"], cut_event["seq"])
    path.write_bytes(body + tear(last))
    second = AgentProcess(tmp_path, config, "run2")
    try:
        second.ready()
    finally:
        err = finished(second)
    assert re.search(r"alerts\.jsonl: removed 1 unreadable line\(s\) \(\d+ bytes: zeros or cut JSON", err), err[-3000:]
    assert f"writing alert event {cut_event['alert_id']} #{cut_event['seq']}" in err, err[-3000:]
    text = path.read_bytes()
    assert b"\0" not in text
    lines = [json.loads(x) for x in text.decode().splitlines()]
    keys = [(e["alert_id"], e["seq"]) for e in lines if e.get("kind") == "alert"]
    assert keys.count((cut_event["alert_id"], cut_event["seq"])) == 1, keys
    assert len(keys) == len(set(keys)), keys
    if shutil.which("jq"):          # what an operator's reader does with it
        jq = subprocess.run(["jq", "-c", ".alert_id", str(path)], capture_output=True, text=True, timeout=60)
        assert jq.returncode == 0, jq.stderr


def test_a_jsonl_sink_on_a_fifo_is_written_and_not_synced(tmp_path, caplog):
    # A FIFO with a reader is a sink's file check-config accepts (a pipe to a consumer): no disk to sync, and
    # fdatasync on it fails (EINVAL) — never tried, nothing said, the line reaches the reader.
    fifo = tmp_path / "alerts.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sink = JsonlSink(JsonlConfig(path=str(fifo)), SinkContext(node_id="gw-7", site="lab", state_dir=str(tmp_path)))
        sink.emit(alert_event("a-1", 0, "new"))
        got = wait_for(lambda: os.read(reader, 65536), "the line in the FIFO")
        sink.close()
    finally:
        os.close(reader)
    assert json.loads(got)["alert_id"] == "a-1"
    assert sink.stats()["problem"] is None and "cannot sync" not in caplog.text


def test_readable_lines_after_a_torn_one_are_kept(tmp_path, caplog):
    # A tick's fault lines share one sync: a cut may tear one of them and keep the ones after it (their pages reached
    # the disk first). The torn one goes; the ones after it stay, in order (the fault journal has the torn event).
    sink = JsonlSink(JsonlConfig(path=str(tmp_path / "alerts.jsonl")),
                     SinkContext(node_id="gw-7", site="lab", state_dir=str(tmp_path)))
    sink.faults([fault_event(i) for i in range(3)])
    sink.close()
    path = tmp_path / "alerts.jsonl"
    first, second, third = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(first + zeros(second) + third)
    caplog.set_level("WARNING")
    again = JsonlSink(JsonlConfig(path=str(path)), SinkContext(node_id="gw-7", site="lab", state_dir=str(tmp_path)))
    again.close()
    assert path.read_bytes() == first + third
    assert f"removed 1 unreadable line(s) ({len(second)} bytes" in caplog.text and \
           "the 1 readable line(s) after them kept" in caplog.text, caplog.text
