"""chaos11's soak (seed 13, --scorer tflite): a bundle of another plant (every sensor's normalisation 50 stds off),
which `scoring.shadow_refuse_off_scale: 0.5` refuses, was swapped in 4 times of 9 — each time its shadow ran while
every sensor was unread (a `source` fault open: readings masked until it clears, ~60 s after they are back). Both
models scored 0 on every shadow tick (agreement 1.000, correlation undefined), the scale check had no reading to judge,
and the candidate went in on no evidence, unsaid. With that key set, a shadow whose window holds no sensor read twice
(what the scale check needs) is not finished: it goes on, said once, until the window has readings, and is judged then.
Real parts: the demo bundle, the demo
simulator's rows, every sensor made unread as a source outage leaves them (tests/test_user9_shadow_gate.py's way)."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE_1001 as BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, sim_rows, write_manifest)
from agent.bundle import read_manifest  # noqa: E402
from agent.hotswap import HotSwap  # noqa: E402
from agent.manifest import Normalisation  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

pytestmark = NO_DEMO
SHADOW = 10


def test_a_shadow_on_unread_sensors_swaps_no_bundle_of_another_plant_in(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(BUNDLE), models_dir=str(models), shadow_ticks=SHADOW,
                   shadow_refuse_off_scale=0.5, shadow_min_agreement=0.0)
    rows = sim_rows(cfg, days=0.3)
    pipe = Pipeline(cfg)
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    drive(pipe, swap, rows, until=lambda: True)
    n = len(pipe.sensors)
    # every sensor unread (as a source fault's mask leaves a tick: every reading missing) until the candidate is
    # loaded and in its shadow, then 3 × its shadow's ticks: judged there on 49e2e8f8 (swapped in), not now
    unread = iter([dataclasses.replace(r, values=np.full(n, np.nan), missing=np.ones(n, bool),
                                       carried=np.zeros(n, bool)) for r in rows[WARMUP + 1:WARMUP + 301]])
    for _ in range(cfg.window.steps + 8):     # the window all unread, as a source fault open ~60 s leaves it
        swap.on_tick(pipe.step(next(unread)))
    out = models / "other-plant"
    shutil.copytree(BUNDLE, out)
    (out / "manifest.sig").unlink(missing_ok=True)
    m = read_manifest(out)
    norm = m.normalisation
    write_manifest(out, dataclasses.replace(m, model_id="other-plant", normalisation=Normalisation(
        mean={s: v + 50 * norm.std[s] for s, v in norm.mean.items()}, std=dict(norm.std))))
    drive(pipe, swap, unread, until=lambda: swap.status()["state"].startswith("shadow"))
    if swap._loading is not None:
        swap._loading.join(120)
    for _ in range(3 * SHADOW):
        tick = pipe.step(next(unread))
        swap.on_tick(tick)
    judged_unread = swap.status()["last"]
    assert judged_unread is None, judged_unread        # 3 × its ticks, none with a reading: not judged
    drive(pipe, swap, rows[WARMUP + 301:], until=lambda: swap.status()["last"] is not None, limit=400)
    status = swap.status()
    assert not status["last"]["accepted"] and "readings not on its scale" in status["last"]["reason"], status
    assert pipe.model_id() != "other-plant"
