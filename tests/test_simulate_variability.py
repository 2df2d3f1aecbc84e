"""Days that differ (SimulateConfig.variability): peaks move by the day's draw, stop-and-go waves
travel upstream at the congested wave speed, wet days are slower, and with it off the simulator
gives the records it always gave (the demo bundle and every corridor figure rest on that)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from agent import config
from agent.sources.simulate import VARIABLE_DAYS, SimulateConfig, Simulation, corridor_sensors, generate
from agent.sources.simulate_plants import CorridorModel, VariabilityConfig
from agent.typed import ConfigError

CORRIDOR = corridor_sensors(6)
MONDAY = "2026-01-05T00:00:00Z"
DAY = 20458                          # 2026-01-05 as days since 1970-01-01


def series(records, sensor):
    return np.array([r.values.get(sensor, np.nan) for r in records])


def digest(records) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(repr((r.ts, sorted((k, round(v, 6)) for k, v in r.values.items()), r.label, r.event)).encode())
    return h.hexdigest()


def test_off_gives_the_records_it_always_gave():
    # The digest was taken on the simulator before variability existed (main at b974662): a day of
    # the seeded schedule of every kind at the demo's 30 s tick, peaks and anomalies included.
    cfg = dict(seed=7, start=MONDAY, duration_s=86400, anomaly_every_s=5400)
    before = "a4f84c8d9b2cdf7e645d177ced1351e2f4def8c1c71c41e89d15e9cfe33c369f"
    off = generate(SimulateConfig(**cfg), CORRIDOR, 30.0)
    assert digest(off) == before
    assert digest(generate(SimulateConfig(**cfg, variability=VariabilityConfig()), CORRIDOR, 30.0)) == before
    assert digest(generate(SimulateConfig(**cfg, variability=VARIABLE_DAYS), CORRIDOR, 30.0)) != before


def test_labels_do_not_change_with_variability():
    cfg = dict(seed=3, start=MONDAY, duration_s=86400, anomaly_every_s=5400)
    off = generate(SimulateConfig(**cfg), CORRIDOR, 30.0)
    on = generate(SimulateConfig(**cfg, variability=VARIABLE_DAYS), CORRIDOR, 30.0)
    assert [(r.ts, r.label, r.event) for r in on] == [(r.ts, r.label, r.event) for r in off]


def test_each_day_draws_its_own_values_from_the_seed():
    model = Simulation(SimulateConfig(variability=VARIABLE_DAYS), CORRIDOR, 30.0).fresh_state()[0]
    days = [model.day(DAY + i) for i in range(20)]
    assert len({d.am_shift_s for d in days}) == 20
    assert 300 < np.std([d.am_shift_s for d in days]) < 1800             # σ 900 s
    assert {d.wet for d in days} == {1.0, VARIABLE_DAYS.wet_factor}      # one day in five wet, on average
    again = Simulation(SimulateConfig(variability=VARIABLE_DAYS), CORRIDOR, 30.0).fresh_state()[0]
    assert again.day(DAY + 3) == days[3]
    # Turning one option on does not change another's draws.
    shift_only = Simulation(SimulateConfig(variability=VariabilityConfig(peak_shift_s=900.0)), CORRIDOR,
                            30.0).fresh_state()[0]
    assert shift_only.day(DAY + 3).am_shift_s == days[3].am_shift_s and shift_only.day(DAY + 3).wet == 1.0


def pm_peak_s(records, level: float = 5000.0) -> float:
    """When the evening peak is at its middle: halfway between the upstream station's flow rising
    through `level` and falling back (the flow is capped at capacity, so the top is flat)."""
    flow = series(records, "S01_flow")
    ts = np.array([r.ts for r in records]) % 86400
    above = np.flatnonzero((ts >= 13 * 3600) & (flow > level))
    return float(ts[above[0]] + ts[above[-1]]) / 2


def test_the_evening_peak_moves_by_the_days_drawn_shift():
    shifted = VariabilityConfig(peak_shift_s=1200.0)
    cfg = dict(seed=2, start=MONDAY, duration_s=86400, anomalies=[], noise=0.0)
    before = pm_peak_s(generate(SimulateConfig(**cfg), CORRIDOR, 60.0))
    after = pm_peak_s(generate(SimulateConfig(**cfg, variability=shifted), CORRIDOR, 60.0))
    drawn = Simulation(SimulateConfig(seed=2, variability=shifted), CORRIDOR, 60.0).fresh_state()[0].day(DAY)
    assert abs(drawn.pm_shift_s) > 300                                   # the test means something
    assert after - before == pytest.approx(drawn.pm_shift_s, abs=60)     # a tick


def test_stop_and_go_waves_reach_the_next_station_upstream_distance_over_w_later():
    waves = VariabilityConfig(waves=True)
    tick = 10.0
    recs = generate(SimulateConfig(seed=5, start="2026-01-05T07:45:00Z", duration_s=3600, anomalies=[],
                                   noise=0.0, variability=waves), CORRIDOR, tick)
    calm = generate(SimulateConfig(seed=5, start="2026-01-05T07:45:00Z", duration_s=3600, anomalies=[],
                                   noise=0.0), CORRIDOR, tick)
    down, up = series(recs, "S04_occ"), series(recs, "S03_occ")          # both inside the morning queue
    assert np.ptp(down[60:300]) > 3 * np.ptp(series(calm, "S04_occ")[60:300])
    lags = np.arange(0, 40)
    corr = [np.corrcoef(down[60:300], up[60 + k:300 + k])[0, 1] for k in lags]
    expected = CorridorModel.STATION_KM / CorridorModel.W * 3600.0     # ≈ 190 s at ≈ 16.5 km/h
    assert 150 < expected < 230
    assert lags[int(np.argmax(corr))] * tick == pytest.approx(expected, abs=tick)
    assert max(corr) > 0.9


def test_a_wet_day_is_slower_everywhere():
    wet = VariabilityConfig(wet_chance=1.0, wet_factor=0.85)
    cfg = dict(seed=4, start="2026-01-05T12:00:00Z", duration_s=3600, anomalies=[], noise=0.0)
    dry_speed = series(generate(SimulateConfig(**cfg), CORRIDOR, 60.0), "S01_speed")
    wet_recs = generate(SimulateConfig(**cfg, variability=wet), CORRIDOR, 60.0)
    assert np.allclose(series(wet_recs, "S01_speed"), 0.85 * dry_speed, rtol=0.02)
    assert series(wet_recs, "S06_speed").mean() < 0.9 * 100


def test_check_config_names_a_bad_variability_value_by_its_key_path():
    base = {"sensors": CORRIDOR, "tick_s": 30}
    with pytest.raises(ConfigError) as exc:
        config.from_dict({**base, "sources": [{"type": "simulate", "variability": {
            "peak_height": -0.1, "wet_chance": 2, "wavs": True}}]})
    problems = "\n".join(exc.value.problems)
    assert "sources[0].variability.peak_height" in problems
    assert "sources[0].variability.wet_chance" in problems
    assert "sources[0].variability.wavs" in problems
    with pytest.raises(ConfigError, match=r"variability.*corridor scenario only"):
        config.from_dict({"sensors": ["flow"], "tick_s": 1, "sources": [
            {"type": "simulate", "scenario": "pump", "variability": {"waves": True}}]})


def test_bench_corridor_variable_days_no_anomalies_and_a_list_index_override():
    from conftest import bench_module
    bench = bench_module("accuracy")
    cfg = bench.corridor_config(["sources.0.variability.waves=false"], schedule="none", seed=2, variable_days=True)
    (src,) = cfg.sources
    assert src.anomalies == [] and src.seed == 2
    assert src.variability.peak_shift_s == VARIABLE_DAYS.peak_shift_s and src.variability.waves is False
    assert bench.corridor_config().sources[0].variability is None       # the default: every day alike
    with pytest.raises(SystemExit, match=r"'3' is not an index of a list of 1"):
        bench.corridor_config(["sources.3.seed=1"])
