"""A power cut, not a kill -9: the durability order of the agent's state writes, checked on the real write paths (chaos9).

A kill -9 keeps every write the process made (the page cache survives it); a power cut keeps only what was synced:
a file's data, a rename and a new directory entry may each be lost. The suite's kill -9 tests cannot see a missing
fsync. Here the real agent (agent_turns: an Agent driven turn by turn, its MQTT sink's outbox on a broker that is not
there), the real refused-events file and a real Outbox run with the os calls recorded — os.open / write / fsync /
fdatasync / replace / close wrapped, each call passed on — and the order is asserted:

- a file renamed into place (checkpoint.bin, alive.json, the journals, active-bundle.json) had its data synced after
  its last write and before the rename, and its directory is synced right after the rename, before the same thread
  does anything else (the write is reported done only then);
- a file made in state_dir and written in place (the journals' spares, the outbox's held file, the refused-events
  file) has its directory synced once made: else a power cut may leave no such file at all;
- a line of the refused-events file is synced before the outbox lets the event go;
- SQLite's own syncs are not os calls: an Outbox.add() run under strace (skipped without it) must fdatasync the WAL
  after the event's frames and before add() returns — `outbox.sync: normal` wrote them to the page cache only, so a
  power cut lost up to a second of events the outbox had said were stored; a tick's fault events (add_many, the
  MQTT sink's `faults`) are synced once together, as the fault journal is; and end to end, `stad-agent run` under
  strace: every JSONL line of an event comes after that event's WAL frames were synced.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.active_bundle import write_record
from agent.refused_file import RefusedFile
from agent.service import Agent
from agent_turns import HOST, agent_config, close, host_clock, record, turn
from conftest import agent_env, free_port
from restart_helpers import row, write_config

REPO = Path(__file__).resolve().parents[1]
#: made in state_dir but never read back by a restart: the lock's pid is for a reader of the directory (the lock is
#: the flock on the directory itself, which a power cut ends anyway)
NOT_READ_AT_RESTART = {"agent.lock"}


class Calls:
    """The os calls on files under `root`, in order: (thread, op, path, other)."""

    def __init__(self, monkeypatch, root: Path):
        self.root = root.resolve()
        self.log: list[tuple[int, str, Path, object]] = []
        self.fds: dict[int, Path] = {}
        real = {name: getattr(os, name) for name in ("open", "write", "pwrite", "fsync", "fdatasync", "replace",
                                                      "rename", "close", "ftruncate")}

        def note(op, path, other=None):
            if path is not None and (path == self.root or self.root in path.parents):
                self.log.append((threading.get_ident(), op, path, other))

        def open_(path, flags, *a, **k):
            p = Path(os.path.abspath(path))
            existed = p.exists()
            fd = real["open"](path, flags, *a, **k)
            self.fds[fd] = p
            note("create" if flags & os.O_CREAT and not existed else "open", p)
            return fd

        def on_fd(op):
            def call(fd, *a, **k):
                result = real[op](fd, *a, **k)
                note({"pwrite": "write", "fdatasync": "sync", "fsync": "sync"}.get(op, op), self.fds.get(fd))
                return result
            return call

        def close_(fd):
            real["close"](fd)
            note("close", self.fds.pop(fd, None))

        def rename(op):
            def call(src, dst, *a, **k):
                result = real[op](src, dst, *a, **k)
                note("rename", Path(os.path.abspath(src)), Path(os.path.abspath(dst)))
                return result
            return call

        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(os, "close", close_)
        for op in ("write", "pwrite", "fsync", "fdatasync", "ftruncate"):
            monkeypatch.setattr(os, op, on_fd(op))
        for op in ("replace", "rename"):
            monkeypatch.setattr(os, op, rename(op))

    def renames(self) -> list[int]:
        return [i for i, e in enumerate(self.log) if e[1] == "rename"]


def order_problems(calls: Calls) -> list[str]:
    """Every break of the durability order in the log, in words."""
    problems = []
    log = calls.log
    for i in calls.renames():
        thread, _, src, dst = log[i]
        before = [e for e in log[:i] if e[0] == thread and e[2] == src]
        writes = [j for j, e in enumerate(before) if e[1] in ("write", "ftruncate")]
        if writes and not any(e[1] == "sync" for e in before[writes[-1]:]):
            problems.append(f"{dst.name}: renamed into place before its data was synced")
        after = [e for e in log[i + 1:] if e[0] == thread]
        synced = next((k for k, e in enumerate(after) if e[1] == "sync" and e[2] == dst.parent), None)
        if synced is None or any(e[2] != dst.parent for e in after[:synced]):
            problems.append(f"{dst.name}: its directory not synced right after the rename "
                            f"(next: {[(e[1], e[2].name) for e in after[:3]]})")
    renamed = {log[i][2] for i in calls.renames()}
    for i, (thread, op, path, _) in enumerate(log):
        if op != "create" or path in renamed or path.name in NOT_READ_AT_RESTART or path.is_dir():
            continue
        if not any(e[1] == "sync" and e[2] == path.parent for e in log[i + 1:] if e[0] == thread):
            problems.append(f"{path.name}: made in {path.parent.name}/ and its directory never synced after")
    return problems


def test_the_agents_state_writes_keep_the_durability_order(tmp_path, monkeypatch):
    # On 19acb1bf: the journals' spares and the outbox's held file are made at the start and their directory never
    # synced — a power cut in the minutes after a start can leave no spare, and a full disk then has nowhere to put
    # the journal. Every rename was already in order (atomic_write_by); asserted here so that it stays.
    state = tmp_path / "state"
    state.mkdir()
    calls = Calls(monkeypatch, state)
    mqtt = {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port(), "reconnect_min_s": 5,
                                       "reconnect_max_s": 5}}
    agent = Agent(agent_config(tmp_path, sinks=[mqtt]), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(agent, record(i, HOST, 8.0 if i >= 70 else 0.0))
        assert agent.pipeline.alerts.open is not None, "the step on `a` opened an alert (its journal written)"
        assert agent.save_checkpoint() is not None
        assert agent._mark_alive(), "alive.json written: nothing new since the checkpoint"
    finally:
        close(agent)
        for sink in agent.sinks:
            sink.close()
    write_record(state, {"bundle": "x"})
    refused = RefusedFile(state / "mqtt-refused.jsonl", max_bytes=400)
    for n in range(4):                  # the third line moves the file to .1
        assert refused.keep("stad/lab/gw/alerts", json.dumps({"n": n, "pad": "x" * 120}), "Not authorized", f"a #{n}")
    names = {e[2].name for e in calls.log} | {e[3].name for e in calls.log if e[1] == "rename"}
    assert {"checkpoint.bin", "alive.json", "alert-journal.json", "alert-journal.json.spare", "active-bundle.json",
            "mqtt-outbox.sqlite.held", "mqtt-refused.jsonl", "mqtt-refused.jsonl.1"} <= names, sorted(names)
    assert order_problems(calls) == []


def test_a_refused_event_is_synced_before_the_outbox_lets_it_go(tmp_path, monkeypatch):
    # On 19acb1bf the line went to the page cache only; the sink then deletes the event from the outbox, and the
    # outbox's next checkpoint syncs that delete: a power cut between could keep the delete and lose the line.
    calls = Calls(monkeypatch, tmp_path)
    refused = RefusedFile(tmp_path / "mqtt-refused.jsonl")
    for n in range(2):
        assert refused.keep("stad/lab/gw/alerts", "{}", "Not authorized", f"a #{n}")
        ops = [e[1] for e in calls.log if e[2].name == "mqtt-refused.jsonl"]
        assert ops[-2:] == ["sync", "close"] and ops.count("write") == 1, ops
        calls.log.clear()


STRACE_ADD = """
import os, sys
from agent.outbox import Outbox
box = Outbox(sys.argv[1], max_events=100, max_age_s=3600, sync=sys.argv[2])
for seq in range(3):
    os.write(2, b"ADD-BEGINS\\n")
    box.add("a-1", seq, "new" if seq == 0 else "update", '{"seq": %d}' % seq)
    os.write(2, b"ADD-RETURNED\\n")
