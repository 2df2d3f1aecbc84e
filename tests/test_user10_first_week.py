"""user10, a plant engineer's first week (a SKAB pump as the plant): what surprised the user, fixed.

- After a hot swap and a restart the banner said `scoring: tier tflite: pump3 (…) from <the configured
  scoring.bundle>`: the swapped-in model's id beside the path of the bundle it replaced. It names the
  bundle the tiers run now (a real hot swap, a real checkpoint, a real restart of the Agent).
"""
from __future__ import annotations

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, demo_cfg
from swap_life import close, demo_swapped_in


@NO_DEMO
def test_the_banner_names_the_swapped_in_bundle_a_restart_runs_not_the_configured_one(tmp_path):
    from agent.firstscreen import banner
    from agent.service import Agent
    swapped = demo_swapped_in(tmp_path)
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE),
                           models_dir=str(swapped.parent)))
    try:
        assert agent.pipeline.bundle_identity()["path"] == str(swapped)
        scoring = next(line for line in banner(agent) if line.startswith("  scoring: "))
        assert scoring.endswith(f"demo-a (model_int8.tflite, {agent.pipeline.chain.current.runtime}) from {swapped}"), scoring
    finally:
        close(agent)


def test_the_banner_names_a_builtin_bundle_as_configured(tmp_path):
    from agent.firstscreen import banner
    from agent.service import Agent
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP))
    try:
        scoring = next(line for line in banner(agent) if line.startswith("  scoring: "))
        assert scoring.endswith(" from builtin:demo-corridor"), scoring
    finally:
        close(agent)
