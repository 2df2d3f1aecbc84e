"""A restart onto another bundle or another `scoring.profile` resumes instead of warming up again (swap5).

skab32 made the model tier's profile the default beside a bundle, so an agent upgraded and restarted got its
checkpoint refused ("scoring.profile changed") and was blind for a whole warm-up; so was one restarted onto a new
bundle named in its config. Those keys shape the model tier's state alone: now everything else resumes (the
fallback, its threshold, the window, an open alert, the recent ticks) and the model tier is prepared as a hot-
swapped bundle is — on the checkpoint's recent ticks when the ring is full, else the fallback scores until the
ring has filled with live ticks. A change that concerns the whole state (the sensors) still warms up. Real parts:
the demo bundle shipped until corridor24 (conftest's DEMO_BUNDLE_1001: its tier, profile off, has an alert open
at row 900 of the demo's rows; the bundle shipped since raises none there) and a copy of it under another
model_id, real checkpoint files, the Pipeline, the Agent."""
from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE_1001 as BUNDLE, NO_DEMO, demo_cfg, sim_rows, variant  # noqa: E402
from swap_life import fingerprint_of, restart_onto  # noqa: E402

from agent.checkpoint import CHECKPOINT_FILE, CheckpointRefused, CheckpointStore  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO
WARMUP = 300
PROFILE = {"enabled": True, "min_ticks": 100}
OPEN_AT = 900       # the demo's rows (seed 7): BUNDLE's alert opens at row 898 and ends at 929


def _cfg(state_dir, **scoring):
    """The demo's config on BUNDLE (or the bundle `scoring` names), warm-up WARMUP ticks."""
    return demo_cfg(state_dir, warmup_ticks=WARMUP, **{"bundle": str(BUNDLE), **scoring})


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.5)


def _run(pipe: Pipeline, rows) -> list:
    return [pipe.step(r) for r in rows]


def _until_open(tmp_path, rows, **scoring) -> Pipeline:
    cfg = _cfg(tmp_path / "first", **scoring)
    first = Pipeline(cfg)
    _run(first, rows[:OPEN_AT])
    assert first.alerts.active and first.chain.tier == "tflite"
    return first


def _same_fallback(restored: Pipeline, first: Pipeline) -> None:
    assert restored.warm and restored.ticks == first.ticks
    assert restored.thresholds["numpy"].value == first.thresholds["numpy"].value
    assert np.array_equal(restored.window.values, first.window.values, equal_nan=True)
    assert restored.alerts.open.alert_id == first.alerts.open.alert_id


def test_a_profile_off_checkpoint_restored_with_the_profile_on_resumes_and_the_tier_waits_for_the_ring(tmp_path, rows):
    first = _until_open(tmp_path, rows)                 # the demo as shipped: profile pinned off, no ring kept
    assert first.recent is None
    cfg = _cfg(tmp_path / "second", profile=PROFILE)
    restored, why = restart_onto(first, cfg, tmp_path / "ckpt")
    with pytest.raises(CheckpointRefused, match="scoring.profile changed"):     # refused whole, as before, but apart
        CheckpointStore(tmp_path / "ckpt").load(fingerprint_of(restored))
    assert why == "scoring.profile changed"
    _same_fallback(restored, first)
    assert len(restored.recent) == 0 and restored.recent.capacity == WARMUP
    assert restored.tier_waits == why and f"until {WARMUP} more ticks" in restored.tier_note
    out = _run(restored, rows[OPEN_AT:OPEN_AT + WARMUP + 5])
    # no warm-up: scored from the first tick, by the fallback until the ring is full, then by the prepared tier
    assert not any(r.warming for r in out)
    assert [r.tier for r in out[:WARMUP - 1]] == ["numpy"] * (WARMUP - 1)
    assert [r.tier for r in out[WARMUP:]] == ["tflite"] * 5
    tier = restored.chain.current
    assert tier.profile.fitted and restored.tier_waits is None
    assert restored.thresholds["tflite"].value != pytest.approx(tier.manifest.threshold["value"])   # the plant's own
    # the alert open at the stop went on under its id and ended
    events = [(a.alert_id, a.event) for r in out for a in r.alerts]
    assert events and all(i == first.alerts.open.alert_id for i, _ in events) and events[-1][1] == "end"
    assert not any(e == "new" for _, e in events)


def test_a_restart_while_the_tier_waits_waits_on_for_the_rest_of_the_ring(tmp_path, rows):
    first = _until_open(tmp_path, rows)
    cfg = _cfg(tmp_path / "second", profile=PROFILE)
    waiting, why = restart_onto(first, cfg, tmp_path / "ckpt")
    _run(waiting, rows[OPEN_AT:OPEN_AT + 100])
    again, same = restart_onto(waiting, cfg, tmp_path / "ckpt2")      # the same config: it fits whole
    assert same is None and again.tier_waits == why and len(again.recent) == 100
    assert f"until {WARMUP - 100} more ticks" in again.tier_note and again.chain.tier == "numpy"
    out = _run(again, rows[OPEN_AT + 100:OPEN_AT + WARMUP + 5])
    assert [r.tier for r in out[:WARMUP - 101]] == ["numpy"] * (WARMUP - 101)
    assert {r.tier for r in out[WARMUP - 100:]} == {"tflite"} and again.chain.current.profile.fitted


