"""A real read-only file system for tests: a read-only bind mount in a user and mount namespace of our own
(`unshare -rm`), so the kernel answers EROFS as on a gateway whose SD card was remounted read-only; `ro_capable`
skips, saying why, where this host allows no such namespace (review41, review42)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env


def userns_ro_bind_works(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    (tmp / "probe").mkdir()
    res = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind probe probe && mount -o remount,bind,ro probe "
                          "&& ! touch probe/x"], cwd=tmp, capture_output=True, timeout=60)
    return res.returncode == 0


@pytest.fixture
def ro_capable(tmp_path):
    if not userns_ro_bind_works(tmp_path):
        pytest.skip("no unprivileged user+mount namespace here: no real read-only bind mount to test on")


class ReadOnlyRun:
    """`agent run -c cfg` started in a namespace of its own with `read_only` bind-mounted read-only, made writable
    again when the test touches `flag` (the disk remounted read-write): `proc` the shell around it, `pid_file` the
    agent's pid, `err_file` its stderr."""

    def __init__(self, tmp_path: Path, read_only: Path, cfg: Path, env: dict, stdout: str | None = None):
        self.flag, self.pid_file, self.err_file = tmp_path / "rw-now", tmp_path / "agent.pid", tmp_path / "agent.err"
        out = f' >"{stdout}"' if stdout else ""
        script = (f'mount --bind "{read_only}" "{read_only}" && mount -o remount,bind,ro "{read_only}" || exit 90\n'
                  f'"{sys.executable}" -m agent run -c "{cfg}"{out} 2>"{self.err_file}" & agent=$!\n'
                  f'echo $agent > "{self.pid_file}"\n'
                  f'while [ ! -e "{self.flag}" ] && kill -0 $agent 2>/dev/null; do sleep 0.05; done\n'
                  f'mount -o remount,bind,rw "{read_only}"\n'
                  'wait $agent\n')
        self.proc = subprocess.Popen(["unshare", "-rm", "sh", "-c", script], cwd=tmp_path, stdin=subprocess.DEVNULL,
                                     env=env)


def stop_in_namespace(proc: subprocess.Popen, pid_file: Path) -> None:
    """A test's cleanup of an agent run inside `unshare -rm … sh -c`: the agent itself by the pid it wrote (killing
    the shell around it leaves the agent running), then the shell."""
    if pid_file.exists() and proc.poll() is None:
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def waiting_rows(outbox: Path) -> set[tuple[str, int]]:
    """The (alert_id, seq) of the events an outbox file holds, read without writing (mode=ro: a file on the read-only
    mount too, and no journal or lock left beside it)."""
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    try:
        return set(db.execute("SELECT alert_id, seq FROM events"))
    finally:
        db.close()


def published(collector, replayed: bool | None = None) -> set[tuple[str, int]]:
    """The (alert_id or fault_id, seq) of the alert and fault events a Collector got (only those `replayed` or not,
    when given): what the degraded agent sent, for review42's, qa48's and qa49's tests."""
    out = set()
    for m in list(collector.messages):
        if m.topic.endswith(("/alerts", "/faults")):
            p = json.loads(m.payload)
            key = p.get("alert_id") or p.get("fault_id")
            if key is not None and "seq" in p and (replayed is None or bool(p.get("replayed")) == replayed):
                out.add((key, p["seq"]))
    return out


def healths(collector) -> list[dict]:
    """The health payloads a Collector got, in order."""
    return [json.loads(m.payload) for m in list(collector.messages) if m.topic.endswith("/health")]


def first_life_waiting(tmp_path: Path, cfg: Path, env: dict) -> set[tuple[str, int]]:
    """A first life of `agent run -c cfg` for 400 ticks, its broker away: the events it leaves waiting in the outbox
    of `tmp_path/state`, which the degraded life then reads from the read-only file."""
    first = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg), "--max-ticks", "400"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, env=agent_env(**env))
    assert first.returncode == 0, first.stderr[-3000:]
    return waiting_rows(tmp_path / "state" / "mqtt-outbox.sqlite")


def stdin_config(tmp: Path, state_dir: Path, jsonl: Path) -> Path:
    """tmp/agent.yaml: a stdin source, `state_dir` and a jsonl sink at `jsonl` — what review41's and qa49's tests put
    on a read-only mount, one or the other."""
    cfg = tmp / "agent.yaml"
    cfg.write_text(f"""
node: {{id: gw-ro, site: plant-a}}
sensors: [pressure, flow]
sources: [{{type: stdin}}]
state_dir: {state_dir}
sinks: [{{type: jsonl, path: {jsonl}}}]
""")
    return cfg
