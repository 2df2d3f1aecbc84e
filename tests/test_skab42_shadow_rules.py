"""A hot-swap candidate's shadow is judged by the pipeline's alert rules, given what the live Detector is given
(agent/hotswap.py, the skab42 round): the tick's sensor levels (the level hold, agent/alert_levels.py) and the
candidate's own sensor scores by name (the residue end and its floors, agent/alert_residue.py). Before, the shadow's
Detector was built apart from the pipeline's and stepped without either: it judged a candidate without the level
hold, the drifting sensors and the residue rule, so its alert decisions — what `min_agreement` compares — were not
the ones the candidate would make once swapped in. Real parts: the demo bundle, a copy of it delivered to models_dir,
the demo simulator's rows with one sensor stepped far off its normal inside the shadow."""
from __future__ import annotations

import dataclasses
import shutil

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_dict,  # noqa: E402
                      drive_hotswap as drive, sim_rows)
from agent.bundle import read_manifest  # noqa: E402
from agent.config import from_dict  # noqa: E402
from agent.hotswap import HotSwap  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

pytestmark = NO_DEMO
STATION = (3, 4, 5)     # S02's flow, occupancy and speed, stepped together inside the shadow (one sensor alone
                        # stepped is a sensor fault: masked, scored 0)


def test_the_shadow_detector_gets_the_levels_and_the_candidates_sensor_scores(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    d = demo_dict(tmp_path, bundle=str(DEMO_BUNDLE), models_dir=str(models), shadow_ticks=400,
                  profile={"enabled": True})        # (the demo pins the profile off: the residue rule needs it)
    d["warmup"]["ticks"] = WARMUP
    d["alerts"]["hold_sigma"] = 2.0                 # (and the level hold is off in the demo)
    cfg = from_dict(d, base_dir=str(tmp_path))
    pipe = Pipeline(cfg)
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    rows = iter(sim_rows(cfg, days=1.0, anomalies="drop"))
    drive(pipe, swap, rows, until=lambda: True, limit=WARMUP + 10)
    shutil.copytree(DEMO_BUNDLE, models / "candidate")
    drive(pipe, swap, rows, until=lambda: swap.shadow is not None and swap.shadow.settle == 0, limit=600)
    names = cfg.sensor_names()
    stepped = [names[i] for i in STATION]
    norm = read_manifest(DEMO_BUNDLE).normalisation

    def step(rows):
        for r in rows:
            values = r.values.copy()
            for i in STATION:
                values[i] += 4 * norm.std[names[i]]
            yield dataclasses.replace(r, values=values)

    shadow = swap.shadow
    tracker, live = shadow.detector.tracker, pipe.detector.tracker
    # built by the pipeline's own rules: the residue rule, the drifting sensors, the window, the level hold's config
    assert (tracker.residue_fraction, tracker.drifting, tracker.window_ticks, tracker.cfg) == \
        (live.residue_fraction, live.drifting, live.window_ticks, live.cfg) and tracker.residue_fraction > 0
    drive(pipe, swap, step(rows), until=lambda: tracker.open is not None and tracker.open.ticks >= 5, limit=200)
    assert swap.shadow is shadow, "the shadow ended before its alert had lasted five ticks"
    a = tracker.open
    # its drivers: the candidate's top sensors (the shadow's explanation), the stepped station's
    assert a.drivers and set(a.drivers) <= set(stepped), a.drivers
    # the candidate's sensor scores by name, from the tick after the alert opened (the residue rule's peaks)
    assert a.score_peak and set(a.score_peak) <= set(names), a.score_peak
    assert max(a.score_peak, key=a.score_peak.get) in stepped
    assert min(a.score_peak[n] for n in stepped) > shadow.detector.threshold(shadow.scorer.TYPE)
    # the tick's levels: the stepped sensors' level distances past the hold's 2 σ
    assert a.level_top >= 2.0 and all(a.level_high.get(n, 0.0) >= 2.0 for n in stepped), a.level_high
