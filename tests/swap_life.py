"""An agent's life in which a hot swap put a models_dir bundle in, for tests of what the next start
takes from it (active-bundle.json, the checkpoint): a real Agent, a real shadow run and swap, a real
checkpoint file. Shared by the lost-record tests (qa22, qa23)."""
from __future__ import annotations

from conftest import drive_hotswap, sim_rows


def close(agent) -> None:
    """What the daemon's stop releases: the sinks, the metrics endpoint, the state_dir lock."""
    if agent.metrics is not None:
        agent.metrics.close()
    for sink in agent.sinks:
        sink.close()
    agent.state_lock.release()


def swapped_in_life(cfg, model_id: str) -> None:
    """`cfg` (its `scoring.bundle` configured, a bundle in `scoring.models_dir` whose manifest says
    `model_id`) run until the newest models_dir bundle is swapped in (SIGHUP's way: shadowed, then
    accepted), then a checkpoint written with it, and the agent stopped."""
    from agent.service import Agent
    agent = Agent(cfg)
    try:
        pipe, swap = agent.pipeline, agent.hotswap
        swap.poll_ticks = 2
        swap.request()
        drive_hotswap(pipe, swap, sim_rows(cfg, days=0.2), until=lambda: swap.status()["last"] is not None)
        last = swap.status()["last"]
        assert (last["accepted"], last["model_id"]) == (True, model_id), last
        assert pipe.bundle_identity()["model_id"] == model_id
        assert agent.save_checkpoint() is not None
    finally:
        close(agent)
