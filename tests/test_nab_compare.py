"""bench/nab_compare.py: a NAB variant is eligible on a half only when it gains 0.5, no category loses
more than one false alarm's cost, and the gain does not rest on one file."""
from __future__ import annotations

from agent.evaluate import nab
from bench.nab_compare import MAX_CATEGORY_LOSS, half_scores, judge


def per_file(raws: dict[str, float]) -> dict:
    """One window per file; the same raw score under every profile (enough for the rule)."""
    return {name: {"raw": raw, "windows": 1, "windows_scored": 1, "detected": int(raw > 0), "false_positives": 0,
                   "raw_by_profile": {p: raw for p in nab.PROFILES}} for name, raw in raws.items()}


NAMES = ["catA/a1.csv", "catA/a2.csv", "catB/b1.csv", "catB/b2.csv"]
BASE = per_file({"catA/a1.csv": 0.5, "catA/a2.csv": -1.0, "catB/b1.csv": 0.8, "catB/b2.csv": -1.0})


def test_the_half_score_is_nab_normalised_over_the_half_files():
    s = half_scores(BASE, NAMES)["standard"]
    assert s == nab.normalised_score(0.5 - 1.0 + 0.8 - 1.0, 4, nab.PROFILES["standard"], 4)


def test_a_gain_spread_over_files_and_categories_is_eligible():
    v = per_file({"catA/a1.csv": 0.6, "catA/a2.csv": -0.5, "catB/b1.csv": 0.9, "catB/b2.csv": -0.5})
    j = judge(BASE, v, NAMES)
    assert j["gain"] >= 0.5 and j["loo_min_raw_gain"] > 0 and j["eligible"] and j["not_worse"]


def test_a_gain_resting_on_one_file_or_a_losing_category_is_not():
    one_file = per_file({"catA/a1.csv": 0.5, "catA/a2.csv": 0.9, "catB/b1.csv": 0.8, "catB/b2.csv": -1.0})
    j = judge(BASE, one_file, NAMES)
    assert j["gain"] >= 0.5 and j["loo_min_raw_gain"] == 0.0 and not j["eligible"]
    trade = per_file({"catA/a1.csv": 1.0, "catA/a2.csv": 0.9, "catB/b1.csv": 0.8 - 2 * MAX_CATEGORY_LOSS,
                      "catB/b2.csv": -1.0})
    j = judge(BASE, trade, NAMES)
    assert j["gain"] >= 0.5 and j["loo_min_raw_gain"] > 0
    assert j["worst_category"][0] == "catB"
    assert j["worst_category"][1] < -MAX_CATEGORY_LOSS and not j["eligible"] and not j["not_worse"]
