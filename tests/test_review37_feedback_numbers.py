"""feedback.json's numbers are read by the state files' one rule (json_read.finite_number), naming the key.

review37: FeedbackMemory read them with float(), which raises a bare OverflowError on an integer past a float's
range (JSON has no limit). That error was not among those the reader catches (it says the file is unusable and
starts without it), so a 400-digit number in feedback.json stopped the agent's construction — at every start,
until the file was removed (the agent builds its FeedbackMemory in Agent.__init__, outside any try); a string of
digits was taken as a number. A real file in a temporary state directory, read by the agent's own reader.
"""
from __future__ import annotations

import json
import logging

import pytest

from agent.feedback import FeedbackConfig, FeedbackMemory

HUGE = "1" + "0" * 400
DAMAGES = {
    "a 400-digit known peak": ('{"known": {"a": %s}, "lifts": {}, "confirmed": [], "now": 5}' % HUGE,
                               "known.a: 1000000"),
    "a 400-digit lift": ('{"known": {}, "lifts": {"a": [%s, 0]}, "confirmed": [], "now": 5}' % HUGE,
                         "lifts.a[0]: 1000000"),
    "a 400-digit since": ('{"known": {}, "lifts": {"a": [0.2, %s]}, "confirmed": [], "now": 5}' % HUGE,
                          "lifts.a[1]: 1000000"),
    "a 400-digit now": ('{"known": {}, "lifts": {}, "confirmed": [], "now": %s}' % HUGE, "now: 1000000"),
    "now a string": (json.dumps({"known": {}, "lifts": {}, "confirmed": [], "now": "5"}),
                     "now: '5' is not a finite number"),
    "a negative lift": (json.dumps({"known": {}, "lifts": {"a": [0.1, 0], "b": [-3.0, 0]}, "confirmed": [],
                                    "now": 5}), "lifts.b[0]: -3.0 is below 0"),     # (was 'a negative lift')
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_number_past_a_floats_range_is_a_load_problem_naming_its_key(tmp_path, damage, caplog):
    text, said = DAMAGES[damage]
    path = tmp_path / "feedback.json"
    path.write_text(text)
    caplog.set_level(logging.INFO, logger="stad.feedback")
    memory = FeedbackMemory(FeedbackConfig(), path)         # on main: OverflowError for the 400-digit ones
    assert memory.load_problem is not None and memory.load_problem.startswith(f"{path}: ValueError: {said}")
    assert (dict(memory.known), dict(memory.lifts), memory.now, memory.lift(10.0)) == ({}, {}, 0.0, 0.0)
    [line] = [r for r in caplog.records if r.name == "stad.feedback"]
    assert line.levelno == logging.ERROR and f"{path} is unreadable" in line.getMessage()
