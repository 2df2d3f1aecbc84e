"""review21's finding 6: a hot-swapped bundle's shadow logged `score correlation -0.752` and nothing
judged it. `scoring.shadow_min_correlation` rejects a candidate below the floor, with the figures, in
the log and health's `model_update.last`, counted; unset (the default, chosen from measurement:
docs/measured/model-updates.md) the correlation is logged only, as before. An undefined correlation
(one side's scores constant over the shadow: a calm stretch) lengthens the shadow, and when the
running model's scores never move the floor says it could not judge — neither a silent pass nor a
rejection of a good bundle. Real parts: the demo bundle shipped until corridor24 (conftest's DEMO_BUNDLE_1001:
S03_flow's normalisation ×100 takes its score correlation over the shadow below 0.9; the bundle shipped since
keeps 0.99 there), copies of it (one with a sensor's normalisation ×100: a bundle on another scale), the demo
simulator's rows."""
from __future__ import annotations

import dataclasses
import logging
import shutil

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE_1001 as BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, sim_rows, write_manifest)
from agent.bundle import read_manifest  # noqa: E402
from agent.hotswap import UNDEFINED_LONGEST, HotSwap  # noqa: E402
from agent.manifest import Normalisation  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.window import Row  # noqa: E402

pytestmark = NO_DEMO
SHADOW = 30


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


def _running(tmp_path, rows, floor=None, off_scale=None, shadow_ticks=SHADOW, **scoring):
    """(pipeline, its HotSwap, models_dir) on the demo bundle, warmed up, with the floor (and the
    share of sensors off scale that refuses) set."""
    models = tmp_path / "models"
    models.mkdir()
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(BUNDLE), models_dir=str(models),
                   shadow_ticks=shadow_ticks, shadow_min_correlation=floor, shadow_refuse_off_scale=off_scale, **scoring)
    pipe = Pipeline(cfg)
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    drive(pipe, swap, rows, until=lambda: True)
    return pipe, swap, models


def _deliver(models, sensor: str | list[str] | None = None, factor: float = 1.0, far: bool = False) -> None:
    """A copy of the demo bundle into models_dir; with `sensor` (or a list), its normalisation of
    that sensor that of readings `factor`× larger (a bundle trained on data in another unit, or on
    another plant's ranges); `far`: every sensor's mean 1e12 (std 1), so far off that float32
    inputs, and with them its scores, never move."""
    out = models / "candidate"
    shutil.copytree(BUNDLE, out)
    (out / "manifest.sig").unlink(missing_ok=True)
    m = read_manifest(out)
    mean, std = dict(m.normalisation.mean), dict(m.normalisation.std)
    for name in [sensor] if isinstance(sensor, str) else sensor or []:
        mean[name] *= factor
        std[name] *= factor
    if far:
        mean, std = dict.fromkeys(mean, 1e12), dict.fromkeys(std, 1.0)
    write_manifest(out, dataclasses.replace(m, model_id="candidate", normalisation=Normalisation(mean=mean, std=std)))


def _judged(pipe, swap, rows, limit=300):
    drive(pipe, swap, rows, until=lambda: swap.status()["last"] is not None, limit=limit)
    return swap.status()


def test_a_candidate_below_the_floor_is_rejected_with_its_figures(tmp_path, rows, caplog):
    pipe, swap, models = _running(tmp_path, rows, floor=0.9)
    caplog.set_level(logging.WARNING)
    _deliver(models, "S03_flow", 100.0)
    status = _judged(pipe, swap, rows[WARMUP + 1:])
    assert status["rejected"] == 1 and status["accepted"] == 0
    reason = status["last"]["reason"]
    assert reason.startswith("score correlation below scoring.shadow_min_correlation 0.9: ") and \
        f"{SHADOW} shadow ticks, score correlation 0." in reason, reason
    assert any("rejected" in r.getMessage() and reason in r.getMessage() for r in caplog.records), caplog.text
    assert pipe.model_id() != "candidate"


def test_a_copy_of_the_running_bundle_passes_the_floor(tmp_path, rows):
    pipe, swap, models = _running(tmp_path, rows, floor=0.9)
    _deliver(models)
    status = _judged(pipe, swap, rows[WARMUP + 1:])
    assert status["last"]["accepted"] and status["last"]["score_correlation"] >= 0.9, status
    assert pipe.model_id() == "candidate"


def test_unset_the_correlation_is_logged_not_judged(tmp_path, rows):
    pipe, swap, models = _running(tmp_path, rows, floor=None)
    _deliver(models, "S03_flow", 100.0)
    status = _judged(pipe, swap, rows[WARMUP + 1:])
    assert status["last"]["accepted"] and status["last"]["score_correlation"] < 0.9, status


