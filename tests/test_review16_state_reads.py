"""Small state files read at start that cannot be used — cut short by a power cut, corrupt, of
another form, a directory in their place — are said (the file and why), counted (health
`state_reads`, Prometheus `stad_state_read_failures_total`) and replaced by a clean path; never a
traceback that keeps the agent from starting, never a silent loss.

active-bundle.json (agent/hotswap.py): before, an unreadable record was taken for a first start,
every bundle of models_dir for one there before it — a bundle delivered while the agent was down
was never judged (not swapped in, not refused, not said). Now the newest bundle is judged at the
first poll, the older ones are named as taken for decided.

feedback.json (agent/feedback.py): a file of valid JSON in another form (an object where a list
was) stopped the agent with an AttributeError; a NaN or negative lift in it was taken as is.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import urllib.request

import pytest

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, PUMP, demo_cfg, drive_hotswap as drive,
                      free_port, sim_rows, variant)

from agent.feedback import FeedbackConfig, FeedbackMemory


def close(agent) -> None:
    for sink in agent.sinks:
        sink.close()
    agent.state_lock.release()


DAMAGES = {
    "empty": lambda p: p.write_bytes(b""),                                  # a power cut before the data
    "cut short": lambda p: p.write_bytes(p.read_bytes()[:40]),
    "not JSON": lambda p: p.write_bytes(b"\x00\x00\x00\x00garbage"),
    "another form": lambda p: p.write_text(json.dumps({"version": 1, "path": None, "seen": [1, 2]})),
    "a directory": lambda p: (p.unlink(), p.mkdir()),
}


@NO_DEMO
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_bundle_dropped_while_the_agent_was_down_is_judged_though_active_bundle_json_is_unreadable(
        tmp_path, damage, caplog):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    from agent.service import Agent

    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(variant("demo-a", src=DEMO_BUNDLE, model_id="demo-a"), models / "a", copy_function=shutil.copy)
    cfg = demo_cfg(tmp_path / "state", warmup_ticks=WARMUP, bundle=str(DEMO_BUNDLE), models_dir=str(models),
                   shadow_ticks=3)
    close(Agent(cfg))           # the first start: "a" was there before it, recorded as such
    record = tmp_path / "state" / "active-bundle.json"
    assert list(json.loads(record.read_text())["seen"]) == [str(models / "a")]
    # down: a release is delivered (copied as `cp -r` does, with fresh mtimes: the cached variants' own mtimes
    # follow which test of the suite made them first), and the record is damaged
    shutil.copytree(variant("demo-b", src=DEMO_BUNDLE, model_id="demo-b"), models / "b", copy_function=shutil.copy)
    DAMAGES[damage](record)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    agent = Agent(cfg)
    try:
        line = next(r for r in caplog.records if r.name == "stad.hotswap" and "is unreadable" in r.getMessage())
        assert line.levelno == logging.ERROR
        msg = line.getMessage()
        assert msg.startswith(f"{record} is unreadable (") and f"newest bundle of models_dir, {models / 'b'}, is " \
            "judged at the first poll" in msg and "older one(s) there (a) are taken as decided" in msg, msg
        health = agent.health_snapshot()
        assert health["state_reads"]["active_bundle"].startswith(f"{record}: ")
        assert health["state_reads"]["feedback"] is None
        assert record.is_file() or damage == "a directory"      # written again, where it can be
        pipe, swap = agent.pipeline, agent.hotswap
        swap.poll_ticks = 2
        rows = sim_rows(cfg, days=0.2)
        drive(pipe, swap, rows, until=lambda: swap.status()["last"] is not None)
        last = swap.status()["last"]
        assert (last["path"], last["accepted"], last["model_id"]) == (str(models / "b"), True, "demo-b"), last
        assert pipe.chain.current.describe()["model_id"] == "demo-b"
        judged_at = swap.ticks
        drive(pipe, swap, rows[WARMUP + 60:], until=lambda: not swap.busy and swap.ticks > judged_at + 20, limit=200)
        assert (swap.status()["accepted"], swap.status()["rejected"]) == (1, 0)      # "a" is not judged
    finally:
        close(agent)


def test_an_unreadable_active_bundle_json_is_counted_on_the_metrics_endpoint(tmp_path):
    pytest.importorskip("prometheus_client")
    from agent.config import from_dict
    from agent.service import Agent

    state = tmp_path / "state"
    state.mkdir()
    (state / "active-bundle.json").write_text('{"version": 1, "pa')
    port = free_port()
    agent = Agent(from_dict({
        "sensors": PUMP, "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 200},
        "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "duration_s": 30}],
        "scoring": {"chain": ["numpy"], "models_dir": str(tmp_path / "models")},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(state), "metrics": {"listen": f"127.0.0.1:{port}"}}))
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
        assert 'stad_state_read_failures_total{file="active_bundle"} 1.0' in body, body
        assert 'stad_state_read_failures_total{file="feedback"} 0.0' in body
    finally:
        agent.metrics.close()
        close(agent)


FEEDBACK_DAMAGES = {
    "cut short": b'{"known": {"a": 1.2}, "lif',
    "an object where a list was": json.dumps({"known": [], "lifts": {}, "confirmed": [], "now": 0}).encode(),
    "a NaN lift": b'{"known": {"a": 1.2}, "lifts": {"a": [NaN, 0]}, "confirmed": [], "now": 5}',
    "a negative lift": json.dumps({"known": {"a": 1.2}, "lifts": {"a": [-3.0, 0]}, "confirmed": [],
                                   "now": 5}).encode(),
    "not UTF-8": b'{"known": {"\xff": 1}}',
}


@pytest.mark.parametrize("damage", list(FEEDBACK_DAMAGES))
def test_an_unusable_feedback_file_is_said_and_the_agent_starts_without_it(tmp_path, damage, caplog):
    path = tmp_path / "feedback.json"
    path.write_bytes(FEEDBACK_DAMAGES[damage])
    caplog.set_level(logging.INFO, logger="stad.feedback")
    memory = FeedbackMemory(FeedbackConfig(), path)
    assert memory.load_problem is not None and memory.load_problem.startswith(f"{path}: ")
    assert (dict(memory.known), dict(memory.lifts), memory.lift(10.0)) == ({}, {}, 0.0)
    assert math.isfinite(memory.now)
    [line] = [r for r in caplog.records if r.name == "stad.feedback"]
    assert line.levelno == logging.ERROR and f"{path} is unreadable" in line.getMessage()


def test_a_sound_feedback_file_is_read_back(tmp_path):
    path = tmp_path / "feedback.json"
    memory = FeedbackMemory(FeedbackConfig(), path)
    memory.seen("a", 100.0, over=1.5)
    memory.apply("a", "false_alarm")
    again = FeedbackMemory(FeedbackConfig(), path)
    assert again.load_problem is None and dict(again.lifts) == dict(memory.lifts) and again.now == 100.0


@NO_DEMO
def test_a_models_dir_that_cannot_be_listed_is_said_once_and_its_bundles_are_judged_when_it_can(tmp_path, caplog):
    # Before, a models_dir that could not be listed (a file or a broken mount in its place) looked empty: no
    # bundle delivered into it was ever seen, and nothing said why.
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    from conftest import hotswap_pipeline

    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3)
    rows = sim_rows(swap.cfg, days=0.2)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    drive(pipe, swap, rows, until=lambda: True)                 # warmed up
    models.rmdir()
    models.write_text("not a directory\n")
    polled = swap.ticks
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.ticks > polled + 10)    # five polls
    said = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.ERROR, [r.getMessage() for r in said]
    assert said[0].getMessage().startswith(f"models_dir {models} cannot be read (Not a directory)")
    assert swap.status()["models_dir_problem"] == "Not a directory"
    models.unlink()
    models.mkdir()
    shutil.copytree(variant("demo-b", src=DEMO_BUNDLE, model_id="demo-b"), models / "b", copy_function=shutil.copy)
    drive(pipe, swap, rows[WARMUP + 20:], until=lambda: swap.status()["last"] is not None)
    assert f"models_dir {models} is read again" in caplog.text
    assert swap.status()["models_dir_problem"] is None
    assert (swap.status()["last"]["path"], swap.status()["last"]["accepted"]) == (str(models / "b"), True)
