"""bench/chaos.py --scorer tflite|onnx reads the tier each life scored on from its systemd STATUS lines, which say
what agent/scoring_state.py's `status_word` says. Since user16 they also say when no tier scores (`warming`,
`refilling`) and a planned fallback (`numpy(planned)`); the soak took each of those words for a tier, so the
first life's warm-up alone broke its invariant "every life scores on tflite unless its log says why" on every
model-tier run (chaos1: seed 3, `life 0: STATUS said {'warming': 9}`). The lines here are the agent's own words."""
from __future__ import annotations

from collections import Counter

from agent.scoring_state import STATES, status_word
from conftest import bench_module


def status_line(state: str, tier: str | None) -> str:
    return f"STATUS=tier={status_word({'state': state, 'tier': tier})} ticks=12 alerts=0"


def test_no_scoring_state_is_taken_for_a_tier():
    chaos = bench_module("chaos")
    lines = [status_line("warming", None), status_line("refilling", None),
             status_line("fallback_planned", "numpy"), status_line("scoring", "tflite"),
             status_line("scoring", "tflite"), "READY=1"]
    assert {"warming", "refilling", "fallback_planned", "scoring"} == set(STATES)
    assert chaos.scoring_tiers(lines) == Counter({"tflite": 2})


def test_a_step_down_is_still_a_tier_of_its_own():
    chaos = bench_module("chaos")
    lines = [status_line("scoring", "tflite"), status_line("scoring", "numpy"), status_line("scoring", "numpy")]
    assert chaos.scoring_tiers(lines) == Counter({"tflite": 1, "numpy": 2})
