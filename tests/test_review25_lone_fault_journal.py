"""A lone fault mates joined (faults6), damaged in the fault journal, is refused with its key path like a
station fault's (agent/journaled.py), and the rest resume (review25).

Its journal entry is keyed by its sensor and has that sensor's own kind, with `sensors`, `kinds` and `joined`
as a station's (faults/station.py Grouped.sync); only `kind == "station"` entries had those checked, so a
`kinds` or `joined` that was no mapping reached FaultTracker.resume_open and raised AttributeError, which the
restart does not catch (agent/resume.py): the agent stopped at its start, as qa31's station entries did.
Real parts: the tracker of a real Pipeline on a config of two groups."""
from __future__ import annotations

import pytest

from agent import config
from agent.journaled import checked_open
from agent.pipeline import Pipeline

T = 1_767_600_000.0


def _tracker():
    cfg = config.from_dict({"sensors": [{"name": "a", "group": "skid1"}, {"name": "b", "group": "skid1"},
                                        {"name": "c", "group": "skid2"}, {"name": "d", "group": "skid2"}],
                            "sources": [{"type": "stdin"}], "tick_s": 1, "warmup": {"ticks": 60}})
    return Pipeline(cfg).health


def _lone(**damage) -> dict:
    """a's stuck fault that b joined 30 s after its start, as the journal keeps it."""
    return {"fault_id": "gw-a-1", "kind": "stuck", "start": T, "group": "skid1", "sensors": ["a", "b"],
            "kinds": {"a": "stuck", "b": "dead"}, "joined": {"b": T + 30}, **damage}


DAMAGE = {"kinds not a mapping": ("kinds", ["stuck"]), "joined not a mapping": ("joined", ["b"]),
          "a kind that is none": ("kinds", {"a": "stuck", "b": "bogus"}),
          "no kind for its sensor": ("kinds", {"b": "dead"}), "a join that is no time": ("joined", {"b": "soon"}),
          "sensors not names": ("sensors", "ab")}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_lone_fault_is_refused_with_its_key_and_the_rest_resume(damage):
    key, value = DAMAGE[damage]
    other = {"fault_id": "gw-c-1", "kind": "drift", "start": T, "group": "skid2"}
    kept, problems = checked_open({"a": _lone(**{key: value}), "c": other})
    assert list(problems) == ["a"] and problems["a"].startswith(f"open.a.{key}"), problems
    health = _tracker()
    health.resume_open(kept)
    assert health.open_faults() == {"c": other}


def test_an_undamaged_lone_fault_with_its_mate_resumes():
    kept, problems = checked_open({"a": _lone()})
    assert problems == {}
    health = _tracker()
    health.resume_open(kept)
    assert health.open_faults()["a"]["sensors"] == ["a", "b"]
    assert {f["fault_id"] for f in health.open_faults().values()} == {"gw-a-1"}
