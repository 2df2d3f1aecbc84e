"""An upgrade keeps its checkpoint when the new release only adds `scoring.profile` keys at their defaults
(agent/checkpoint.py, mismatch): skab22 and skab23 added per_sensor_fraction and trained_wander, and a
checkpoint of the agent before them was refused as "scoring.profile changed" — a fresh warm-up, hours
blind, on every upgrade. A checkpoint main d59bcc4 wrote (tests/fixtures/clock20_d59bcc4.ckpt, no
trained_wander in it) is read here; a key the new config sets away from its default is still a change. The
profile counts only beside a bundle (it shapes a model tier's state alone; skab32), so that case is a bundle's."""
from __future__ import annotations

from pathlib import Path

from agent.checkpoint import decode, fingerprint, mismatch
from agent.topology import adjacency
from fast_tick_runs import corridor

FIXTURE = Path(__file__).parent / "fixtures" / "clock20_d59bcc4.ckpt"


BUNDLE = {"model_id": "m1", "sha256": "0" * 64, "path": "/models/m1"}
#: the profile keys as an agent before skab32 ran them by default
BEFORE = ("scoring.profile.enabled=true", "scoring.profile.per_sensor_fraction=0", "scoring.profile.trained_wander=false",
          "scoring.profile.lasting_shift=true", "scoring.profile.drifting=[]")


def _current(settings: tuple = (), bundle: dict | None = None) -> dict:
    cfg, _ = corridor(0.001, 10, settings=("faults.drift_moved_alone=true", "scoring.numpy.seasonal_periods_s=[]",
                                           *settings))
    return fingerprint(cfg, adjacency(cfg.sensor_specs(), cfg.topology), bundle)


def test_a_checkpoint_from_before_a_profile_key_was_added_still_fits():
    meta, _ = decode(FIXTURE.read_bytes())
    assert "trained_wander" not in meta["config"]["profile"]            # the older agent's fingerprint
    assert "trained_wander" in _current()["profile"]
    assert mismatch(meta["config"], _current()) is None


def test_a_new_profile_key_set_away_from_its_default_is_a_change():
    meta, _ = decode(FIXTURE.read_bytes())
    saved = {**meta["config"], "bundle": BUNDLE, "profile": {**meta["config"]["profile"], "enabled": True}}
    assert mismatch(saved, _current(BEFORE, BUNDLE)) is None
    assert mismatch(saved, _current((*BEFORE, "scoring.profile.trained_wander=true"), BUNDLE)) == "scoring.profile changed"
    other = {**saved, "profile": {**saved["profile"], "half_life_ticks": 7.0}}
    assert mismatch(other, _current(BEFORE, BUNDLE)) == "scoring.profile changed"
