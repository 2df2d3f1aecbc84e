"""What an operator meets running the agent (QA round 7), each found by using it as one would:

- `check-config --static` is for a config meant for another host, so it must not need that
  host's files (a warm-up recording, a bundle's trusted keys); on this host those files are
  reported together with every other machine problem, not one at a time;
- a node id, site or MQTT prefix that cannot go into a topic (or, empty, into a valid alert), and
  an MQTT source's topic filter a broker would refuse, are config errors with their key paths from
  `check-config`, not `run` exiting 1 "cannot start" or a source left blind;
- after a recorded warm-up (`warmup.replay`) the first screen says so, not "resumed from
  checkpoint (None)" and "warming up (0/N)" followed by nine identical 100 % lines;
- a stdout that goes away (a pipe whose reader left, a restarted journal) costs the terminal's
  lines only: counted and said once, every event still in the other sinks, no traceback per event.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import wait_until
from payloads import check_jsonl

REPO = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)


def write_csv(path: Path, start: dt.datetime, rows: int, seed: int, bump_at: int | None = None) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["timestamp,a,b,c"]
    for i in range(rows):
        a = np.sin(i / 30) + rng.normal(0, 0.1)
        b, c = 2 * a + rng.normal(0, 0.1), rng.normal(0, 1)
        if bump_at is not None and bump_at <= i < bump_at + 40:
            a, b = a + 5, b + 8
        ts = (start + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},{a:.4f},{b:.4f},{c:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp_path: Path, **top) -> Path:
    cfg = {"node": {"id": "qa", "site": "lab"}, "tick_s": 1, "sensors": ["a", "b", "c"],
           "sources": [{"type": "replay", "path": str(write_csv(tmp_path / "live.csv", T0, 900, 0, bump_at=700))}],
           "window": {"steps": 16}, "warmup": {"ticks": 400}, "scoring": {"chain": ["numpy"]},
           "sinks": [{"type": "terminal"}, {"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
           "state_dir": str(tmp_path / "state")}
    cfg.update(top)
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def agent(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=REPO, text=True, timeout=300, **kw)


def test_static_check_needs_no_file_of_this_host_and_the_full_check_reports_them_with_the_rest(tmp_path):
    path = config(tmp_path, warmup={"ticks": 400, "replay": "recorded/normal.csv"},
                  scoring={"chain": ["numpy"], "bundle_keys": ["keys/release.pub.pem"]})
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"][0]["path"] = "elsewhere.csv"         # a third file this host does not have
    path.write_text(yaml.safe_dump(cfg))

    static = agent("check-config", "--static", "-c", str(path), capture_output=True)
    assert static.returncode == 0, static.stderr
    full = agent("check-config", "-c", str(path), capture_output=True)
    assert full.returncode == 2 and "Traceback" not in full.stderr
    for key in ("sources[0].path", "warmup.replay", "scoring.bundle_keys[0]"):   # all of them, in one pass
        assert f"{path}: {key}: " in full.stderr, full.stderr
    assert "3 problem(s); nothing started" in full.stderr
    ran = agent("run", "-c", str(path), capture_output=True)
    assert ran.returncode == 2 and "warmup.replay" in ran.stderr and "Traceback" not in ran.stderr


def test_names_that_cannot_go_into_a_topic_or_an_alert_are_config_errors(tmp_path):
    path = config(tmp_path, node={"id": "gw/+1", "site": ""},
                  sinks=[{"type": "mqtt", "prefix": "stad/#", "broker": {"host": "127.0.0.1", "port": 9}}])
    for command in ("check-config", "run"):             # run refuses it the same way: exit 2, key paths
        res = agent(command, "-c", str(path), capture_output=True)
        assert res.returncode == 2, (command, res.stderr[-2000:])
        assert f"{path}: node.id: 'gw/+1' cannot be used in an MQTT topic (it contains '+', '/')" in res.stderr
        assert f"{path}: node.site: must not be empty" in res.stderr
        assert f"{path}: sinks[0].prefix: 'stad/#' cannot be used in an MQTT topic (it contains '#')" in res.stderr
        assert "cannot start" not in res.stderr and not (tmp_path / "state").exists()
    path = config(tmp_path, sinks=[{"type": "mqtt", "prefix": "stad/eu", "broker": {"host": "127.0.0.1", "port": 9}}])
    assert agent("check-config", "--static", "-c", str(path), capture_output=True).returncode == 0   # levels: fine


def test_an_mqtt_source_filter_the_broker_would_refuse_is_a_config_error(tmp_path):
    # paho refuses such a filter only when it subscribes, on its network thread after the connect:
    # that thread died with a traceback and the source stayed blind for its valid topics too.
    broker = {"host": "127.0.0.1", "port": 9}
    path = config(tmp_path, sources=[{"type": "mqtt", "broker": broker,
                                      "topics": {"plant/#/a": "a", "plant/x+": "b", "": "c", "plant/+/c/#": "c"}}])
    for command in ("check-config", "run"):
        res = agent(command, "-c", str(path), capture_output=True)
        assert res.returncode == 2, (command, res.stderr[-2000:])
        assert f"{path}: sources[0].topics.plant/#/a: 'plant/#/a': '#' must be a whole level, and the last" in res.stderr
        assert f"{path}: sources[0].topics.plant/x+: 'plant/x+': '+' must be a whole level" in res.stderr
        assert f"{path}: sources[0].topics.: an empty topic filter" in res.stderr
        assert "plant/+/c/#" not in res.stderr and "3 problem(s)" in res.stderr
    path = config(tmp_path, sources=[{"type": "mqtt", "broker": broker}])      # no topics: nothing to read
    res = agent("check-config", "--static", "-c", str(path), capture_output=True)
    assert res.returncode == 2 and f"{path}: sources[0].topics: at least one topic filter is required" in res.stderr


def test_the_first_screen_after_a_recorded_warm_up_says_so_once(tmp_path):
    write_csv(tmp_path / "recorded.csv", T0 - dt.timedelta(days=1), 500, seed=1)
    path = config(tmp_path, warmup={"ticks": 400, "replay": "recorded.csv"})
    res = agent("run", "-c", str(path), capture_output=True)
    assert res.returncode == 0, res.stderr[-3000:]
    err = res.stderr
    assert "warm-up: done on the recording recorded.csv; the first 16 live ticks refill the window" in err
    assert "resumed from checkpoint" not in err
    assert "first tick 2026-01-05T00:00:00.000Z: warm from the recording; the window refills for 15 more tick(s)" in err
    assert "warm-up 400/400" not in err and "warming up (" not in err
    assert "NEW " in res.stdout                            # the bump at row 700 is scored on live data

    # A recording shorter than the warm-up: live ticks top it up, one progress line per tenth reached.
    short = tmp_path / "short"
    short.mkdir()
    write_csv(short / "recorded.csv", T0 - dt.timedelta(days=1), 120, seed=1)     # 30 % of the warm-up
    res = agent("run", "-c", str(config(short, warmup={"ticks": 400, "replay": "recorded.csv"})), capture_output=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "warm-up: 400 ticks (7 min of data) before the first score (120 of them from the recording recorded.csv)" \
        in res.stderr
    tenths = [int(p) for p in re.findall(r"warm-up \d+/400 ticks \((\d+) %\)", res.stderr)]
    assert tenths == [30, 40, 50, 60, 70, 80, 90], tenths


def test_a_stdout_that_went_away_costs_the_terminal_lines_only_counted_and_said_once(tmp_path):
    path = config(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)                                  # nobody reads: every write to stdout is EPIPE
    try:
        res = agent("run", "-c", str(path), stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr, res.stderr[-3000:]
    assert res.stderr.count("terminal: cannot write to stdout (Broken pipe)") == 1
    lines = check_jsonl(tmp_path / "alerts.jsonl")       # every event, valid against the shipped schema
    events = [line for line in lines if line.get("kind") == "alert"]
    assert len(events) >= 2 and events[0]["event"] == "new" and events[-1]["event"] == "end"
    summary = res.stderr[res.stderr.index("summary:"):]
    kinds = [line.get("kind") for line in lines]
    assert "events dropped this run: terminal: " in summary, summary
    assert f"{kinds.count('alert')} alert lines not written" in summary, summary
    assert (f"{kinds.count('fault')} fault lines not written" in summary) == (kinds.count("fault") > 0), summary


def test_a_second_agent_on_the_same_state_dir_is_refused_and_a_killed_one_leaves_no_stale_lock(tmp_path):
    # Found with two agents on one config and a real broker: same client id, 69 session take-overs in
    # 8 s, each overwriting the other's checkpoint and sending the other's outbox.
    path = config(tmp_path, sources=[{"type": "stdin"}])
    first = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lock = tmp_path / "state" / "agent.lock"
        assert wait_until(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), proc=first), \
            first.stderr.read() if first.poll() is not None else "no lock"
        second = agent("run", "-c", str(path), capture_output=True, input="")
        assert second.returncode == 1, second.stderr[-2000:]
        assert (f"cannot start: [Errno 16] state_dir {tmp_path / 'state'} is in use by another stad-agent "
                f"(pid {first.pid})") in second.stderr
        assert "sink:" not in second.stderr                  # refused before it opened anything
        first.kill()                                          # kill -9: the kernel drops the lock
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=60)
        first.stdin.close()
        first.stderr.close()
    third = agent("run", "-c", str(path), capture_output=True, input="")
    assert third.returncode == 0 and "stopped: input ended" in third.stderr, third.stderr[-2000:]


def test_a_lock_file_the_agent_cannot_write_still_guards_the_state_dir(tmp_path):
    """The lock is the directory's, not agent.lock's: a lock file the second agent cannot open for
    writing (here a directory in its place; in the field one left 0600 by a manual root run) used to
    turn the guard off with a warning while the other agent held it."""
    from agent.statelock import StateDirInUse, StateLock
    (tmp_path / "agent.lock").mkdir()
    first = StateLock(tmp_path)
    try:
        with pytest.raises(StateDirInUse, match=r"in use by another stad-agent \(pid \?\)"):
            StateLock(tmp_path)
    finally:
        first.release()
    StateLock(tmp_path).release()                    # free again once the holder lets go


def test_sighup_with_nothing_to_reload_says_so(tmp_path):
    """A numpy-only chain has no bundle: SIGHUP was dropped without a word (an operator may expect it
    to re-read the config, as many daemons do); then it was said only once warm-up had ended."""
    path = config(tmp_path, sources=[{"type": "stdin"}], warmup={"ticks": 40},
                  window={"steps": 16, "max_clock_skew_s": 0})     # a fixed 2026-01-05 clock
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    reader.start()
    rng = np.random.default_rng(0)
    sent = 0

    def send(n: int) -> None:
        nonlocal sent
        for _ in range(n):
            a = float(rng.normal())
            proc.stdin.write(json.dumps({"ts": T0.timestamp() + sent, "a": a, "b": 2 * a, "c": float(rng.normal())})
                             + "\n")
            sent += 1
        proc.stdin.flush()
    said = "SIGHUP: the scoring chain is numpy only, no model bundle to reload (SIGHUP reloads the model " \
           "bundle only: a config change needs a restart)"
    try:
        send(5)
        assert wait_until(lambda: any("first tick" in line for line in err), proc=proc), "".join(err)[-2000:]
        proc.send_signal(signal.SIGHUP)         # during warm-up (40 ticks): answered on the next tick, not a day later
        assert wait_until(lambda: (sent < 30 and send(1)) or any(said in line for line in err), proc=proc), \
            "".join(err)[-2000:]
        assert not any("warm-up done" in line for line in err)
        send(60)
        assert wait_until(lambda: any("warm-up done" in line for line in err), proc=proc), "".join(err)[-2000:]
        proc.send_signal(signal.SIGHUP)         # and after it
        assert wait_until(lambda: send(1) or sum(said in line for line in err) == 2, proc=proc), \
            "".join(err)[-2000:]
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    reader.join(timeout=60)
    assert sum(said in line for line in err) == 2


def test_a_checkpoint_that_cannot_be_written_leaves_no_partial_file_taking_room(tmp_path):
    """With the file-size limit of a full disk (`ulimit -f`), the failed write's temporary file
    stayed beside the old checkpoint (1.7 MB at 256 sensors), taking room the outbox needs."""
    (tmp_path / "checkpoint.bin").write_bytes(b"old")
    code = ("import resource, sys; import numpy as np; from pathlib import Path; "
            "from agent.checkpoint import atomic_write; "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
            f"path = Path({str(tmp_path / 'checkpoint.bin')!r})\n"
            "try:\n    atomic_write(path, b'header', np.zeros(10000))\n"
            "except OSError as exc:\n    print(exc.errno)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "27", res.stderr[-2000:]      # EFBIG, not a crash
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.bin"]
    assert (tmp_path / "checkpoint.bin").read_bytes() == b"old"                       # the old one intact


def test_feedback_state_is_saved_like_the_other_state_files(tmp_path):
    """feedback.json was written with write_text + rename: no fsync (a power cut could leave it
    empty, and every lift learned from operators is then ignored at start) and, when the write
    failed, a partial feedback.tmp left behind. It now goes through checkpoint.atomic_write."""
    code = ("import resource; from pathlib import Path; from agent.feedback import FeedbackConfig, FeedbackMemory\n"
            f"mem = FeedbackMemory(FeedbackConfig(), Path({str(tmp_path / 'feedback.json')!r}))\n"
            "mem.seen('gw-a', 100.0, 3.0)\n"
            "print(mem.apply('gw-a', 'false_alarm'))\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (20, 20))\n"
            "mem.seen('gw-b', 200.0, 8.0 / 3.0); mem.apply('gw-b', 'false_alarm')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "feedback: cannot save" in res.stderr and "File too large" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback.json"]            # no partial file
    assert "gw-a" in (tmp_path / "feedback.json").read_text()                          # the last good save
