"""user12's first week as a water utility's process engineer (docs/measured/first-week.md, "user12"): the
defects found on the way, each held by a test that failed on main's code."""
from pathlib import Path

from agent.config import load
from agent.scorers.profile import temperature_sensors

SENSORS = """
tick_s: 1
sensors:
  - {name: TT101, group: pump1, unit: degrees Celsius}
  - {name: TT102, group: pump1, unit: "℃"}
  - {name: TT103, group: pump1, unit: "ºC"}
  - {name: TT104, group: pump1, unit: deg. C}
  - {name: TT105, group: pump1, unit: Degree Fahrenheit}
  - {name: IT101, group: pump1, unit: A}
  - {name: FT101, group: pump1, unit: L/min}
  - {name: QT101, group: pump1, unit: C}
sources: [{type: replay, path: historian, separator: ";", time_column: datetime}]
"""


def test_a_temperature_written_as_a_plant_writes_it_is_drifting(tmp_path: Path):
    """The skab32 defaults judge a temperature-unit sensor `drifting` (by its newest forecast error alone): a
    historian's "degrees Celsius", the one-character ℃, a Spanish keyboard's ºC (the ordinal º, not the degree
    sign) or "deg. C" were not taken for temperatures, and nothing said so: those sensors were profiled as levels,
    the heat balance's slow wander scored as a departure (skab32: FAR 8.9 → 17.4 % on SKAB's dev files)."""
    path = tmp_path / "pump.yaml"
    path.write_text(SENSORS, encoding="utf-8")
    cfg = load(path)
    assert cfg.scoring.profile.drifting == ["TT101", "TT102", "TT103", "TT104", "TT105"]


def test_a_bare_letter_is_still_not_a_temperature():
    """A bare C or F stays a coulomb or a farad, and a unit that only mentions degrees (an angle) is no
    temperature: the review of skab32 kept those out on purpose."""
    units = [("a", "C"), ("b", "F"), ("c", "deg"), ("d", "degrees"), ("e", "°"), ("f", "kelvin"), ("g", "K")]
    assert temperature_sensors(units) == ["f", "g"]
