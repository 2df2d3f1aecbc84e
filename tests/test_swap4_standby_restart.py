"""A standby's kept warm-up survives a restart (swap4).

swap3 made a standby tier (a model tier below the top one, loaded when the chain first steps down to it) keep
the warm-up's ticks when it would have learned from them, to be fitted and taught on them when it loads; they
were not checkpointed, so after a restart it was fitted on the recent ticks (perf50's way) or started its
threshold cold. Now they are in the checkpoint until the standby loads; a checkpoint without them (written
before) loads as before; ticks that do not fit are refused on their own, said, and the rest restored; the
shipped demo (nothing learns from warm-up) writes nothing more.

Real parts: the demo bundle with both runtimes, the Agent writing and reading its checkpoint file, checkpoint
files written and read by agent/checkpoint.py, tflite broken as tests/test_perf50_standby.py does it.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, sim_rows  # noqa: E402
from standby_faults import WARMUP, judged_after_a_fault, learning_cfg  # noqa: E402

from agent.bundle import Expectation  # noqa: E402
from agent.checkpoint import CHECKPOINT_FILE, CheckpointStore, decode, encode, fingerprint  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.scorers import load_tiers  # noqa: E402
from agent.scorers.standby import StandbyTier  # noqa: E402
from agent.service import Agent  # noqa: E402
from agent.topology import adjacency  # noqa: E402

pytestmark = NO_DEMO
PROFILE = {"enabled": True, "min_ticks": 100}


def restarted(pipe: Pipeline, state_dir) -> Pipeline:
    """A new pipeline (its tiers built afresh: the lower ones on standby) restored from the checkpoint file
    `pipe` writes into `state_dir`."""
    cfg = pipe.cfg
    state_dir.mkdir(exist_ok=True)
    store = CheckpointStore(state_dir)
    fp = fingerprint(cfg, adjacency(pipe.specs, cfg.topology), pipe.bundle_identity())
    store.save({"config": fp}, {"pipeline": pipe.state_dict()})
    new = Pipeline(cfg)
    new.restore(store.load(fp)[1]["pipeline"])
    return new


def test_a_standby_restarted_before_it_loads_is_taught_the_warmup_as_a_loaded_tier(tmp_path):
    """Restarted between the warm-up and the fault, the standby keeps the warm-up's ticks bit for bit and, when it
    loads, is judged as the tier loaded at start (swap3's test, with a restart in it; swap3's head: its threshold
    started cold after the restart, as main's did without one). Once loaded, it has nothing more to checkpoint."""
    cfg = learning_cfg(tmp_path)
    rows = sim_rows(cfg, days=0.3)
    standby = Pipeline(cfg)
    loaded = Pipeline(cfg, tiers=load_tiers(cfg.scoring, str(DEMO_BUNDLE), Expectation.from_config(cfg),
                                            cfg.alerts.top_k, cfg.base_dir)[0])
    ticks = iter(rows)
    for i, r in enumerate(ticks):
        standby.step(r)
        loaded.step(r)
        if standby.warm and i >= WARMUP + 10:
            break
    kept = standby.chain.tiers[1].ticks
    back = restarted(standby, tmp_path / "ckpt")
    assert isinstance(back.chain.tiers[1], StandbyTier) and back.standby_problem is None
    for want, got in zip(kept, back.chain.tiers[1].ticks):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    judged_after_a_fault(back, loaded, ticks, cfg.window.steps)
    assert "standby" not in back.state_dict()       # loaded: the tier's own state is checkpointed, as a loaded tier's


def _agent_checkpoint(tmp_path, **scoring):
    """(config, the checkpoint path, the first life's pipeline) after an Agent ran the demo past its warm-up and
    stopped cleanly (writing its checkpoint)."""
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, **scoring)
    first = Agent(cfg, max_ticks=WARMUP + 30)
    first.run()
    return cfg, tmp_path / CHECKPOINT_FILE, first.pipeline


def _restart(cfg):
    agent = Agent(cfg, max_ticks=5)
    for sink in agent.sinks:
        sink.close()
    return agent


