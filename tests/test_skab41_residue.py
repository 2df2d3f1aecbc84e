"""The residue rule (`scoring.profile.residue_fraction`, agent/alert_residue.py; the skab41 round,
docs/measured/accuracy-skab.md): an open alert a model tier scores ends `subsided` once, for a window of ticks in a
row, it has been over the threshold only through sensors under that share of their own peak in it (and, with the
level hold, back under their level's excursion); no new alert then opens on those sensors under their share.

SKAB other/10's shape: a temperature's onset error is the alert's peak (6 × the threshold), the anomaly's body is
carried by the flow at its own peak, and after the test every sensor sits at a third of its own peak or less — over
the threshold, for as long as the pump stays warm. Real AlertTrackers driven tick by tick, and a real pipeline with a
trained tiny bundle handing the tracker its sensor scores.
"""
from __future__ import annotations

import numpy as np
import pytest

from agent import config
from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.pipeline import Pipeline

THRESHOLD = 5.0
WINDOW = 8


def cfg(**over) -> AlertConfig:
    base = dict(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=1000, subside_fraction=0.2,
                subside_release_ticks=20, hold_sigma=2.0, hold_fraction=0.5)
    return AlertConfig(**{**base, **over})


def tracker(fraction: float = 0.35, **over) -> AlertTracker:
    return AlertTracker(cfg(**over), "gw", "site", 1.0, window_ticks=WINDOW, drifting=("t",),
                        residue_fraction=fraction)


def drive(tr: AlertTracker, ticks: list[tuple[dict, dict]], start: int = 0, tier: str = "tflite") -> list:
    """`ticks`: (sensor scores, observed levels in σ — the drifting "t" has none) per tick."""
    events = []
    for i, (scores, levels) in enumerate(ticks, start):
        score = max(scores.values())
        tops = [{"sensor": k, "score": v, "contribution": 0.5} for k, v in sorted(scores.items(), key=lambda kv: -kv[1])]
        exp = {"top_sensors": tops, "top_steps": [], "origin": None}
        events += tr.observe(float(i), score, THRESHOLD, tier, lambda: {"model_id": "m"}, lambda e=exp: e,
                             levels=lambda lv=levels: lv, scores=lambda s=scores: s)
    return events


def test_flow(f_level_after: float = 5.0, tail: int = 30) -> list[tuple[dict, dict]]:
    """Quiet; the temperature's onset (30: the peak, on the tick after the one the alert opened on — the rule tracks
    the ticks after it); the body carried by the flow at its own peak (20, level 20 σ);
    then the residue: the temperature at 8 (0.27 of its peak), the flow at 6 (0.3 of its), both over the threshold,
    the flow's level at `f_level_after` σ."""
    quiet = [({"t": 1.0, "f": 1.0}, {"f": 0.0})] * 3
    onset = [({"t": 12.0, "f": 4.0}, {"f": 3.0}), ({"t": 14.0, "f": 5.0}, {"f": 5.0}),      # it opens on the 2nd
             ({"t": 30.0, "f": 8.0}, {"f": 10.0})]
    body = [({"t": 9.0, "f": 20.0}, {"f": 20.0})] * 20
    after = [({"t": 8.0, "f": 6.0}, {"f": f_level_after})] * tail
    return quiet + onset + body + after


test_flow.__test__ = False      # (a builder of ticks, not a test)
RESIDUE_FROM = 26               # the first tick of `after`


def ends(events) -> list[tuple[str, float]]:
    return [(e.reason, e.ts) for e in events if e.event == "end"]


def test_an_alert_held_only_by_its_sensors_residue_ends_after_a_window_of_it():
    ev = drive(tracker(), test_flow())
    # the window's 8th residue tick ends it; its span runs through those ticks (they were over the threshold)
    assert ends(ev) == [("subsided", RESIDUE_FROM + WINDOW - 1)]
    end = [e for e in ev if e.event == "end"][0]
    assert end.end == RESIDUE_FROM + WINDOW - 1 and end.peak_score == 30.0 and end.score == 8.0 > THRESHOLD
    # and the residue after it opens nothing (each sensor under its share of its peak in the ended alert)
    assert [e.event for e in ev if e.event == "new"] == ["new"]