os.write(2, b"ADD-BEGINS\\n")          # one tick's fault events, a station's 40 sensors
box.add_many([("f-%d" % i, 0, "fault", '{"sensor": %d}' % i, False) for i in range(40)])
os.write(2, b"ADD-RETURNED\\n")
box.close()
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (apt-get install strace)")
@pytest.mark.parametrize("sync", ["normal", "full"])
def test_an_event_the_outbox_stored_is_on_disk_when_add_returns(tmp_path, sync):
    # On 19acb1bf with `sync: normal` (the default) add() returned with its WAL frames in the page cache: SQLite's
    # synchronous=NORMAL syncs the WAL only at a checkpoint (the sink's worker, every second).
    trace = tmp_path / "trace"
    run = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=write,pwrite64,fsync,fdatasync", "-o", str(trace),
                          sys.executable, "-c", STRACE_ADD, str(tmp_path / "outbox.sqlite"), sync],
                         env=agent_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-3000:]
    lines = trace.read_text().splitlines()
    adds = []
    for i, line in enumerate(lines):
        if "ADD-BEGINS" in line:
            adds.append([])
        elif "ADD-RETURNED" in line:
            adds[-1].append("returned")
        elif adds and adds[-1][-1:] != ["returned"]:
            if m := re.search(r"(pwrite64|fdatasync|fsync)\(\d+<[^>]*?(-wal)?>", line):
                adds[-1].append(f"{m.group(1)}{m.group(2) or ''}")
    assert len(adds) == 4, lines[-20:]
    for steps in adds:
        frames = [k for k, s in enumerate(steps) if s == "pwrite64-wal"]
        assert frames, steps
        assert any(s in ("fdatasync-wal", "fsync-wal") for s in steps[frames[-1]:]), \
            f"add() returned before the WAL was synced: {steps}"
    # a tick's 40 fault events: one sync, as the fault journal's one write (40 would cost 40 disk syncs a tick)
    assert sum(s in ("fdatasync-wal", "fsync-wal") for s in adds[3]) == 1, adds[3]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (apt-get install strace)")
