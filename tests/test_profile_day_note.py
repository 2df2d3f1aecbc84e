"""check-config's note on a model-tier profile fitted on less than a day of warm-up (the lead, after corridor15).

The profile is on by default beside a bundle (skab32); on the corridor a 4-hour night warm-up made the tier alarm
all day (corridor15). Which plants follow the clock cannot be read from a config, so check-config says it whenever
the profile is on and the warm-up spans less than a day — and not when the profile is pinned off, nor with a day's
warm-up. Real config files (configs/demo.yaml, its builtin bundle), read as `check-config` reads them."""
from __future__ import annotations

from pathlib import Path

import yaml

from agent import config, preflight

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


def _notes(tmp_path: Path, edit) -> list[str]:
    raw = yaml.safe_load(DEMO.read_text())
    raw["sinks"] = [{"type": "terminal"}]
    raw["state_dir"] = str(tmp_path / "state")
    edit(raw)
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(raw))
    problems, notes = preflight.check(config.load(path))
    assert problems == []
    return [n for n in notes if n.startswith("scoring.profile:")]


def _defaults(raw: dict) -> None:          # a user's config: the scoring block says nothing but the bundle
    raw["scoring"] = {"chain": raw["scoring"]["chain"], "bundle": raw["scoring"]["bundle"]}


def test_a_profile_on_four_hours_of_warm_up_is_said(tmp_path):
    def edit(raw):
        _defaults(raw)
        raw["warmup"] = {"ticks": 480}
    [note] = _notes(tmp_path, edit)
    assert "fitted on the warm-up (4.0 h)" in note and "warm up over a day" in note and "enabled: false" in note


def test_not_said_with_a_days_warm_up_or_the_profile_pinned_off(tmp_path):
    assert _notes(tmp_path, _defaults) == []                                   # demo's 2880 ticks × 30 s
    assert _notes(tmp_path, lambda raw: raw.__setitem__("warmup", {"ticks": 480})) == []    # pinned off
