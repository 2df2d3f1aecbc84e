"""An upgrade onto another `scoring.profile` prepares the model tier on `warmup.replay` at once (swap6).

user13 (docs/measured/first-week.md, defect 2): upgrading a gateway whose checkpoint was written with the
profile off resumed everything but the model tier (swap5), which waited for the recent ticks to fill with live
ones: 30 minutes on the numpy fallback, which opened a second alert 29 s after the upgrade — although the config
names `warmup.replay`, the recorded normal history a fresh start fits on. Now the model tier is prepared on that
recording (the same read and aligner as a fresh start, the same fit as a hot swap's preparation) before the
first live tick, and the log and health's `checkpoint_at_start.detail` say so. Real parts: the demo bundle made
by convert/, a real checkpoint written by a first Agent, a recording written as a CSV file, the Agent."""
from __future__ import annotations

import logging
import shutil

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import NO_DEMO, demo_cfg  # noqa: E402
from upgrade_replay import WARMUP, profile_off_state, upgraded_cfg, write_recording  # noqa: E402

from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO


def _close(agent: Agent) -> None:
    for sink in agent.sinks:
        sink.close()


@pytest.fixture(scope="module")
def old_state(tmp_path_factory):
    """A state_dir whose checkpoint an agent with the profile off wrote (the release before skab32)."""
    return profile_off_state(tmp_path_factory.mktemp("old"))


def _copy(old_state, tmp_path):
    """The old state_dir, copied for one test (each restart changes it)."""
    state = tmp_path / "state"
    shutil.copytree(old_state, state)
    return state


def test_an_upgrade_onto_the_profile_prepares_the_model_tier_on_warmup_replay_at_once(old_state, tmp_path, caplog):
    state = _copy(old_state, tmp_path)
    recording = tmp_path / "normal.csv"
    write_recording(recording, demo_cfg(tmp_path / "sim"), WARMUP + 60)
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(upgraded_cfg(state, recording), max_ticks=5)
    try:
        start = agent.checkpoint_start
        assert start["state"] == "resumed", start
        assert "scoring.profile changed" in start["detail"] and "warmup.replay" in start["detail"], start
        pipe = agent.pipeline
        assert pipe.tier_waits is None and pipe.chain.tier == "tflite"
        tier = pipe.chain.current
        assert tier.profile.fitted
        assert pipe.thresholds["tflite"].value != pytest.approx(tier.manifest.threshold["value"])   # the plant's own
        [line] = [r.getMessage() for r in caplog.records if "loaded (" in r.getMessage()]
        assert "warmup.replay" in line
        agent.run()
        assert pipe.chain.tier == "tflite" and pipe.ticks > 0
        # One tier line, INFO: the tier never waited for a tick (user13 saw two WARNINGs, tflite -> numpy -> tflite,
        # and asked whether the gateway was degraded).
        [switch] = [r for r in caplog.records if r.getMessage().startswith("scorer tier ")]
        assert switch.levelname == "INFO", switch.getMessage()
        # said as what happened (user15): `tflite -> tflite` read as a switch that was none
        assert switch.getMessage().startswith("scorer tier tflite: prepared on ") and \
            "warmup.replay after a restart onto scoring.profile changed" in switch.getMessage()
    finally:
        _close(agent)


def test_without_warmup_replay_the_model_tier_still_waits_for_the_live_ticks(old_state, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(upgraded_cfg(_copy(old_state, tmp_path), None), max_ticks=5)
    try:
        assert agent.pipeline.tier_waits == "scoring.profile changed" and agent.pipeline.chain.tier == "numpy"
        assert f"until {WARMUP} more ticks" in agent.checkpoint_start["detail"]
        agent.run()
        # The wait is planned: one INFO line once a tick is scored so, never a WARNING (that is for a fault).
        [switch] = [r for r in caplog.records if r.getMessage().startswith("scorer tier ")]
        assert switch.levelname == "INFO", switch.getMessage()
        assert switch.getMessage() == (f"scorer tier tflite -> numpy (planned, not a fault): model tier prepared "
                                       f"after {WARMUP} more ticks (a restart onto scoring.profile changed)")
    finally:
        _close(agent)


def test_a_recording_that_cannot_be_read_leaves_the_tier_waiting_and_says_why(old_state, tmp_path):
    recording = tmp_path / "normal.csv"
    write_recording(recording, demo_cfg(tmp_path / "sim"), WARMUP + 60)
    cfg = upgraded_cfg(_copy(old_state, tmp_path), recording)
    recording.write_text("timestamp,nothing\n1,2\n")        # replaced after the config was read: no sensor in it
    agent = Agent(cfg, max_ticks=5)
    try:
        assert agent.checkpoint_start["state"] == "resumed"
        assert agent.pipeline.tier_waits == "scoring.profile changed" and agent.pipeline.chain.tier == "numpy"
        assert "warmup.replay" in agent.checkpoint_start["detail"]
        assert f"until {WARMUP} more ticks" in agent.checkpoint_start["detail"]
    finally:
        _close(agent)
