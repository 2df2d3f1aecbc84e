"""A real agent's state directory to damage (qa36): a stopped run with every state file a start reads, and a second
life on it that must start. Shared by tests/test_qa36_hostile_state.py and tests/test_qa36_alive_nested.py."""
from __future__ import annotations

import urllib.request
from pathlib import Path

from restart_helpers import AgentProcess, alert_lines, copy_run, killed_after_tick_173, row, wait_for, write_config

NESTED = "[" * 100_000          # deeper than any JSON parser here recurses
MODELS = {"scoring": {"chain": ["numpy"], "models_dir": "models"}}


def stopped_run(tmp: Path) -> Path:
    """An agent with a models_dir (empty) fed rows 0..175 (an alert opens at ~171), checkpointed after tick 173,
    then kill -9 in `tmp`: every state file a start reads is there (checkpoint, both journals, their spares,
    alive.json, active-bundle.json)."""
    (tmp / "models").mkdir()
    killed_after_tick_173(tmp, write_config(tmp, **MODELS))
    assert [e["event"] for e in alert_lines(tmp)] == ["new"]
    assert (tmp / "state" / "active-bundle.json").exists()
    return tmp


def copied(src: Path, dst: Path, metrics_port: int | None = None) -> Path:
    """The stopped run at `src` copied to `dst` (its empty models_dir too); dst's config — serving Prometheus on
    `metrics_port` when given (no key of the checkpoint's fingerprint)."""
    cfg = copy_run(src, dst)
    (dst / "models").mkdir(exist_ok=True)
    if metrics_port is not None:
        cfg = write_config(dst, metrics={"listen": f"127.0.0.1:{metrics_port}"}, **MODELS)
    return cfg


def metrics(port: int) -> str:
    """The agent's /metrics page."""
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()


def second_life(tmp: Path, cfg: Path, while_up=None) -> tuple[str, str]:
    """(READY's status, stderr) of a life on the damaged state, fed rows 176..299 and stopped by its input's end;
    `while_up()` called once it is ready."""
    agent = AgentProcess(tmp, cfg, "run2")
    try:
        wait_for(lambda: agent.notify.lines("READY=1") or agent.proc.poll() is not None, "READY=1 or an exit", 90)
        assert agent.proc.poll() is None, f"the agent did not start: {agent.stderr()[-3000:]}"
        status = agent.ready()
        if while_up is not None:
            while_up()
        agent.feed(row(i) for i in range(176, 300))
        assert agent.finish() == 0, agent.stderr()[-3000:]
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    return status, agent.stderr()


