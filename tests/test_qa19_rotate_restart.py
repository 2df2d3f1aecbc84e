"""logrotate, then a crash: the restart does not write the journal's last alert event again.

A restart delivers the last run's last alert event (the alert journal's) to a JSONL that lacks it.
It looked for it in the path's file only: after a rotation (logrotate's default renames the file
away and creates an empty one; `copytruncate` copies it away and empties it), the event was in the
rotated file, the new one was empty, and the restart wrote the event again — the same (alert_id,
seq) in two files, which a reader of both (a weekly import, `zcat alerts.jsonl.* | …`) counts twice.
Here a real agent writes alert events, the file is rotated the way logrotate does it, the agent is
killed (kill -9) and started again: the rotated file and the new one together hold each event once.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil

import pytest

from agent import config as agent_config
from agent.sinks import open_sink
from conftest import alert_event, fault_event, wait_for
from restart_helpers import AgentProcess, alert_lines, check_alert_stream, row, warm_with_an_alert, write_config


def jsonl_sink(path):
    cfg = agent_config.from_dict({"sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
                                  "sinks": [{"type": "jsonl", "path": str(path)}], "state_dir": str(path.parent)})
    return open_sink(cfg.sinks[0], cfg.sink_context())


def journal_key(state) -> tuple[str, int] | None:
    try:
        event = json.loads((state / "alert-journal.json").read_text())["event"]
    except (OSError, ValueError, KeyError):
        return None
    return event["alert_id"], event["seq"]


def rotate(path, mode: str) -> None:
    """What logrotate does to `path` (the README's snippet: `create`, the default in Debian's
    logrotate.conf; or `copytruncate`)."""
    if mode == "create":
        os.rename(path, path.with_name(path.name + ".1"))
        path.touch(mode=0o644)
    else:
        shutil.copy2(path, path.with_name(path.name + ".1"))
        with open(path, "r+b") as fh:
            fh.truncate(0)


@pytest.mark.parametrize("mode", ["create", "copytruncate"])
def test_the_journal_event_in_the_rotated_file_is_not_written_again(tmp_path, mode):
    config = write_config(tmp_path)
    state = tmp_path / "state"
    jsonl = tmp_path / "alerts.jsonl"
    agent = AgentProcess(tmp_path, config, "first")
    try:
        agent.ready()
        warm_with_an_alert(agent, state)
        # The rows judged (a STATUS line says so), the journal's last event is the file's last alert line.
        wait_for(lambda: any(int(m.group(1)) >= 198 for m in map(re.compile(r"ticks=(\d+)").search,
                                                                 agent.notify.lines("STATUS=")) if m),
                 "a STATUS line counting the 200 rows' ticks", 120, agent.proc)
        last = alert_lines(tmp_path)[-1]
        assert journal_key(state) == (last["alert_id"], last["seq"])
        before = alert_lines(tmp_path)
        rotate(jsonl, mode)
        agent.kill()
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    second = AgentProcess(tmp_path, config, "second")
    try:
        second.ready()
        second.feed([row(i) for i in range(200, 260)])      # the alert goes on, then ends
        assert second.finish() == 0
    finally:
        if second.proc.poll() is None:
            second.kill()
    rotated = [json.loads(line) for line in jsonl.with_name("alerts.jsonl.1").read_text().splitlines()]
    assert [(e["alert_id"], e["seq"]) for e in rotated if e.get("kind") == "alert"] == \
        [(e["alert_id"], e["seq"]) for e in before]
    after = alert_lines(tmp_path)
    keys = [(e["alert_id"], e["seq"]) for e in before + after]
    assert len(keys) == len(set(keys)), f"written in both files: {sorted(set(k for k in keys if keys.count(k) > 1))}"
    check_alert_stream(before + after)          # and nothing missing: seq without a gap, one end
    text = second.stderr()
    # said once (review15: twice on 018ff60, by recover and again by unjournaled at the same start)
    assert text.count("is in alerts.jsonl.1 (the file was rotated since it was written); not written again") == 1, \
        text[-3000:]
    assert "Traceback" not in text


def test_rotated_and_compressed_the_last_events_are_found_there_too(tmp_path):
    # logrotate without delaycompress: alerts.jsonl.1.gz. The restart's search reads it through.
    path = tmp_path / "alerts.jsonl"
    sink = jsonl_sink(path)
    sink.emit(alert_event("gw-7-a", 0, kind="new"))
    sink.emit(alert_event("gw-7-a", 1))
    sink.fault(fault_event(1))
    sink.fault(fault_event(2))
    sink.close()
    with open(path, "rb") as src, gzip.open(tmp_path / "alerts.jsonl.1.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    (tmp_path / "alerts.jsonl.2.gz").write_bytes(gzip.compress(b'{"kind":"alert","alert_id":"old","seq":0}\n'))
    os.utime(tmp_path / "alerts.jsonl.2.gz", (1, 1))        # an older rotation: not the one searched
    sink = jsonl_sink(path)
    sink.recover(alert_event("gw-7-a", 1))
    sink.recover_faults([fault_event(1), fault_event(2)])
    assert sink.unjournaled(alert_event("gw-7-a", 1)) is None
    sink.recover(alert_event("gw-7-a", 2))          # one the file never had: written
    sink.close()
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [2]


def test_an_alert_that_ended_with_a_fault_is_not_read_as_a_fault_line(tmp_path):
    # review26: an alert `end` (reason sensor_fault) carries {fault_id, sensor, kind}. Last in the file it was read
    # as the last fault line (KeyError on its seq-less reference, logged), and a restart wrote the journal's fault
    # events again.
    path = tmp_path / "alerts.jsonl"
    sink = jsonl_sink(path)
    sink.fault(fault_event(1))
    ended = alert_event("gw-7-a", 2, kind="end")
    ended.reason, ended.fault = "sensor_fault", {"fault_id": "gw-flow-1", "sensor": "flow", "kind": "missing"}
    sink.emit(ended)
    assert sink.last_faults(1) == [("gw-flow-1", 0)]
    sink.recover_faults([fault_event(1)])
    sink.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(x["event"], x.get("fault_id", x.get("alert_id"))) for x in lines] == [("fault", "gw-flow-1"), ("end", "gw-7-a")]
