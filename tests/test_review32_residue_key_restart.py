"""`scoring.profile.residue_fraction` is an alert rule's setting: a restart with another value resumes the model tier
as it was (review32).

The key lives under `scoring.profile` (the residue it judges is the profile's) and the checkpoint's fingerprint took
every `scoring.profile` key as shaping the model tier's state. So an operator who tuned the residue end (0.35 → 0.25,
or 0 to turn it off) and restarted got "scoring.profile changed": the model tier prepared again — on the
checkpoint's recent ticks, or with the fallback scoring until a warm-up's worth of live ticks had filled them (the
demo's 300 ticks: 2.5 h) — for a value no part of that state depends on (agent/alert_residue.py reads it, through
the alert tracker, on each tick). Now the fingerprint leaves it out; the new value applies from the first tick, as
`alerts.*` does. Real parts: the demo bundle, the demo's rows, real checkpoint files.
"""
from __future__ import annotations

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, demo_cfg, sim_rows  # noqa: E402
from swap_life import restart_onto  # noqa: E402

from agent.pipeline import Pipeline  # noqa: E402

pytestmark = NO_DEMO


def _cfg(where, **profile):
    return demo_cfg(where, warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE), profile={"enabled": True, **profile})


@pytest.mark.parametrize("fraction", [0.25, 0.0])
def test_a_restart_with_another_residue_fraction_resumes_the_model_tier(tmp_path, fraction):
    first = Pipeline(_cfg(tmp_path / "first"))
    rows = sim_rows(first.cfg, days=0.2)
    for r in rows[:HOTSWAP_WARMUP + 40]:
        first.step(r)
    assert first.warm and first.chain.tier == "tflite" and first.alerts.residue_fraction == 0.35
    restored, why = restart_onto(first, _cfg(tmp_path / "second", residue_fraction=fraction), tmp_path / "ckpt")
    assert why is None, why
    assert restored.tier_note is None and restored.chain.tier == "tflite"
    assert restored.alerts.residue_fraction == fraction                 # the new value, from the first tick
    assert {k: t.value for k, t in restored.thresholds.items()} == {k: t.value for k, t in first.thresholds.items()}
    later = rows[HOTSWAP_WARMUP + 40:HOTSWAP_WARMUP + 60]
    assert [(r.tier, r.score) for r in map(first.step, later)] == [(r.tier, r.score) for r in map(restored.step, later)]


def test_another_profile_setting_still_prepares_the_tier_again(tmp_path):
    """What the model tier's state depends on still counts (here `min_ticks`, the profile's fit)."""
    first = Pipeline(_cfg(tmp_path / "first"))
    for r in sim_rows(first.cfg, days=0.2)[:HOTSWAP_WARMUP + 5]:
        first.step(r)
    _, why = restart_onto(first, _cfg(tmp_path / "second", min_ticks=150), tmp_path / "ckpt")
    assert why == "scoring.profile changed"