@pytest.mark.parametrize("profile", ["on both sides", "off before"])
def test_a_checkpoint_with_bundle_a_restored_with_bundle_b(tmp_path, rows, profile):
    b = variant("demo-1001-b", src=BUNDLE, model_id="demo-b")
    first = _until_open(tmp_path, rows, **({"profile": PROFILE} if profile == "on both sides" else {}))
    cfg = _cfg(tmp_path / "second", bundle=str(b), profile=PROFILE)
    restored, why = restart_onto(first, cfg, tmp_path / "ckpt")
    assert why == ("" if profile == "on both sides" else "scoring.profile changed; ") + \
        f"the model differs: checkpoint taken with demo-corridor ({BUNDLE}), the agent starts with demo-b ({b})"
    _same_fallback(restored, first)
    out = _run(restored, rows[OPEN_AT:OPEN_AT + WARMUP + 5])
    assert not any(r.warming for r in out)
    if profile == "on both sides":      # the checkpoint's ring is full: prepared on it, the new tier scores at once
        assert restored.tier_waits is None and "prepared again on the checkpoint's 300 recent ticks" in restored.tier_note
        assert {r.tier for r in out} == {"tflite"}
    else:
        assert [r.tier for r in out[:WARMUP - 1]] == ["numpy"] * (WARMUP - 1)
        assert {r.tier for r in out[WARMUP:]} == {"tflite"}
    assert restored.chain.current.describe()["model_id"] == "demo-b" and restored.chain.current.profile.fitted
    events = [(a.alert_id, a.event) for r in out for a in r.alerts]
    assert events and all(i == first.alerts.open.alert_id for i, _ in events)


def test_a_restart_with_the_profile_turned_off_scores_with_the_tier_at_once(tmp_path, rows):
    first = _until_open(tmp_path, rows, profile=PROFILE)
    cfg = _cfg(tmp_path / "second")
    restored, why = restart_onto(first, cfg, tmp_path / "ckpt")
    assert why == "scoring.profile changed" and restored.recent is None
    _same_fallback(restored, first)
    tier = restored.chain.current
    assert tier.TYPE == "tflite" and not tier.profile.fitted
    assert restored.thresholds["tflite"].value == pytest.approx(tier.manifest.threshold["value"])   # the bundle's


def test_an_unchanged_config_restores_the_model_tier_as_before(tmp_path, rows):
    first = _until_open(tmp_path, rows, profile=PROFILE)
    restored, why = restart_onto(first, first.cfg, tmp_path / "ckpt")
    assert why is None and restored.tier_note is None
    assert {k: t.value for k, t in restored.thresholds.items()} == {k: t.value for k, t in first.thresholds.items()}
    a, b = _run(first, rows[OPEN_AT:OPEN_AT + 20]), _run(restored, rows[OPEN_AT:OPEN_AT + 20])
    assert [(r.tier, r.score) for r in a] == [(r.tier, r.score) for r in b]


def test_another_sensor_set_still_warms_up(tmp_path, rows):
    first = _until_open(tmp_path, rows)
    store = CheckpointStore(tmp_path / "ckpt")
    (tmp_path / "ckpt").mkdir()
    saved = fingerprint_of(first)
    store.save({"config": {**saved, "sensors": saved["sensors"][:-1]}}, {"pipeline": first.state_dict()})
    with pytest.raises(CheckpointRefused, match="sensors differ"):
        store.load(fingerprint_of(Pipeline(_cfg(tmp_path / "second", profile=PROFILE))),
                   tier_apart=True)


def test_an_agent_restarted_with_the_profile_on_says_what_resumed_and_what_waits(tmp_path, caplog):
    off = _cfg(tmp_path)
    first = Agent(off, max_ticks=WARMUP + 40)
    first.run()
    assert (tmp_path / CHECKPOINT_FILE).exists() and first.pipeline.warm
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(_cfg(tmp_path, profile=PROFILE), max_ticks=5)
    try:
        start = agent.checkpoint_start
        assert start["state"] == "resumed", start
        assert (f"scoring.profile changed: the fallback (numpy) scores until {WARMUP} more ticks (2.5 h) have filled "
                "the recent ticks") in start["detail"], start
        assert agent.pipeline.warm and agent.pipeline.chain.tier == "numpy"
        health = agent.pipeline.snapshot()
        assert "a restart onto scoring.profile changed" in health["last_tier_switch"]["reason"]
        [line] = [r.getMessage() for r in caplog.records if "loaded (" in r.getMessage()]
        assert "scoring.profile changed" in line and "scoring from the first tick" in line
    finally:
        for sink in agent.sinks:
            sink.close()
