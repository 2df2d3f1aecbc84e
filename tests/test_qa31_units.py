"""A temperature's unit as users type it: `scoring.profile.drifting` defaults to the sensors whose `unit` is a
temperature (skab32), so a unit the agent does not recognise as one silently gives that sensor a profile —
the drift that raised SKAB's dev FAR from 8.9 to 17.4 % (docs/measured/accuracy-skab.md). Units are pasted
from data sheets and typed on other keyboards: the one-character ℃ / ℉ (an East Asian IME, Excel's symbol
list), a masculine ordinal º or a ring ˚ for the degree sign (Spanish / Portuguese / macOS keyboards), a
no-break or zero-width space, a byte-order mark, a YAML block scalar's trailing newline. The config is a real
file read by `agent.config.load`, as `run` and `check-config` read it.
"""
from __future__ import annotations

import pytest
import yaml

from agent.config import load

TEMPERATURES = ["\u2103", "\u2109", "\u00b0\u00a0C", "\u00b0C\u200b", "\ufeff\u00b0C", "degC\n", "\u00baC",
                "\u02daC", "\u00b0K", "DEG\u2009C"]
NOT_TEMPERATURES = ["C", "F", "m3/h", "g", "bar", "A", "\u00b5m", ""]


def _drifting(tmp_path, unit: str) -> list[str]:
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump({
        "sensors": [{"name": "temp_motor", "unit": unit}, {"name": "pressure", "unit": "bar"}],
        "sources": [{"type": "simulate", "scenario": "pump"}], "sinks": []}, allow_unicode=True),
        encoding="utf-8")
    return load(str(f)).scoring.profile.drifting


@pytest.mark.parametrize("unit", TEMPERATURES, ids=[u.encode("unicode_escape").decode() for u in TEMPERATURES])
def test_a_temperature_unit_typed_with_odd_unicode_is_drifting_by_default(tmp_path, unit):
    # On the old code each of these was no temperature: `temp_motor` got a profile, a heating motor's drift an alarm.
    assert _drifting(tmp_path, unit) == ["temp_motor"]


@pytest.mark.parametrize("unit", NOT_TEMPERATURES)
def test_a_unit_that_is_no_temperature_stays_out(tmp_path, unit):
    assert _drifting(tmp_path, unit) == []
