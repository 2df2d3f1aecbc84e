"""What scores a tick now, in one place for health (`scoring`), Prometheus (`stad_scoring_state`,
`stad_scoring_tier`) and systemd's status line — so the three say the same, and say it truly.

Why: the chain's active tier (health's `tier`) is the tier that *will* score. During the warm-up and while the
window refills (after warmup.replay, a restart gap longer than the window, a time base that started again) no
tier scores, yet Prometheus served `stad_scoring_tier{tier="tflite"} 1`; while the model tier waits to be
prepared after a restart onto another profile or bundle (a planned wait, pipeline_state.prepare_restored) it
served `{tier="numpy"} 1` exactly as after a model tier's fault, and a dashboard watching for the fallback
paged for a plan (user13's question 5, user14; user16).

States (each a label value of `stad_scoring_state`, a fixed set):
- `warming`: the warm-up; no tick scored (`tier` None);
- `refilling`: the window refills before the first score (`tier` None);
- `fallback_planned`: the fallback (numpy) scores while the model tier waits to be prepared (`waiting`: why);
- `scoring`: the active tier scores — after a fault's step down that is the tier below (the switch is in
  health's `last_tier_switch` and the log).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pipeline import Pipeline

STATES = ("warming", "refilling", "fallback_planned", "scoring")


def scoring_now(p: Pipeline) -> dict:
    """{state, tier (the tier that scores now, None when none does), waiting (why the model tier waits, or None)}."""
    if not p.warm:
        return {"state": "warming", "tier": None, "waiting": None}
    if p.refill > 0:
        return {"state": "refilling", "tier": None, "waiting": None}
    waits = p.tier_waits
    if waits is not None and p.chain.tier == "numpy":
        return {"state": "fallback_planned", "tier": "numpy", "waiting": waits}
    return {"state": "scoring", "tier": p.chain.tier, "waiting": None}


def status_word(now: dict) -> str:
    """The `tier=` of systemd's status line: the tier that scores, or why none does (`warming`, `refilling`),
    or `numpy(planned)` while the model tier waits."""
    if now["tier"] is None:
        return now["state"]
    return f"{now['tier']}(planned)" if now["state"] == "fallback_planned" else now["tier"]
