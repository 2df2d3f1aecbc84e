"""A hot-swapped bundle gets the plant's normal profile, as one given at start does (swap1).

Under `scoring.profile` a bundle given at start has its profile fitted and its threshold calibrated
on the warm-up; a bundle swapped in from models_dir ran raw (no profile, the bundle's threshold)
until a restart, and its shadow compared its raw score with the running tier's profiled one. Real
bundles (the shipped demo bundle and a copy), the real HotSwap with its load thread, real files."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline, sim_rows, variant)

from agent.bundle import read_manifest  # noqa: E402
from agent.recent_ticks import RecentTicks  # noqa: E402

pytestmark = NO_DEMO
SHADOW = 30


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


@pytest.mark.parametrize("blend", [0.0, 0.5])
def test_a_hot_swapped_bundle_runs_with_the_plants_profile(tmp_path, rows, blend):
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=SHADOW, blend_numpy=blend,
                                          profile={"enabled": True, "min_ticks": 100})
    before = drive(pipe, swap, rows, until=lambda: True)
    running = pipe.chain.current
    assert running.describe()["profile"]["fitted"]
    shutil.copytree(variant("demo-copy", src=DEMO_BUNDLE, model_id="demo-copy"), models / "b")
    shadow = []
    after = drive(pipe, swap, rows[WARMUP + len(before):], limit=400,
                  until=lambda: shadow.append(swap.shadow) or pipe.chain.switch_count > 0)
    assert swap.status()["last"]["accepted"], swap.status()["last"]
    swapped = pipe.chain.current
    assert swapped is not running and swapped.describe()["model_id"] == "demo-copy"
    # The profile fitted on the plant's recent ticks, the threshold this plant's, not the bundle's own.
    assert swapped.describe()["profile"]["fitted"]
    bundle_own = read_manifest(DEMO_BUNDLE).threshold["value"]
    thr = pipe.thresholds["tflite"].value
    assert thr != pytest.approx(bundle_own, rel=1e-3)
    # The same model, fitted on (nearly) the same ticks: its shadow scores as the running tier does.
    sh = next(s for s in shadow if s is not None)
    assert len(sh.candidate) == SHADOW
    assert sh.correlation() > 0.95, (sh.current, sh.candidate)
    assert sh.agreement() == 1.0
    # After the swap the copy scores each tick as the running bundle would have.
    assert all(np.isfinite(r.score) and r.tier == "tflite" for r in after)


def test_without_a_profile_nothing_is_kept(tmp_path, rows):
    """The demo (no profile) keeps no recent ticks: it pays nothing for this (issue 16's RSS cap)."""
    pipe, swap, _ = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE)
    drive(pipe, swap, rows, until=lambda: True)
    assert pipe.recent is None and pipe.recent_ticks() is None


def test_recent_ticks_keep_an_uncalm_tick_as_missing_and_roll_in_order():
    ring = RecentTicks(4, 2)
    ring.extend(np.ones((3, 2)), np.zeros((3, 2), bool), np.arange(3.0))
    ring.push(np.full(2, 9.0), np.zeros(2, bool), 3.0, calm=False)
    ring.push(np.full(2, 5.0), np.array([True, False]), 4.0, calm=True)
    z, missing, ts, calm = ring.snapshot()
    assert ts.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert calm.tolist() == [True, True, False, True]
    assert missing.tolist() == [[False, False], [False, False], [True, True], [True, False]]
    assert z[-1].tolist() == [5.0, 5.0]


def test_a_candidate_prepared_at_the_end_of_warm_up_is_fitted_as_the_running_tier_was(tmp_path, rows):
    """Right after warm-up the recent ticks are the warm-up's: a copy of the running bundle prepared on
    them gets the same profile and threshold, bit for bit (the warm-up's own fit, reused)."""
    from agent.models_dir import build_candidate
    pipe, swap, _ = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, profile={"enabled": True, "min_ticks": 100})
    for row in rows:
        pipe.step(row)
        if pipe.warm:
            break
    tiers, refusals = build_candidate(pipe.cfg, DEMO_BUNDLE)
    assert tiers, refusals
    thresholds = pipe.prepare(tiers, pipe.recent_ticks())
    running = pipe.chain.tiers[0]
    copy = next(t for t in tiers if t.TYPE == running.TYPE)
    assert thresholds[running.TYPE].value == pipe.thresholds[running.TYPE].value
    assert np.array_equal(copy.profile.mean, running.profile.mean)
    assert np.array_equal(copy.residual, running.residual)
