"""A release's verdicts are aged by their place in the record (the newest last), as `bound` ages them — not by `at`,
the wall clock when each was recorded (review47).

swap10 moved `bound` to the place (verdicts recorded within one millisecond tied on `at`, and the oldest was kept);
`withdraw` (which verdict of a gone release becomes `withdrawn`) and `newest_first` (health's order) still read `at`.
A gateway's clock steps back (an RTC-less board booted on its last saved time, then NTP; an operator's correction):
a verdict recorded after the step has the smaller `at`, so the release's older verdict was withdrawn and health
listed the verdicts out of order."""
from __future__ import annotations

from pathlib import Path

from agent.release_verdicts import REFUSED_SHADOW, SWAPPED_IN, WITHDRAWN, Verdicts

RELEASE = "/models/pump-v3"


def stepped_back() -> Verdicts:
    """A record kept across a step back of the clock: v3 refused by the shadow, then (after the step, smaller `at`)
    v3 rewritten in place and swapped in, under its new manifest digest."""
    return Verdicts.from_json({
        "d-old": {"release": RELEASE, "verdict": REFUSED_SHADOW, "why": "alerted on 9 of 10 calm hours",
                  "at": 1_800_000_000.0},
        "d-other": {"release": "/models/pump-v2", "verdict": SWAPPED_IN, "why": None, "at": 1_800_000_100.0},
        "d-new": {"release": RELEASE, "verdict": SWAPPED_IN, "why": "shadow: agreed", "at": 1_799_990_000.0}})


def test_withdraw_takes_the_newest_verdict_of_the_release_by_its_place():
    v = stepped_back()
    v.withdraw(Path(RELEASE), "gone from models_dir")
    # on 740108ec: d-old (the larger `at`) became `withdrawn` — the shadow's refusal lost — and d-new stayed swapped in
    assert v.of("d-old")["verdict"] == REFUSED_SHADOW
    assert v.of("d-new")["verdict"] == WITHDRAWN
    assert list(v.to_json())[-1] == "d-new"             # (recorded again: the newest)


def test_health_lists_the_verdicts_newest_first_by_their_place():
    # on 740108ec: ['d-other', 'd-old', 'd-new'] (by `at`)
    assert [e["manifest_sha256"] for e in stepped_back().newest_first()] == ["d-new", "d-other", "d-old"]
