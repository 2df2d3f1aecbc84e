"""The subsided rule's peak and floor are the scoring model's: a new model forgets them (review33).

The tracker is fed the tier's raw score and raw threshold (agent/detector.py `step`), not scores in threshold
units, so the whole-score `floor` a subsided alert leaves (subside_fraction × its peak) and the open alert's peak the
subsided rule judges against are on the scale of the model that scored them. review32 made a model change forget
the residue rule's per-sensor peaks and floors and left these two. On the demo (profile on) a swapped-in copy of
the bundle, its profile fitted on the recent ticks, scores the plant on another scale altogether: 3.8 on the tick
where the old model scored 225, after an alert that peaked at 618 (its threshold 3.8 → 4.6: the thresholds' ratio
is no measure of it). The old floor (309) then kept every alert of the new model from opening until
`subside_release_ticks` calm ticks in a row (skab.yaml's 60); with the alert open at the swap, the new model's
scores were all under subside_fraction × the old peak: it ended `subsided` and set that floor.

Real parts: the demo bundle and a copy of it delivered into models_dir, the demo simulator's rows (3 days, seed of
`sim_rows`, the scripted anomalies left out), real hot swaps (shadow-scored, swapped in), the events checked
against agent/schemas/alert.schema.json.
"""
from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("ai_edge_litert")
jsonschema = pytest.importorskip("jsonschema")

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, REPO, demo_dict, drive_hotswap, sim_rows  # noqa: E402

from agent.config import from_dict  # noqa: E402
from agent.hotswap import HotSwap  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

pytestmark = NO_DEMO
FRACTION, RELEASE = 0.5, 60     # subside_fraction (off in demo.yaml); skab.yaml's subside_release_ticks


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    d = tmp_path_factory.mktemp("rows")
    return sim_rows(from_dict(demo_dict(d), base_dir=str(REPO)), days=3.0, anomalies="drop")


def _swapping(tmp_path):
    """(pipeline, HotSwap, models_dir): the demo bundle, the profile on, the subsided rule on."""
    models = tmp_path / "models"
    models.mkdir()
    d = demo_dict(tmp_path, bundle=str(DEMO_BUNDLE), models_dir=str(models), shadow_ticks=10,
                  profile={"enabled": True}, shadow_min_agreement=0.0)
    d["warmup"]["ticks"] = HOTSWAP_WARMUP
    d["alerts"].update(subside_fraction=FRACTION, subside_release_ticks=RELEASE)
    pipe = Pipeline(from_dict(d, base_dir=str(REPO)))
    return pipe, HotSwap(pipe.cfg, pipe, poll_ticks=2), models


def _swap(pipe, swap, models, it, limit):
    shutil.copytree(DEMO_BUNDLE, models / ".candidate.tmp")
    (models / ".candidate.tmp").rename(models / "candidate")
    swap.request()
    return drive_hotswap(pipe, swap, it, until=lambda: swap.status()["last"] is not None, limit=limit)


def _valid(events) -> None:
    schema = json.loads((REPO / "agent" / "schemas" / "alert.schema.json").read_text())
    for ev in events:
        jsonschema.validate(ev.to_dict(), schema)


def test_after_a_swap_the_old_models_subsided_floor_keeps_no_alert_from_opening(tmp_path, rows):
    pipe, swap, models = _swapping(tmp_path)
    tr, it = pipe.alerts, iter(rows)
    drive_hotswap(pipe, swap, it, until=lambda: tr.open is None and tr.floor > 0, limit=len(rows))
    old_floor = tr.floor
    out = _swap(pipe, swap, models, it, len(rows))
    assert swap.status()["last"]["accepted"]
    after = []
    for row in it:                  # the new model's ticks until it opens an alert (or a day of them)
        after.append(pipe.step(row))
        if tr.open is not None or len(after) > 2880:
            break
    over = [r for r in after if r.score > r.threshold]
    assert over and max(r.score for r in over) < old_floor, "the case: the new model's scores under the old floor"
    assert tr.open is not None, "no alert opened over the new model's threshold in a day"
    # it opened by the time `min_duration_ticks` ticks in a row were over the new threshold (and a sensor-fault
    # hold-back's ticks more), not after RELEASE calm ones (on the old floor: 1213 ticks after the swap, not 54)
    need, hold = pipe.cfg.alerts.min_duration_ticks, pipe.alerts.hold_ticks
    run, due = 0, None
    for k, r in enumerate(after):
        run = run + 1 if r.score > r.threshold else 0
        if run >= need and due is None:
            due = k
    opened = next(k for k, r in enumerate(after) if any(e.event == "new" for e in r.alerts))
    assert due is None or opened <= due + hold, f"opened {opened} ticks after the swap, due at {due}"
    _valid([e for r in after for e in r.alerts])


def test_an_alert_open_at_a_swap_is_judged_subsided_against_the_new_models_scores(tmp_path, rows):
    pipe, swap, models = _swapping(tmp_path)
    tr, it = pipe.alerts, iter(rows)
    drive_hotswap(pipe, swap, it, until=lambda: tr.open is not None and tr.open.peak > 400, limit=len(rows))
    alert_id, old_peak = tr.open.alert_id, tr.open.peak
    out = _swap(pipe, swap, models, it, len(rows))
    assert swap.status()["last"]["accepted"]
    new_scores, events = [], []
    for row in list(it)[:600]:
        res = pipe.step(row)
        new_scores.append(res.score)
        events += res.alerts
        if tr.floor > 0:
            break
    assert max(new_scores) < FRACTION * old_peak, "the case: the new model scores under the old peak's bar"
    ours = [e for e in events if e.alert_id == alert_id]
    assert all(e.peak_score >= round(old_peak, 4) for e in ours), "peak_score is the alert's peak over its life"
    # a subsided end after the swap set its floor from the new model's scores, not the old peak
    assert tr.floor <= FRACTION * max(new_scores), (tr.floor, old_peak)
    _valid([e for r in out for e in r.alerts] + events)


def test_a_journal_whose_peak_since_a_model_change_is_no_number_is_refused_by_name():
    """The new OpenAlert field is checked like the others (agent/journaled.py): a string there stopped the tick
    that judged the alert (TypeError)."""
    from agent.journaled import open_alert_problem
    a = {"alert_id": "gw-1", "seq": 1, "start": 1.0, "last_above": 2.0, "peak": 5.0, "ticks": 2,
         "explain": {"top_sensors": [], "top_steps": []}}
    assert open_alert_problem({"open": {**a, "model_peak": None}}) is None
    assert open_alert_problem({"open": {**a, "model_peak": 4.5}}) is None
    assert open_alert_problem({"open": {**a, "model_peak": "4.5"}}) == \
        "alerts.open.model_peak: '4.5' is not a finite number (or null)"
