"""A verdict's `at` in active-bundle.json must be a time, as every time in the agent's state files (review47).

`Verdicts.from_json` took any int or float: NaN, Infinity (json.loads reads both) or 1e300 in a hand-edited or
damaged record was kept, and the first thing that dated it — a rollback's or a restart's refusal words
(`refused by the shadow at …`) — raised out of the agent (`iso`: ValueError, OverflowError). Now the record is
unusable with the key said, as any other malformed verdict (agent/active_bundle.py read_record)."""
from __future__ import annotations

import json

import pytest

from agent.active_bundle import ACTIVE_FILE, Unreadable, read_record
from agent.release_verdicts import REFUSED_SHADOW, Verdicts


@pytest.mark.parametrize("at", ["NaN", "Infinity", "1e300", "-1e20", "4102444800.5"])
def test_a_verdict_at_no_time_makes_the_record_unusable_with_the_key_said(tmp_path, at):
    (tmp_path / ACTIVE_FILE).write_text(
        '{"version": 1, "path": null, "model_id": null, "config_bundle": null, "seen": {}, "verdicts": '
        f'{{"d1": {{"release": "/models/v3", "verdict": "{REFUSED_SHADOW}", "why": null, "at": {at}}}}}}}')
    kept = read_record(tmp_path)
    # on 740108ec: the record read as usable, and Verdicts(...).refusal() raised ValueError / OverflowError
    assert isinstance(kept, Unreadable), kept
    assert "verdicts: 'd1': expected" in str(kept), kept


def test_a_verdict_at_a_time_is_kept():
    v = Verdicts.from_json(json.loads('{"d1": {"release": "/models/v3", "verdict": "swapped in", "why": null, '
                                      '"at": 1767600000.25}}'))
    assert v.of("d1")["at"] == 1767600000.25