def test_the_running_agent_syncs_each_event_it_stored_before_it_tells_any_other_sink(tmp_path):
    # The product's claim end to end: `stad-agent run` (stdin: 230 rows, alerts opening, updating and ending; an MQTT
    # sink whose broker is not there, so every event waits in the outbox) under strace. Each event goes to the MQTT
    # sink's outbox first, then the JSONL: at every JSONL line the outbox's WAL has no frame written since its last
    # sync. On 19acb1bf (`normal`'s adds in the page cache) the first alert line came after unsynced frames.
    config = write_config(tmp_path, mqtt_port=free_port())
    (tmp_path / "rows").write_text("".join(row(i) for i in range(230)))
    trace = tmp_path / "trace"
    with (tmp_path / "rows").open() as rows:
        run = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=write,pwrite64,fsync,fdatasync", "-o",
                              str(trace), sys.executable, "-m", "agent", "run", "-c", str(config)],
                             stdin=rows, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=agent_env(), cwd=tmp_path, timeout=300)
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-3000:]
    unsynced: set[str] = set()      # threads that wrote WAL frames since its last sync (another thread's lazy
    lines = 0                       # commit — the sink's replay marks — is not this event's)
    for line in trace.read_text().splitlines():
        tid = line.split(maxsplit=1)[0]
        if re.search(r"pwrite64\(\d+<[^>]*mqtt-outbox\.sqlite-wal>", line):
            unsynced.add(tid)
        elif re.search(r"(fdatasync|fsync)\(\d+<[^>]*mqtt-outbox\.sqlite-wal>", line):
            unsynced.clear()        # (a sync is the file's, whichever thread asks)
        elif re.search(r"write\(\d+<[^>]*alerts\.jsonl>", line):
            lines += 1
            assert tid not in unsynced, f"JSONL line {lines} written while its thread's WAL frames were unsynced: " \
                                        f"{line[:200]}"
    events = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert lines == len(events) and sum(e["kind"] == "alert" for e in events) >= 4, events