def test_off_the_same_residue_holds_the_alert_open_to_the_end():
    for tr in (tracker(0.0), AlertTracker(cfg(), "gw", "site", 1.0, window_ticks=WINDOW, drifting=("t",))):
        ev = drive(tr, test_flow())
        assert ends(ev) == [] and tr.open is not None        # 8 > 0.2 × 30: not subsided, over the threshold


def test_a_sensor_whose_level_stays_at_its_excursion_still_counts():
    """The flow's onset made its peak, but its level is still 15 σ (≥ half its 20 σ): a lasting shift, not residue."""
    ev = drive(tracker(), test_flow(f_level_after=15.0))
    assert ends(ev) == []


def test_a_sensor_back_over_its_share_restarts_the_window():
    ticks = test_flow(tail=WINDOW - 1) + [({"t": 8.0, "f": 12.0}, {"f": 5.0})] + [({"t": 8.0, "f": 6.0}, {"f": 5.0})] * 20
    ev = drive(tracker(), ticks)
    # seven residue ticks (26-32), then the flow at 12 (0.6 of its peak) on tick 33 counts: the residue starts again
    # on 34, and its 8th tick (41) ends the alert
    assert ends(ev) == [("subsided", RESIDUE_FROM + 2 * WINDOW - 1)]


def test_a_new_excursion_over_its_floor_opens_a_new_alert():
    ticks = test_flow(tail=WINDOW + 5) + [({"t": 8.0, "f": 12.0}, {"f": 12.0})] * 3
    ev = drive(tracker(), ticks)
    first_end = RESIDUE_FROM + WINDOW - 1
    assert ends(ev) == [("subsided", first_end)]
    news = [e for e in ev if e.event == "new"]
    assert len(news) == 2 and news[1].start == first_end + 6       # the flow at 12 > (0.35 + 0.15) × 20: it opens


def test_a_residue_drifting_up_after_the_end_opens_nothing_under_its_floor():
    """skab42: SKAB's residue climbed after the end (the accelerometer from 0.26 to 0.46 of its peak); at 0.35 × the
    peak the floors let it open an alert that ran to the end of the file. The floors stand at fraction + 0.15."""
    ticks = test_flow(tail=WINDOW + 5) + [({"t": 8.0, "f": 9.0}, {"f": 5.0})] * 40    # 9 = 0.45 × 20: over 0.35 ×
    ev = drive(tracker(), ticks)
    assert ends(ev) == [("subsided", RESIDUE_FROM + WINDOW - 1)] and [e.event for e in ev].count("new") == 1


def test_the_fallbacks_ticks_are_not_judged_by_it():
    """The numpy fallback learns a new level (no residue of its own): its alerts end as they always did."""
    ev = drive(tracker(), test_flow(), tier="numpy")
    assert ends(ev) == []


def test_the_residue_and_its_floors_survive_the_trackers_state_round_trip():
    ticks = test_flow(tail=WINDOW + 10)
    split = RESIDUE_FROM + 3                    # inside the residue's window
    tr = tracker()
    assert [e.event for e in drive(tr, ticks[:split])] == ["new"]
    again = tracker()
    again.restore(tr.state_dict())
    assert again.open.score_peak == {"t": 30.0, "f": 20.0} and again.open.residue_ticks == 3
    for t in (tr, again):
        assert ends(drive(t, ticks[split:], start=split)) == [("subsided", RESIDUE_FROM + WINDOW - 1)]
    state = tr.state_dict()
    assert state["residue_floor"] == pytest.approx({"t": 15.0, "f": 10.0})       # (0.35 + 0.15) × the peaks
    later = tracker()
    later.restore(state)
    assert drive(later, [({"t": 8.0, "f": 6.0}, {"f": 5.0})] * 5, start=100) == []     # still under its floors
    # a checkpoint written before the rule existed has no floors; a damaged one is refused by name
    del state["residue_floor"]
    older = tracker()
    older.restore(state)
    assert older.residue_floor == {}
    for bad in ({"f": "7"}, {"f": float("nan")}, {"f": -1.0}, {"f": 10 ** 400}):     # the sensor named (review31)
        with pytest.raises(ValueError, match=r"alerts\.residue_floor\.f: expected a finite number"):
            tracker().restore({**state, "residue_floor": {"t": 1.0, **bad}})
    with pytest.raises(ValueError, match=r"alerts\.residue_floor: expected \{sensor"):
        tracker().restore({**state, "residue_floor": ["f"]})


