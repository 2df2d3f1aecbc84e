"""The hot swap's recent ticks survive a step back of the time base (review23).

swap2 checkpointed the ring a hot-swapped candidate's profile is fitted on, so that a swap soon after a
restart still gets this plant's normal profile. But `Pipeline.rebase` — the data stepped back, or this
host's clock was stepped back across the restart (Resume._rebase_time) — emptied it: a candidate swapped in
within `profile.min_ticks` calm ticks of such a restart ran raw again (swap2's own bug, by another door).
The ring's times move with the rest of the learned state (Pipeline._shift_times keeps them in order, the
last of them one tick before the new base's first), and the window's refill ticks are kept as not calm, so
no window across the join is fitted on. Real parts: two Agent lives on the demo's simulated source (whose
data starts again at its start: a step back of the data), the checkpoint written and read in between."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg  # noqa: E402

from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO
PROFILE = {"enabled": True, "min_ticks": 100}


def test_a_restart_onto_earlier_data_keeps_the_recent_ticks(tmp_path):
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, profile=PROFILE)
    first = Agent(cfg, max_ticks=WARMUP + 60)
    first.run()
    kept_z, _, kept_ts, kept_calm = first.pipeline.recent_ticks()
    assert len(kept_ts) == WARMUP
    second = Agent(cfg, max_ticks=40)       # the simulated data starts again at its start: it steps back
    second.run()
    assert second.checkpoint_start["state"] == "resumed"
    z, missing, ts, calm = second.pipeline.recent_ticks()
    assert len(ts) == WARMUP, f"the ring holds {len(ts)} ticks after the step back, {WARMUP} before it"
    assert (np.diff(ts) > 0).all()
    # The last life's ticks are still there (moved in time), then the new base's, the refill's not calm.
    old = WARMUP - 40
    assert np.array_equal(z[:old], kept_z[40:]) and np.array_equal(calm[:old], kept_calm[40:])
    assert calm.sum() >= PROFILE["min_ticks"]
