"""A station or lone fault's times move in one place: `Grouped.shift_time` moves its start, its mates' join ticks
and its fault journal entry together (review26).

Before, `start` was a TIME_FIELDS entry agent/timebase.py's walker moved after `shift_time`, which moved `start`,
synced the entry and moved `start` back — right only in that order: `shift_time` on its own left the fault's start
behind its journal entry. Real parts: the group topology's fault tracker fed rows (tests/station_feed.py): c silent,
then b joining c's page; the tracker's whole state moved by agent/timebase.py `shift_times` too."""
from __future__ import annotations

from agent.time_shift import shift_times
from station_feed import Feed, tracker


def _joined(tmp_path):
    tr = tracker(tmp_path)
    feed = Feed(tr)
    feed.run(30)
    [lone] = feed.run(8, silent={"c"})
    [update] = feed.run(8, silent={"c", "b"})      # b joins c's page (told as its update: faults12)
    assert (update.event, update.fault_id) == ("fault_update", lone.fault_id)
    [g] = tr.stations.open.values()
    return tr, lone, g


def test_shift_time_alone_moves_the_start_the_joins_and_the_entry_together(tmp_path):
    tr, lone, g = _joined(tmp_path)
    joined_b = g.joined["b"]
    g.shift_time(60.0)
    assert (g.start, g.joined["b"]) == (lone.start + 60.0, joined_b + 60.0)       # main: start left at lone.start
    assert (g.entry["start"], g.entry["joined"]["b"]) == (g.start, g.joined["b"])


def test_the_walker_moves_it_once(tmp_path):
    tr, lone, g = _joined(tmp_path)
    joined_b = g.joined["b"]
    shift_times(tr, -45.0)
    assert g.start == g.entry["start"] == tr.open_faults()["c"]["start"] == lone.start - 45.0
    assert g.joined["b"] == g.entry["joined"]["b"] == joined_b - 45.0
    assert tr.stations.state()[0]["start"] == lone.start - 45.0
