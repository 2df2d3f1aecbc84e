"""The demo upgraded onto skab32's `scoring.profile` with a `warmup.replay` recording: shared by the tests of a model
tier prepared on the recording after such an upgrade (tests/test_swap6_upgrade_replay.py,
tests/test_clock24_short_replay.py)."""
from __future__ import annotations

import numpy as np

from agent.checkpoint import CHECKPOINT_FILE
from agent.config import from_dict
from agent.service import Agent
from conftest import REPO, demo_cfg, demo_dict, sim_rows

WARMUP = 300
PROFILE = {"enabled": True, "min_ticks": 100}


def write_recording(path, cfg, ticks: int, seed: int = 11) -> None:
    """`ticks` normal ticks of the demo's simulator (another seed than the live data) as a CSV recording."""
    rows = sim_rows(cfg, days=ticks * cfg.tick_s / 86_400 + 0.01, seed=seed, anomalies="none")[:ticks]
    sensors = cfg.sensor_names()
    lines = ["timestamp," + ",".join(sensors)]
    for r in rows:
        lines.append(f"{r.ts:.0f}," + ",".join("" if np.isnan(v) else f"{v:.4f}" for v in r.values))
    path.write_text("\n".join(lines) + "\n")


def upgraded_cfg(state_dir, replay):
    """The demo with the profile on (skab32's default beside a bundle) and, given `replay`, warmup.replay."""
    d = demo_dict(state_dir, profile=PROFILE)
    d["warmup"]["ticks"] = WARMUP
    if replay is not None:
        d["warmup"]["replay"] = str(replay)
    return from_dict(d, base_dir=str(REPO))


def profile_off_state(state):
    """`state` made the state_dir of an agent with the profile off (the release before skab32): warmed, 40 ticks
    scored, its checkpoint written at the stop."""
    first = Agent(demo_cfg(state, warmup_ticks=WARMUP), max_ticks=WARMUP + 40)
    first.run()
    assert (state / CHECKPOINT_FILE).exists() and first.pipeline.warm
    return state
