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
hot swaps (a copy of the bundle delivered into models_dir, shadow-scored, swapped in), real checkpoint files, an
Agent; and a real tracker, tick by tick, for what the old peaks did to a new model's lower scores. (On the demo the
swapped-in copy, fitted on the day's recent ticks, scores higher than the model it replaces: there the old peaks
changed no end; a model scoring lower ends as the last test shows.)
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

from agent.alerts import AlertTracker  # noqa: E402
from agent.checkpoint import CHECKPOINT_FILE  # noqa: E402
from agent.config import AlertConfig  # noqa: E402
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


def _tracker() -> AlertTracker:
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=1000,
                      subside_fraction=0.2, subside_release_ticks=20, hold_sigma=2.0, hold_fraction=0.5)
    return AlertTracker(cfg, "gw", "site", 1.0, window_ticks=8, residue_fraction=0.35)


def _ticks(tr: AlertTracker, ticks: list[tuple[dict, dict]], start: int) -> list:
    events = []
    for i, (scores, levels) in enumerate(ticks, start):
        tops = [{"sensor": k, "score": v, "contribution": 0.5} for k, v in scores.items()]
        exp = {"top_sensors": tops, "top_steps": [], "origin": None}
        events += tr.observe(float(i), max(scores.values()), 5.0, "tflite", lambda: {"model_id": "m"},
                             lambda e=exp: e, levels=lambda lv=levels: lv, scores=lambda s=scores: s)
    return events


OLD_MODEL = [({"t": 1.0, "f": 1.0}, {"f": 0.0})] * 3 + [({"t": 12.0, "f": 5.0}, {"f": 5.0})] * 2 + \
    [({"t": 30.0, "f": 20.0}, {"f": 20.0})] * 10          # the old model's peaks: t 30, f 20 (level 20 σ)
#: the anomaly goes on (the flow's level 9 σ, under half its 20 σ: not held by its level), scored by a new model whose
#: scale is lower: its own peaks, t 8 and f 6.5, about a third of the old ones
NEW_MODEL = [({"t": 8.0, "f": 6.5}, {"f": 9.0})] * 12


def test_what_the_old_peaks_did_to_the_new_models_scores_and_what_forgetting_them_does():
    """The consequence, tick by tick, on a real tracker: judged against the old model's peaks, the new model's own
    excursion is residue (every sensor under 0.35 of its old peak) and the alert ends `subsided` after a window, its
    floors (0.5 × the old peaks) then keeping the new model's next excursion from opening; forgotten at the swap, the
    alert goes on, as the new model scores it."""
    kept, forgot = _tracker(), _tracker()
    for tr in (kept, forgot):
        assert [e.event for e in _ticks(tr, OLD_MODEL, 0)] == ["new"]
    assert forgot.new_model_scale() and forgot.open.score_peak == {} and forgot.residue_floor == {}
    ended = _ticks(kept, NEW_MODEL, len(OLD_MODEL))
    assert [(e.event, e.reason) for e in ended] == [("end", "subsided")] and kept.residue_floor
    assert _ticks(kept, [({"t": 8.0, "f": 9.5}, {"f": 12.0})] * 5, 100) == []      # under the old floor f 10
    assert [e.event for e in _ticks(forgot, NEW_MODEL, len(OLD_MODEL))] == [] and forgot.open is not None
    assert forgot.open.score_peak == {"t": 8.0, "f": 6.5}
