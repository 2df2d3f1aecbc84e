"""The residue rule's per-sensor state is the scoring model's: a new model forgets it (review32).

The residue rule (agent/alert_residue.py) keeps, per sensor, the open alert's largest score and, after an alert ended
on its residue, floors at a share of those peaks. They are scores of the model that scored the alert. A hot swap
(agent/hotswap.py) or a restart onto another bundle or profile (agent/pipeline_state.py) puts in a model prepared on
other ticks, whose scores are on another scale — the profile is fitted again on the recent ticks — and the old
peaks and floors went on judging it: the new model's scores counted as residue against the old peaks (the alert
ended `subsided` while the new model still saw it), and the old floors kept the next alert from opening until a
calm tick. Now the swap and such a restore forget them (AlertTracker.new_model_scale), as does a restart whose model
tier is fitted on a warm-up of its own.

Real parts: the demo bundle and copies of it, the demo simulator's rows with the profile on (its daily ramp keeps
the score over the threshold for hours: an alert opens, ends on its residue after its peak, and floors stand), real
hot swaps (a copy of the bundle delivered into models_dir, shadow-scored, swapped in) and real checkpoint files.
"""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, demo_cfg, drive_hotswap,  # noqa: E402
                      hotswap_pipeline, sim_rows, variant)
from swap_life import close, restart_onto  # noqa: E402

from agent.checkpoint import CHECKPOINT_FILE  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO
PROFILE = {"enabled": True}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """The demo simulator's rows, 3 days (seed 7, the scripted anomalies left out): with the profile on, an alert
    opens a few hours after the warm-up and ends on its residue (`subsided`, floors set) about a day later."""
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=3.0, anomalies="drop")


def _swapping(tmp_path):
    """(pipeline, HotSwap, models_dir): the demo bundle, the profile on; any agreement in shadow is enough (what
    is judged here is what happens after the swap)."""
    return hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=10, profile=PROFILE, shadow_min_agreement=0.0)


def _deliver(models) -> None:
    """A copy of the demo bundle renamed into models_dir, as README says to deliver one."""
    shutil.copytree(DEMO_BUNDLE, models / ".candidate.tmp")
    (models / ".candidate.tmp").rename(models / "candidate")


def test_a_hot_swap_forgets_the_floors_an_alert_ended_on_its_residue_left(tmp_path, rows):
    pipe, swap, models = _swapping(tmp_path)
    tr = pipe.alerts
    it = iter(rows)
    drive_hotswap(pipe, swap, it, until=lambda: bool(tr.residue_floor), limit=len(rows))
    assert tr.open is None and tr.residue_floor, "no alert ended on its residue"
    _deliver(models)
    out = drive_hotswap(pipe, swap, it, until=lambda: swap.accepted == 1, limit=600)
    # (no calm tick since the end: the floors were not lifted by the rule that lifts them)
    assert all(r.score > r.threshold for r in out), "a calm tick lifted the floors before the swap"
    assert tr.residue_floor == {}, "the old model's floors judge the new model's scores"


def test_a_hot_swap_judges_the_open_alerts_residue_on_the_new_models_scores(tmp_path, rows):
    pipe, swap, models = _swapping(tmp_path)
    tr = pipe.alerts
    names = pipe.cfg.sensor_names()
    it = iter(rows)
    drive_hotswap(pipe, swap, it, until=lambda: tr.open is not None and tr.open.ticks >= 100, limit=len(rows))
    assert len(tr.open.score_peak) == len(names)        # the old model's peaks, every sensor's
    opened = tr.open.alert_id
    _deliver(models)
    drive_hotswap(pipe, swap, it, until=lambda: swap.accepted == 1, limit=600)
    assert tr.open is not None and tr.open.alert_id == opened, "the alert ended before the swap"
    peaks: dict[str, float] = {}
    for _ in range(5):              # the new model's ticks: the alert's peaks are theirs, not the old model's
        [res] = drive_hotswap(pipe, swap, it, until=lambda: True, limit=1)
        assert res.tier == "tflite" and tr.open is not None and tr.open.alert_id == opened
        scores = dict(zip(names, np.nan_to_num(np.asarray(res.sensor_scores, float)).tolist()))
        peaks = {k: max(peaks.get(k, v), v) for k, v in scores.items()}
        assert tr.open.score_peak == pytest.approx(peaks)


@pytest.mark.parametrize("change", ["another bundle", "the same bundle and config"])
def test_a_restart_onto_another_bundle_forgets_them_and_one_onto_the_same_keeps_them(tmp_path, rows, change):
    first = _until_floors(tmp_path, rows)
    floors = dict(first.alerts.residue_floor)
    if change == "another bundle":
        b = variant("demo-b-review32", src=DEMO_BUNDLE, model_id="demo-b")
        cfg = demo_cfg(tmp_path / "second", warmup_ticks=HOTSWAP_WARMUP, bundle=str(b), profile=PROFILE)
    else:
        cfg = first.cfg
    restored, why = restart_onto(first, cfg, tmp_path / "ckpt")
    if change == "another bundle":
        assert why and "the model differs" in why and restored.chain.current.profile.fitted
        assert restored.alerts.residue_floor == {}
    else:
        assert why is None and restored.alerts.residue_floor == pytest.approx(floors)


def _until_floors(tmp_path, rows) -> Pipeline:
    """A pipeline (the demo bundle, the profile on) stepped until an alert ended on its residue."""
    pipe = Pipeline(demo_cfg(tmp_path / "first", warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE),
                             profile=PROFILE))
    for r in rows:
        pipe.step(r)
        if pipe.alerts.residue_floor:
            return pipe
    raise AssertionError("no alert ended on its residue")


def test_a_restart_that_warms_up_again_forgets_the_journals_floors(tmp_path, caplog):
    """The alert journal holds the tracker as it was at the last alert event — here the end on the residue, with its
    floors. A restart without a usable checkpoint takes that tracker and warms up: the profile is fitted on a warm-up
    of its own, so those floors are another model's scores. A real Agent on the demo's simulated source."""
    cfg = demo_cfg(tmp_path, warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE), profile=PROFILE)
    first = Agent(cfg, max_ticks=3000)
    first.run()
    journal = json.loads((tmp_path / "alert-journal.json").read_text())
    assert (journal["event"]["event"], journal["event"]["reason"]) == ("end", "subsided")
    assert journal["tracker"]["state"]["residue_floor"], "the journal holds no floors"
    (tmp_path / CHECKPOINT_FILE).unlink()
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(demo_cfg(tmp_path, warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE), profile=PROFILE),
                  max_ticks=5)
    try:
        assert not agent.pipeline.warm and agent.pipeline.alerts.raised == journal["tracker"]["state"]["raised"]
        assert agent.pipeline.alerts.residue_floor == {}
        assert any("peaks and floors were the last run's model's scores" in r.getMessage() for r in caplog.records)
    finally:
        close(agent)
