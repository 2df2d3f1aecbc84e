"""A `warmup.replay` shorter than the recent ticks is topped up before the model tier is prepared (clock24).

swap6 prepared a model tier left waiting after an upgrade onto another `scoring.profile` (the checkpoint's ring of
recent ticks not full) on the recording at once — but only a recording at least as long as the ring (a warm-up's
length). A shorter one was dropped (`warmup.replay not used (ValueError: 200 ticks read, fewer than the 300 …)`) and
the fallback scored until a whole ring of live ticks had come: 300 ticks here, 1,800 (30 min) on user13's gateway,
though a fresh start on the same recording warms up on it and only the rest live. Now it is topped up as a fresh
start's warm-up is: with the checkpoint's recent ticks when they make up the rest (prepared before the first live
tick), else with the live ticks as they come. Real parts: the demo bundle made by convert/, a real checkpoint written
by an agent with the profile off (the release before skab32), a recording written as a CSV file, the Agent's loop."""
from __future__ import annotations

import logging
import shutil

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import NO_DEMO, demo_cfg  # noqa: E402
from upgrade_replay import WARMUP, upgraded_cfg, write_recording  # noqa: E402

from agent.checkpoint import CHECKPOINT_FILE  # noqa: E402
from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO
SHORT = WARMUP - 100         # the recording: 200 ticks of the 300 a warm-up (and the ring) holds


@pytest.fixture(scope="module")
def profile_off_state(tmp_path_factory):
    """A state_dir whose checkpoint an agent with the profile off wrote: its ring of recent ticks is empty."""
    state = tmp_path_factory.mktemp("old")
    first = Agent(demo_cfg(state, warmup_ticks=WARMUP), max_ticks=WARMUP + 40)
    first.run()
    assert (state / CHECKPOINT_FILE).exists() and first.pipeline.warm
    return state


def _copy(state, tmp_path):
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    return copy


def _close(agent: Agent) -> None:
    for sink in agent.sinks:
        sink.close()


def _switches(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "scorer tier numpy -> tflite" in r.getMessage()]


def test_a_short_recording_is_topped_up_with_live_ticks(profile_off_state, tmp_path, caplog):
    recording = tmp_path / "normal.csv"
    write_recording(recording, demo_cfg(tmp_path / "sim"), SHORT)
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(upgraded_cfg(_copy(profile_off_state, tmp_path), recording), max_ticks=140)
    try:
        pipe = agent.pipeline
        detail = agent.checkpoint_start["detail"]
        # On the code before: "until 300 more ticks … warmup.replay not used (ValueError: 200 ticks read, …)".
        assert pipe.tier_waits == "scoring.profile changed" and pipe.chain.tier == "numpy", detail
        assert f"warmup.replay holds {SHORT} recorded ticks" in detail and "until 100 more ticks" in detail, detail
        assert "not used" not in detail, detail
        agent.run()
        assert pipe.tier_waits is None and pipe.tier_replay is None and pipe.chain.tier == "tflite"
        tier = pipe.chain.current
        assert tier.profile.fitted
        assert pipe.thresholds["tflite"].value != pytest.approx(tier.manifest.threshold["value"])   # the plant's own
        [switch] = _switches(caplog)
        assert f"prepared on {SHORT} ticks of warmup.replay and 100 recent ticks" in switch, switch
        # (it took over after the 100 live ticks the switch names, the rest of a warm-up: not a whole ring of 300)
    finally:
        _close(agent)


def test_set_warmup_replay_and_restart_tops_a_short_one_up_with_the_checkpoints_recent_ticks(
        profile_off_state, tmp_path, caplog):
    """README's advice after an upgrade (`set warmup.replay and restart`) with a recording shorter than the ring:
    the checkpoint's recent ticks (120 live ones kept while the tier waited) make up the rest at once."""
    state = _copy(profile_off_state, tmp_path)
    waiting = Agent(upgraded_cfg(state, None), max_ticks=120)      # upgraded without warmup.replay: it waits
    try:
        assert waiting.pipeline.tier_waits is not None
        waiting.run()
        assert waiting.pipeline.tier_waits is not None and len(waiting.pipeline.recent) == 120
    finally:
        _close(waiting)
    recording = tmp_path / "normal.csv"
    write_recording(recording, demo_cfg(tmp_path / "sim"), SHORT)
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(upgraded_cfg(state, recording), max_ticks=5)
    try:
        pipe = agent.pipeline
        detail = agent.checkpoint_start["detail"]
        # On the code before: the recording dropped, the fallback on until 180 more live ticks.
        assert pipe.tier_waits is None and pipe.chain.tier == "tflite", detail
        assert f"warmup.replay ({SHORT} recorded ticks, topped up with the checkpoint's 120 recent ticks)" in detail
        assert pipe.chain.current.profile.fitted
        [switch] = _switches(caplog)
        assert f"prepared on {SHORT} ticks of warmup.replay and 120 recent ticks" in switch, switch
        agent.run()
        assert pipe.chain.tier == "tflite"
    finally:
        _close(agent)