def test_an_agent_restart_keeps_the_standbys_warmup_and_the_demo_as_shipped_writes_nothing_more(tmp_path):
    """With a profile the onnx standby's warm-up ticks go into checkpoint.bin and come back in the next Agent; the
    demo as shipped (no profile, no threshold key that learns from warm-up) keeps none and writes no key."""
    cfg, path, first = _agent_checkpoint(tmp_path / "profile", profile=PROFILE)
    assert set(decode(path.read_bytes())[1]["pipeline"]["standby"]) == {"onnx"}
    agent = _restart(cfg)
    assert agent.checkpoint_start["state"] == "resumed" and "refused" not in agent.checkpoint_start["detail"]
    for want, got in zip(first.chain.tiers[1].ticks, agent.pipeline.chain.tiers[1].ticks):
        assert np.array_equal(got, want)
    assert len(got) == WARMUP
    # A step of this host's clock moves the kept ticks with the rest of the state's times.
    agent.pipeline._shift_times(-3600.0)
    assert np.array_equal(agent.pipeline.chain.tiers[1].ticks[2], first.chain.tiers[1].ticks[2] - 3600.0)

    _, path, shipped = _agent_checkpoint(tmp_path / "shipped")
    assert isinstance(shipped.chain.tiers[1], StandbyTier) and shipped.chain.tiers[1].ticks is None
    assert "standby" not in decode(path.read_bytes())[1]["pipeline"]


def test_a_checkpoint_without_the_kept_ticks_loads_as_before(tmp_path, caplog):
    cfg, path, first = _agent_checkpoint(tmp_path, profile=PROFILE)
    meta, state = decode(path.read_bytes())
    del state["pipeline"]["standby"]
    path.write_bytes(encode(meta, state))
    with caplog.at_level(logging.INFO, logger="stad.pipeline"):
        agent = _restart(cfg)
    assert agent.checkpoint_start["state"] == "resumed" and "refused" not in agent.checkpoint_start["detail"]
    assert agent.pipeline.chain.tiers[1].ticks is None and agent.pipeline.standby_problem is None
    assert "no warm-up ticks for the onnx tier on standby" in caplog.text


@pytest.mark.parametrize("damage, why", [
    (lambda k: {**k, "z": k["z"][:, 1:], "missing": k["missing"][:, 1:]}, "standby.onnx.z: 17 columns, expected 18"),
    # (ticks stamped after the checkpoint's last are moved back before it and kept since qa33: test_qa33_standby_order)
    (lambda k: {**k, "ts": k["ts"] * np.nan}, "standby.onnx.ts: not increasing tick times up to the checkpoint's"),
    (lambda k: {**k, "calm": k["calm"][1:]}, "rows of z, missing, ts and calm"),
    (lambda k: [1, 2], "TypeError: list indices must be integers"),
], ids=["another-sensor-count", "tick-times-not-finite", "rows-of-unequal-length", "not-a-mapping"])
def test_kept_ticks_that_do_not_fit_are_refused_said_and_the_rest_restores(tmp_path, caplog, damage, why):
    cfg, path, first = _agent_checkpoint(tmp_path, profile=PROFILE)
    meta, state = decode(path.read_bytes())
    state["pipeline"]["standby"]["onnx"] = damage(state["pipeline"]["standby"]["onnx"])
    path.write_bytes(encode(meta, state))
    with caplog.at_level(logging.WARNING):
        agent = _restart(cfg)
    start = agent.checkpoint_start
    assert start["state"] == "resumed" and "the onnx standby's warm-up ticks refused (" in start["detail"], start
    assert why in start["detail"], start
    assert any("warm-up ticks refused" in r.getMessage() and why in r.getMessage() for r in caplog.records)
    restored = agent.pipeline
    assert restored.warm and restored.ticks == first.ticks and restored.chain.tiers[1].ticks is None
    assert {k: t.value for k, t in restored.thresholds.items()} == {k: t.value for k, t in first.thresholds.items()}
    assert len(restored.recent) == len(first.recent)
