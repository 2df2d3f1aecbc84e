"""A step of this host's clock while a hot swap is in shadow moves the candidate's times too (review23).

clock22 moves the times the learned state keeps when this host's clock steps and the data with it
(Row.clock_moved_s; pipeline_time.step_clock_moved), and a step back of the data moves them the same way
(Pipeline.rebase). The candidate in shadow (agent/hotswap.py) keeps times of its own — its thresholds'
clock scale (threshold.clock_scale_period_s), its Detector's hold — and was left on the old clock: swapped
in after a step back of an hour, its clock scale's bins of that hour had 'learned this cycle' already and
learned nothing for the hour (as the running thresholds did before review22). Real parts: the demo bundle
and a copy of it in models_dir, the real HotSwap and its load thread, the demo's simulated rows."""
from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, demo_dict,  # noqa: E402
                      drive_hotswap as drive, sim_rows, variant)

from agent.config import from_dict  # noqa: E402
from agent.hotswap import HotSwap  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from conftest import REPO  # noqa: E402

pytestmark = NO_DEMO
DAY = 86400.0


def _clock_cycles(thresholds) -> dict[str, list[int]]:
    return {name: list(t.clock._last_cycle) for name, t in thresholds.items() if t.clock is not None}


@pytest.mark.parametrize("step_s", [-3600.0, 2 * DAY])
def test_the_candidate_in_shadow_moves_with_a_step_of_the_host_clock(tmp_path, step_s):
    models = tmp_path / "models"
    models.mkdir()
    d = demo_dict(tmp_path, bundle=str(DEMO_BUNDLE), models_dir=str(models), shadow_ticks=400,
                  profile={"enabled": True, "min_ticks": 100})
    d["warmup"]["ticks"] = HOTSWAP_WARMUP
    d.setdefault("threshold", {})["clock_scale_period_s"] = DAY
    cfg = from_dict(d, base_dir=str(REPO))
    pipe = Pipeline(cfg)
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    rows = sim_rows(cfg, days=0.3)
    shutil.copytree(variant("demo-copy", src=DEMO_BUNDLE, model_id="demo-copy"), models / "b")
    seen = drive(pipe, swap, iter(rows), until=lambda: swap.shadow is not None and swap.shadow.settle == 0)
    at = rows.index(next(r for r in rows if r.ts == seen[-1].ts)) + 1
    cand = swap.shadow.detector.thresholds
    before = _clock_cycles(cand)
    running = _clock_cycles(pipe.thresholds)
    assert before and any(c >= 0 for cs in before.values() for c in cs)
    # The host clock steps by step_s and the data with it (the aligner marks the first row after it).
    nxt = rows[at]
    moved = replace(nxt, ts=nxt.ts + step_s, clock_moved_s=step_s)
    swap.on_tick(pipe.step(moved))
    assert swap.shadow is not None and swap.shadow.detector.thresholds is cand
    dc = int(step_s // DAY)
    bin_now = {name: t.clock._locate(moved.ts) for name, t in cand.items() if t.clock is not None}
    # ... as the running thresholds' did (moved once: the candidate shares no part with the pipeline)
    for kept, now in ((before, _clock_cycles(cand)), (running, _clock_cycles(pipe.thresholds))):
        for name, cycles in kept.items():
            for b, c in enumerate(cycles):
                if c < 0 or b == bin_now.get(name, (None,))[0] or b == pipe.thresholds[name].clock._locate(moved.ts)[0]:
                    continue
                assert now[name][b] == c + dc, (name, b, c, now[name][b])