def test_a_calm_stretch_lengthens_the_shadow_and_is_said_not_passed_silently(tmp_path, rows, caplog):
    pipe, swap, models = _running(tmp_path, rows, floor=0.9)
    caplog.set_level(logging.INFO)
    n, last = len(pipe.sensors), rows[WARMUP].ts
    calm = [Row(ts=last + 30.0 * (i + 1), values=np.full(n, np.nan), missing=np.ones(n, bool),
                carried=np.zeros(n, bool)) for i in range(UNDEFINED_LONGEST * SHADOW + 60)]
    _deliver(models)
    status = _judged(pipe, swap, calm, limit=len(calm))
    text = caplog.text
    assert f"score correlation undefined over {SHADOW} shadow ticks" in text and "the shadow goes on" in text, text
    assert (f"score correlation undefined over {UNDEFINED_LONGEST * SHADOW} shadow ticks (the running model's "
            "scores constant") in text and "could not judge it" in text, text
    assert status["last"]["accepted"] and status["last"]["score_correlation"] is None, status


def test_a_candidate_whose_scores_never_move_is_rejected_after_the_longest_shadow(tmp_path, rows):
    pipe, swap, models = _running(tmp_path, rows, floor=0.5)
    _deliver(models, far=True)
    status = _judged(pipe, swap, rows[WARMUP + 1:], limit=UNDEFINED_LONGEST * SHADOW + 60)
    assert not status["last"]["accepted"], status
    assert status["last"]["reason"].startswith("its scores did not move while the running model's did") and \
        f"{UNDEFINED_LONGEST * SHADOW} shadow ticks, score correlation undefined" in status["last"]["reason"], status


def test_a_candidate_off_scale_on_the_share_set_is_rejected_naming_the_sensors(tmp_path, rows, caplog):
    # Alert agreement not judged: half the sensors 100× off also disagree on alerts, which rejects it first.
    pipe, swap, models = _running(tmp_path, rows, off_scale=0.5, shadow_min_agreement=0.0)
    caplog.set_level(logging.WARNING)
    half = pipe.sensors[::2]
    _deliver(models, half, 100.0)
    status = _judged(pipe, swap, rows[WARMUP + 1:])
    assert status["rejected"] == 1 and not status["last"]["accepted"], status
    reason = status["last"]["reason"]
    assert reason.startswith(f"{len(half)} of {len(pipe.sensors)} sensors' readings not on its scale ({half[0]}, ") \
        and "scoring.shadow_refuse_off_scale 0.5" in reason and f"{SHADOW} shadow ticks" in reason, reason
    assert sum("not the bundle's scale" in r.getMessage() for r in caplog.records) == len(half), caplog.text
    assert pipe.model_id() != "candidate"


def test_fewer_sensors_off_scale_than_the_share_are_said_and_swapped_in(tmp_path, rows, caplog):
    pipe, swap, models = _running(tmp_path, rows, off_scale=0.5)
    caplog.set_level(logging.WARNING)
    _deliver(models, pipe.sensors[4], 100.0)
    status = _judged(pipe, swap, rows[WARMUP + 1:])
    assert status["last"]["accepted"], status
    assert f"{pipe.sensors[4]}: the last " in caplog.text and "not the bundle's scale" in caplog.text


def test_unset_a_candidate_off_scale_on_half_the_sensors_is_said_not_refused(tmp_path, rows):
    pipe, swap, models = _running(tmp_path, rows, shadow_min_agreement=0.0)
    _deliver(models, pipe.sensors[::2], 100.0)
    assert _judged(pipe, swap, rows[WARMUP + 1:])["last"]["accepted"]


def test_the_shadow_scores_a_sensor_just_back_from_a_fault_as_the_tick_does(tmp_path, rows):
    """A 10-tick outage of every sensor inside the shadow: the running model's scores of the sensors
    coming back are quieted (agent/faults: no score from a sensor just back); the candidate's were not,
    and the running bundle's own copy correlated 0.43 with it. Scored alike, it correlates 1."""
    pipe, swap, models = _running(tmp_path, rows, floor=0.9, shadow_ticks=60)
    n = len(pipe.sensors)
    feed = [r if not 20 <= i < 30 else dataclasses.replace(r, values=np.full(n, np.nan), missing=np.ones(n, bool),
                                                         carried=np.zeros(n, bool))
            for i, r in enumerate(rows[WARMUP + 1:])]
    _deliver(models)
    status = _judged(pipe, swap, feed)
    assert status["last"]["accepted"] and status["last"]["score_correlation"] >= 0.99, status
