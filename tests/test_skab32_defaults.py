"""What a bundle runs when its config says nothing (issue 10, the skab32 round; docs/measured/accuracy-skab.md):
the model tiers' normal profile on (per-sensor and trained wander, no lasting-shift statistic, the temperature
sensors `drifting`), the fallback blended in at 0.25, the model tiers at threshold risk 0.005 and the fallback
still at 0.001. A config that sets a key runs as it says; the shipped configs are pinned to what they ran; a
checkpoint an agent took with the profile off is refused beside a bundle that now runs it on (and the agent warms
up again, fitting it), and resumes where the profile stays off or no bundle is configured."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.checkpoint import fingerprint, mismatch
from agent.config import FALLBACK_RISK, MODEL_TIER_RISK, from_dict, load
from agent.scorers.profile import temperature_sensors
from agent.topology import adjacency

REPO = Path(__file__).resolve().parent.parent
SENSORS = [{"name": "flow", "unit": "l/min"}, {"name": "temp_motor", "unit": "degC"},
           {"name": "temp_oil", "unit": "°C"}, {"name": "pressure", "unit": "bar"}, "current"]
BUNDLE = {"model_id": "pump", "sha256": "1" * 64, "path": "/models/pump"}


def _cfg(**keys):
    return from_dict({"sensors": SENSORS, "sources": [{"type": "stdin"}], "window": {"steps": 8},
                      "warmup": {"ticks": 50}, "sinks": [], **keys})


def test_a_config_that_says_nothing_gets_the_profile_the_blend_and_the_tiers_risk():
    cfg = _cfg(scoring={"bundle": "/models/pump"})
    p = cfg.scoring.profile
    assert (p.enabled, p.per_sensor_fraction, p.trained_wander, p.lasting_shift) == (True, 0.3, True, False)
    assert p.drifting == ["temp_motor", "temp_oil"]            # by unit: a temperature drifts
    assert cfg.scoring.blend_numpy == 0.25
    assert cfg.threshold.for_tier("tflite").risk == MODEL_TIER_RISK == 0.005
    assert cfg.threshold.for_tier("numpy").risk == FALLBACK_RISK == 0.001


def test_the_keys_a_config_gives_win():
    cfg = _cfg(scoring={"profile": {"enabled": False, "drifting": ["flow"]}, "blend_numpy": 0},
               threshold={"risk": 0.002})
    assert not cfg.scoring.profile.enabled and cfg.scoring.profile.drifting == ["flow"]
    assert cfg.scoring.blend_numpy == 0
    # threshold.risk given: every tier's, as before the round
    assert cfg.threshold.for_tier("tflite").risk == cfg.threshold.for_tier("numpy").risk == 0.002
    assert _cfg(scoring={"profile": {"drifting": []}}).scoring.profile.drifting == []
    split = _cfg(threshold={"numpy": {"risk": 0.0003}})
    assert (split.threshold.for_tier("onnx").risk, split.threshold.for_tier("numpy").risk) == (0.005, 0.0003)


def test_a_temperature_is_known_by_its_unit():
    units = [("a", "degC"), ("b", "°F"), ("c", " K"), ("d", "Celsius"), ("e", "bar"), ("f", None), ("g", "kW"),
             ("h", "deg C"), ("i", "C"), ("j", "F")]        # a bare C or F may be a coulomb, a farad
    assert temperature_sensors(units) == ["a", "b", "c", "d", "h"]


#: each shipped config as it ran before the round: (profile on, blend, the model tiers' risk, the fallback's)
BEFORE = {"demo": (False, 0.0, 0.001, 0.001), "roadside": (False, 0.0, 0.0005, 0.0005),
          "nab": (False, 0.0, 0.0005, 0.0005), "industrial": (False, 0.0, 0.0001, 0.0001),
          "industrial-opcua": (False, 0.0, 0.0001, 0.0001), "skab": (True, 0.25, 0.005, 0.001)}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_the_shipped_configs_run_as_before(name):
    cfg = load(REPO / "configs" / f"{name}.yaml")
    got = (cfg.scoring.profile.enabled, cfg.scoring.blend_numpy, cfg.threshold.for_tier("tflite").risk,
           cfg.threshold.for_tier("numpy").risk)
    assert got == BEFORE[name]
    if name == "skab":          # its own list, not the unit's
        assert cfg.scoring.profile.drifting == ["temp_motor", "temp_fluid", "accel1"]


def _fingerprint(cfg, bundle):
    return fingerprint(cfg, adjacency(cfg.sensor_specs(), cfg.topology), bundle)


def test_a_checkpoint_taken_with_the_profile_off_is_refused_where_a_bundle_now_runs_it():
    before = _cfg(scoring={"profile": {"enabled": False, "drifting": [], "lasting_shift": True,
                                       "per_sensor_fraction": 0.0, "trained_wander": False}})
    now = _cfg()
    # beside a bundle the state differs (no profile fitted): refused, the agent warms up again and fits it
    assert mismatch(_fingerprint(before, BUNDLE), _fingerprint(now, BUNDLE)) == "scoring.profile changed"
    # no bundle on either side: the profile shapes no state, the fallback's checkpoint resumes
    assert mismatch(_fingerprint(before, None), _fingerprint(now, None)) is None
    # pinned off, as the shipped configs are: resumes, whatever the other keys' new defaults
    pinned = _cfg(scoring={"profile": {"enabled": False}})
    assert mismatch(_fingerprint(before, BUNDLE), _fingerprint(pinned, BUNDLE)) is None


def test_an_agent_whose_checkpoint_was_refused_fits_the_profile_on_its_warm_up():
    pytest.importorskip("ai_edge_litert")
    from profile_runs import DEMO_BUNDLE, run, stationary_rows

    cfg = load(REPO / "configs" / "demo.yaml")
    data = {"sensors": [s.name if hasattr(s, "name") else s for s in cfg.sensors], "tick_s": cfg.tick_s,
            "topology": cfg.topology, "sources": [{"type": "stdin"}], "window": {"steps": cfg.window.steps},
            "warmup": {"ticks": 300}, "sinks": [], "scoring": {"bundle": str(DEMO_BUNDLE)}}
    fresh = from_dict(data)                             # the new defaults, nothing pinned
    pipe, _ = run(fresh, stationary_rows(fresh, 320), "tflite")
    tier = pipe.chain.tiers[0]
    assert tier.profile.fitted and tier.describe()["profile"]["fitted"]
    assert pipe.thresholds["tflite"].value != pytest.approx(tier.manifest.threshold["value"])  # this plant's own
