"""A hot swap after a restart gets the plant's normal profile too (swap2).

swap1 fitted a hot-swapped bundle's profile on the pipeline's recent calm ticks (agent/recent_ticks.py),
but the ring was not checkpointed: after a restart a candidate that came before `profile.min_ticks` calm
ticks fitted no profile and ran raw. Now the ring is in the checkpoint; a checkpoint without it (written
before) loads with the ring empty; a ring that does not fit is refused on its own, said, and the rest
restored. And with `shadow_ticks: 0` a fitted candidate settles (a window scored unjudged) before the
swap, so its first window reads no gap. Real parts: the demo bundle and a copy of it in models_dir, the
real HotSwap and its load thread, checkpoint files written and read by agent/checkpoint.py, the Agent."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline, sim_rows, variant)

from agent.checkpoint import CHECKPOINT_FILE, CheckpointStore, decode, encode, fingerprint  # noqa: E402
from agent.hotswap import HotSwap  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.service import Agent  # noqa: E402
from agent.topology import adjacency  # noqa: E402

pytestmark = NO_DEMO
SHADOW = 30
PROFILE = {"enabled": True, "min_ticks": 100}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


def restarted(pipe: Pipeline, state_dir, drop_ring: bool = False) -> Pipeline:
    """A new pipeline restored from the checkpoint file `pipe` writes into `state_dir` (`drop_ring`: written
    as before this round, without the recent ticks)."""
    cfg = pipe.cfg
    state_dir.mkdir(exist_ok=True)
    store = CheckpointStore(state_dir)
    fp = fingerprint(cfg, adjacency(pipe.specs, cfg.topology), pipe.bundle_identity())
    state = pipe.state_dict()
    if drop_ring:
        del state["recent"]
    store.save({"config": fp}, {"pipeline": state})
    new = Pipeline(cfg)
    new.restore(store.load(fp)[1]["pipeline"])
    return new


def lockstep(pairs, rows, until, limit=400):
    """Feed each (pipeline, HotSwap) the same rows, the load joined at the tick it starts (so both fit
    their candidate on the same ticks); each pair's results, until `until()` holds."""
    out = [[] for _ in pairs]
    for r in rows:
        for (pipe, swap), got in zip(pairs, out):
            res = pipe.step(r)
            swap.on_tick(res)
            if swap._loading is not None:
                swap._loading.join(120)
            got.append(res)
        if until() or len(out[0]) >= limit:
            return out
    raise AssertionError(f"rows ran out; {[s.status() for _, s in pairs]}")


def test_a_restart_then_a_swap_fits_the_candidate_on_the_restored_ring(tmp_path, rows):
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=SHADOW, profile=PROFILE)
    before = drive(pipe, swap, rows, until=lambda: True, limit=40)
    assert len(pipe.recent) == WARMUP
    back = restarted(pipe, tmp_path / "ckpt")
    # The ring came back bit for bit: the candidate of either is fitted on the same ticks.
    for kept, got in zip(pipe.recent_ticks(), back.recent_ticks()):
        assert got.dtype == kept.dtype and np.array_equal(got, kept, equal_nan=True)
    shutil.copytree(variant("demo-copy", src=DEMO_BUNDLE, model_id="demo-copy"), models / "b")
    back_swap = HotSwap(back.cfg, back, poll_ticks=10 ** 9)
    kept_swap = HotSwap(pipe.cfg, pipe, poll_ticks=10 ** 9)
    kept_swap.request()
    back_swap.request()
    pairs = [(pipe, kept_swap), (back, back_swap)]
    kept, got = lockstep(pairs, rows[WARMUP + len(before):],
                         until=lambda: all(p.chain.switch_count for p, _ in pairs))
    assert back_swap.status()["last"]["accepted"], back_swap.status()["last"]
    swapped = back.chain.current.describe()
    assert swapped["model_id"] == "demo-copy" and swapped["profile"]["fitted"]
    assert back.thresholds["tflite"].value == pipe.thresholds["tflite"].value
    # The restart changed nothing the swap does: every tick scored and judged as without it, after the swap too.
    after = lockstep(pairs, rows[WARMUP + len(before) + len(kept):], until=lambda: False, limit=60)
    for a, b in zip(kept + after[0], got + after[1]):
        assert (a.tier, a.score, a.threshold) == (b.tier, b.score, b.threshold)


