"""qa23: active-bundle.json missing while models_dir is configured and a checkpoint exists was lost
(deleted, or not written): the hot swap writes one at its first start with a models_dir. Before, it was
logged (only where the checkpoint named a models_dir bundle) but not counted, and taken for a first
start: every bundle of models_dir for one decided on, a release delivered while the agent was down
never judged. Now it is counted the way an unreadable record is — health `state_reads.active_bundle`,
Prometheus `stad_state_read_failures_total{file="active_bundle"}` — and handled the same way. A first
start (no checkpoint) is not counted. Real agents, real checkpoint files, a real metrics endpoint."""
from __future__ import annotations

import logging
import shutil
import urllib.request

import pytest

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, REPO, demo_cfg, demo_dict, free_port, variant

from agent.active_bundle import MISSING
from agent.config import from_dict
from swap_life import checkpointed_life, close


def _cfg(tmp_path, port: int | None = None):
    """The demo config on the numpy fallback alone, watching models_dir; a metrics endpoint on `port`."""
    d = demo_dict(tmp_path / "state", chain=["numpy"], models_dir=str(tmp_path / "models"))
    d["warmup"]["ticks"] = WARMUP
    if port is not None:
        d["metrics"] = {"listen": f"127.0.0.1:{port}"}
    return from_dict(d, base_dir=str(REPO))


@NO_DEMO
def test_a_missing_record_beside_a_checkpoint_is_counted_like_an_unreadable_one(tmp_path, caplog):
    pytest.importorskip("prometheus_client")
    from agent.service import Agent
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(variant("demo-a", src=DEMO_BUNDLE, model_id="demo-a"), models / "a", copy_function=shutil.copy)
    checkpointed_life(_cfg(tmp_path))
    record = tmp_path / "state" / "active-bundle.json"
    assert record.is_file()
    record.unlink()
    # down: a release is delivered (fresh mtimes, as `cp -r` gives)
    shutil.copytree(variant("demo-b", src=DEMO_BUNDLE, model_id="demo-b"), models / "b", copy_function=shutil.copy)
    caplog.set_level(logging.INFO, logger="stad")
    port = free_port()
    agent = Agent(_cfg(tmp_path, port))
    try:
        assert agent.health_snapshot()["state_reads"] == {"active_bundle": f"{record}: {MISSING}", "feedback": None,
                                                               "alert_journal": None, "fault_journal": None, "alive": None}
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
        assert 'stad_state_read_failures_total{file="active_bundle"} 1.0' in body, body
        [line] = [r for r in caplog.records if r.name == "stad.hotswap" and r.getMessage().startswith(str(record))]
        assert line.levelno == logging.ERROR
        assert line.getMessage().startswith(f"{record} is missing: the bundle a hot swap made active"), line.getMessage()
        # handled as an unreadable record is: the release delivered meanwhile is judged, not taken for decided
        assert f"the newest bundle of models_dir, {models / 'b'}, is judged at the first poll" in line.getMessage()
        assert agent.checkpoint_start["state"] == "resumed"         # the checkpoint itself is unaffected
        assert record.is_file()                                     # written again
    finally:
        close(agent)


@NO_DEMO
def test_a_first_start_and_a_start_with_the_record_kept_are_not_counted(tmp_path):
    pytest.importorskip("prometheus_client")
    from agent.service import Agent
    (tmp_path / "models").mkdir()
    port = free_port()
    agent = Agent(_cfg(tmp_path, port))          # a first start: no checkpoint, no record
    try:
        assert agent.health_snapshot()["state_reads"]["active_bundle"] is None
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
        assert 'stad_state_read_failures_total{file="active_bundle"} 0.0' in body, body
    finally:
        close(agent)
    shutil.rmtree(tmp_path / "state")
    checkpointed_life(_cfg(tmp_path))
    agent = Agent(_cfg(tmp_path))                # the record kept beside the checkpoint
    try:
        assert agent.health_snapshot()["state_reads"]["active_bundle"] is None
        assert agent.checkpoint_start["state"] == "resumed"
    finally:
        close(agent)


@NO_DEMO
def test_without_models_dir_a_missing_record_is_the_rule(tmp_path):
    """No hot swap runs, none is written: a checkpoint without a record is not a loss — nor at the first
    start with a models_dir over that checkpoint (its header says it was taken without one)."""
    from agent.service import Agent
    cfg = demo_cfg(tmp_path / "state", warmup_ticks=WARMUP, chain=["numpy"])
    checkpointed_life(cfg)
    assert not (tmp_path / "state" / "active-bundle.json").exists()
    agent = Agent(cfg)
    try:
        assert agent.health_snapshot()["state_reads"]["active_bundle"] is None
        assert agent.checkpoint_start["state"] == "resumed"
    finally:
        close(agent)
    (tmp_path / "models").mkdir()
    agent = Agent(_cfg(tmp_path))               # models_dir configured since
    try:
        assert agent.health_snapshot()["state_reads"]["active_bundle"] is None
        assert agent.checkpoint_start["state"] == "resumed"
    finally:
        close(agent)