def test_the_key_is_typed_checked_by_its_path_and_reaches_the_tracker_only_with_the_profile_on():
    base = {"sensors": ["a", "b"], "sources": [{"type": "stdin"}], "scoring": {"chain": ["numpy"]},
            "warmup": {"ticks": 300}}
    assert config.from_dict(base).scoring.profile.residue_fraction == 0.35           # the skab41 round's default
    assert Pipeline(config.from_dict(base)).detector.tracker.residue_fraction == 0.35
    given = {**base, "scoring": {"chain": ["numpy"], "profile": {"residue_fraction": 0}}}
    assert Pipeline(config.from_dict(given)).detector.tracker.residue_fraction == 0.0
    pinned_off = {**base, "scoring": {"chain": ["numpy"], "profile": {"enabled": False}}}    # (configs/demo.yaml)
    assert Pipeline(config.from_dict(pinned_off)).detector.tracker.residue_fraction == 0.0
    for bad in (1.5, "a third"):
        with pytest.raises(Exception, match="scoring.profile.residue_fraction"):
            config.from_dict({**base, "scoring": {"chain": ["numpy"], "profile": {"residue_fraction": bad}}})


def test_a_real_pipeline_hands_its_alert_tracker_the_ticks_sensor_scores(tmp_path):
    """The demo corridor with a trained tiny bundle (tflite): while an alert is open, the tracker's per-sensor peaks
    are the largest sensor scores the pipeline's ticks gave after the one it opened on, by sensor name; the window is
    the config's."""
    pytest.importorskip("torch")
    pytest.importorskip("ai_edge_litert")
    from conftest import demo_cfg, sim_rows, tiny_bundle
    cfg = demo_cfg(tmp_path, warmup_ticks=300, bundle=str(tiny_bundle()),
                   profile={"enabled": True})      # (the demo config pins the profile off; the key by default)
    pipe = Pipeline(cfg)
    tr = pipe.detector.tracker
    assert (tr.residue_fraction, tr.window_ticks) == (0.35, cfg.window.steps)
    peaks: dict[str, float] | None = None
    checked = 0
    for row in sim_rows(cfg, days=2.0, seed=5, anomalies="keep"):
        res = pipe.step(row)
        if res.warming:
            continue
        if tr.open is None or res.tier == "numpy":
            peaks = None
            continue
        by_name = dict(zip(cfg.sensor_names(), np.nan_to_num(np.asarray(res.sensor_scores, float)).tolist()))
        if peaks is None:           # the tick it opened on: the rule judges (and tracks) the ticks after it
            peaks = {}
            continue
        peaks = {k: max(peaks.get(k, v), v) for k, v in by_name.items()}
        assert tr.open.score_peak == pytest.approx(peaks)
        checked += 1
        if checked >= 20:
            break
    assert checked >= 20, "no alert of the model tier lasted 20 ticks in two simulated days"


def test_a_restart_that_refills_the_window_starts_the_residue_count_again():
    """The residue's ticks in a row before a downtime are not adjacent to those after it (as the calm counts are
    not, AlertTracker.resumed): after a refilling restart a whole window of residue is needed again (review31: the
    alert ended on the 3rd scored tick after the refill)."""
    ticks = test_flow()
    tr = tracker()
    before = drive(tr, ticks[:RESIDUE_FROM + 5])           # five residue ticks, then the stop
    assert ends(before) == [] and tr.open.residue_ticks == 5
    tr.resumed(600.0, refilled=True)
    after = drive(tr, ticks[RESIDUE_FROM + 5:], start=RESIDUE_FROM + 5 + 600)
    assert ends(after)[:1] == [("subsided", RESIDUE_FROM + 5 + 600 + WINDOW - 1)]


def test_a_tick_the_fallback_scores_breaks_the_residues_run():
    """The residue end asks for a window of a model tier's ticks in a row; a tick the fallback scored (a tier that
    flapped) is not one (review31: the count ran on across it)."""
    ticks = test_flow()
    tr = tracker()
    drive(tr, ticks[:RESIDUE_FROM + 5])
    drive(tr, ticks[RESIDUE_FROM + 5:RESIDUE_FROM + 6], start=RESIDUE_FROM + 5, tier="numpy")
    ev = drive(tr, ticks[RESIDUE_FROM + 6:], start=RESIDUE_FROM + 6)
    assert ends(ev)[:1] == [("subsided", RESIDUE_FROM + 6 + WINDOW - 1)]