def test_a_checkpoint_without_the_ring_loads_and_the_ring_starts_empty(tmp_path, rows, caplog):
    """A checkpoint written before this round (no recent ticks in it) is not refused: the ring is empty, as
    every restart's was; the rest scores as the pipeline that kept running; a candidate swapped in now fits
    no profile (said), until `min_ticks` calm ticks have come."""
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=SHADOW, profile=PROFILE)
    before = drive(pipe, swap, rows, until=lambda: True, limit=20)
    with caplog.at_level(logging.INFO, logger="stad.pipeline"):
        back = restarted(pipe, tmp_path / "ckpt", drop_ring=True)
    assert back.warm and back.recent is not None and len(back.recent) == 0 and back.recent_problem is None
    assert "the checkpoint holds no recent ticks" in caplog.text
    rest = rows[WARMUP + len(before):]
    for r in rest[:40]:
        a, b = pipe.step(r), back.step(r)
        assert (a.score, a.threshold) == (b.score, b.threshold)
    assert len(back.recent) == 40
    shutil.copytree(variant("demo-copy", src=DEMO_BUNDLE, model_id="demo-copy"), models / "b")
    back_swap = HotSwap(back.cfg, back, poll_ticks=10 ** 9)
    back_swap.request()
    with caplog.at_level(logging.INFO, logger="stad.pipeline"):
        drive(back, back_swap, rest[40:], until=lambda: back.chain.switch_count > 0)
    assert not back.chain.current.describe()["profile"]["fitted"]
    assert "recent calm ticks, fewer than the 146 a profile is fitted on" in caplog.text     # (user40: the rule's)


def _agent_checkpoint(tmp_path):
    """(config, the checkpoint path, the first life's pipeline) after an Agent ran the demo past its warm-up
    with the profile on and stopped cleanly (writing its checkpoint)."""
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, profile=PROFILE)
    first = Agent(cfg, max_ticks=WARMUP + 60)
    first.run()
    assert len(first.pipeline.recent) == WARMUP
    return cfg, tmp_path / CHECKPOINT_FILE, first.pipeline


@pytest.mark.parametrize("damage, why", [
    (lambda r: {**r, "z": r["z"][:, 1:], "missing": r["missing"][:, 1:]}, "recent.z: 17 columns, expected 18"),
    (lambda r: {**r, "ts": r["ts"] + 3600.0}, "recent.ts: not increasing tick times up to the checkpoint's last tick"),
    (lambda r: {**r, "calm": r["calm"][1:]}, "rows of z, missing, ts and calm"),
], ids=["another-sensor-count", "ticks-after-the-checkpoint", "rows-of-unequal-length"])
def test_a_ring_that_does_not_fit_is_refused_said_and_the_rest_restores(tmp_path, caplog, damage, why):
    cfg, path, first = _agent_checkpoint(tmp_path)
    meta, state = decode(path.read_bytes())
    state["pipeline"]["recent"] = damage(state["pipeline"]["recent"])
    path.write_bytes(encode(meta, state))
    with caplog.at_level(logging.WARNING):
        agent = Agent(cfg, max_ticks=5)
    try:
        start = agent.checkpoint_start
        assert start["state"] == "resumed" and "its recent ticks refused (ValueError: " in start["detail"], start
        assert why in start["detail"], start
        assert any("recent ticks refused" in r.getMessage() and why in r.getMessage() for r in caplog.records)
        restored = agent.pipeline
        assert restored.warm and restored.ticks == first.ticks and len(restored.recent) == 0
        assert {k: t.value for k, t in restored.thresholds.items()} == {k: t.value for k, t in first.thresholds.items()}
        assert np.array_equal(restored.window.values, first.window.values, equal_nan=True)
    finally:
        for sink in agent.sinks:
            sink.close()


def test_an_agent_restart_keeps_the_ring(tmp_path):
    cfg, _, first = _agent_checkpoint(tmp_path)
    agent = Agent(cfg, max_ticks=5)
    try:
        assert agent.checkpoint_start["state"] == "resumed" and "refused" not in agent.checkpoint_start["detail"]
        for kept, got in zip(first.recent_ticks(), agent.pipeline.recent_ticks()):
            assert np.array_equal(got, kept, equal_nan=True)
    finally:
        for sink in agent.sinks:
            sink.close()


def test_shadow_ticks_0_settles_a_fitted_candidate_before_swapping_it_in(tmp_path, rows):
    """No judging, but a window scored first: at the swap the candidate has recorded its forecast error for
    every tick of the window its first score reads (swapped in at once, the ticks its load took were missing)."""
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=0, profile=PROFILE)
    before = drive(pipe, swap, rows, until=lambda: True)
    shutil.copytree(variant("demo-copy", src=DEMO_BUNDLE, model_id="demo-copy"), models / "b")
    settling = []
    drive(pipe, swap, rows[WARMUP + len(before):],
          until=lambda: settling.append(swap.shadow is not None) or pipe.chain.switch_count > 0)
    assert swap.status()["last"]["accepted"], swap.status()["last"]
    assert sum(settling) == pipe.cfg.window.steps       # the settle's ticks, then swapped at the last of them
    tier = pipe.chain.current
    assert tier.describe()["model_id"] == "demo-copy" and tier.describe()["profile"]["fitted"]
    assert {float(t) for t in pipe.window.ts} <= set(tier._history)
