"""Two settings a start that resumes a checkpoint does not apply as a fresh start does, and the one line that says
so when they changed since the checkpoint (user15; user14 left it: nothing said when, or whether, they applied).

- `threshold.risk` (each tier's, `threshold.numpy.risk` the fallback's): the checkpoint keeps each threshold's value
  and what it learned; the threshold is resumed under the new risk, which acts only where the threshold learns
  (AdaptiveThreshold.update: calm ticks, none while an alert is open) — its value is recomputed at the next peak over
  POT's starting point or at the 256th learned tick at the latest; with `threshold.adapt` off, never.
- `warmup.replay`: not read while a checkpoint resumes (it holds what the warm-up learned), but for a model tier left
  waiting after a restart onto another profile or bundle (pipeline_state.tier_from_replay).
- `warmup.ticks`, `warmup.fit_fraction` and each tier's `threshold.init_quantile` (POT's starting point): read only
  by a warm-up's fit, which a resume keeps — a longer warm-up after a poor fit, or another starting point, never
  acted and nothing said so (user16). `threshold.method` is in the checkpoint's fingerprint: a change is refused
  and said (agent/checkpoint.py).

What the checkpoint was taken with is in its header (`settings`, `recorded`); one written before has none: nothing
to compare, nothing said.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import AgentConfig
    from .threshold import AdaptiveThreshold


def recorded(cfg: AgentConfig, thresholds: dict[str, AdaptiveThreshold]) -> dict:
    """The checkpoint header's `settings`: each tier's threshold risk, warmup.replay, and the warm-up fit's settings."""
    return {"risk": {tier: thr.cfg.risk for tier, thr in thresholds.items()}, "replay": cfg.warmup.replay,
            "fit": {"warmup.ticks": cfg.warmup.ticks, "warmup.fit_fraction": cfg.warmup.fit_fraction,
                    **{f"threshold.init_quantile ({tier})": thr.cfg.init_quantile for tier, thr in thresholds.items()}}}


def _fit_now(cfg: AgentConfig, thresholds: dict[str, AdaptiveThreshold]) -> dict:
    return recorded(cfg, thresholds)["fit"]


def changed_at_resume(saved, cfg: AgentConfig, thresholds: dict[str, AdaptiveThreshold],
                      replay_read: bool) -> str | None:
    """What changed since the checkpoint (`saved`: its header's `settings`) among these settings, what the checkpoint
    keeps and when the new value acts; None when nothing changed or the checkpoint does not say. `replay_read`: the
    recording was read at this start (a model tier prepared on it)."""
    if not isinstance(saved, dict):
        return None
    said = []
    risks = saved.get("risk")
    # (a value that is no number — a hand-edited header — is skipped: this runs after the restore, which must not fail)
    moved = [(tier, was, thresholds[tier].cfg.risk) for tier, was in risks.items()
             if tier in thresholds and isinstance(was, (int, float)) and not isinstance(was, bool)
             and was != thresholds[tier].cfg.risk] if isinstance(risks, dict) else []
    if moved:
        acts = ("it does not act: threshold.adapt is off, the checkpoint's thresholds hold until a warm-up (move "
                "state_dir/checkpoint.bin aside)" if not cfg.threshold.adapt else
                "the checkpoint keeps each threshold's value and what it learned; the new risk acts where the "
                "threshold learns, at calm ticks — its value recomputed at the next peak over POT's starting point, "
                "at the 256th learned tick at the latest — and not while an alert is open")
        said.append("threshold.risk changed since the checkpoint (" +
                    ", ".join(f"{tier} {was:g} -> {now:g}" for tier, was, now in moved) + f"): {acts}")
    if "replay" in saved and isinstance(saved["replay"], (str, type(None))) and saved["replay"] != cfg.warmup.replay \
            and not replay_read:
        said.append(f"warmup.replay changed since the checkpoint ({saved['replay'] or 'none'} -> "
                    f"{cfg.warmup.replay or 'none'}): not read while a checkpoint resumes, which keeps what its "
                    "warm-up learned; a start without one warms up on it (move state_dir/checkpoint.bin aside)")
    fit, now = saved.get("fit"), _fit_now(cfg, thresholds)
    fit_moved = [(key, was, now[key]) for key, was in fit.items()
                 if key in now and isinstance(was, (int, float)) and not isinstance(was, bool) and was != now[key]] \
        if isinstance(fit, dict) else []
    if fit_moved:
        said.append("the warm-up's fit settings changed since the checkpoint (" +
                    ", ".join(f"{key} {was:g} -> {new:g}" for key, was, new in fit_moved) +
                    "): read only by a warm-up's fit, which the checkpoint keeps — they act at a start without one "
                    "(move state_dir/checkpoint.bin aside)")
    return "; ".join(said) or None
