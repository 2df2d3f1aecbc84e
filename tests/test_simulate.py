"""The built-in simulator: deterministic, physically coupled, with every anomaly kind labelled."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from agent.records import Rejects
from agent.sources import open_source
from agent.sources.lines import parse_time
from agent.sources.simulate import (ANOMALY_KINDS, WARMUP_TICKS, AnomalySpec, SimulateConfig, Simulation,
                                    SimulateSource as Simulator, corridor_sensors, generate)
from agent.sources.simulate_plants import PUMP_SENSORS
from agent.window import align_records
from conftest import wait_until

CORRIDOR = corridor_sensors(6)
START = "2026-01-05T11:00:00Z"      # midday: no recurrent congestion to blur an incident


def series(records, sensor):
    return np.array([r.values.get(sensor, np.nan) for r in records])


def first_below(values, limit):
    return int(np.flatnonzero(values < limit)[0])


def test_corridor_sensor_names():
    assert corridor_sensors(2) == ["S01_flow", "S01_occ", "S01_speed", "S02_flow", "S02_occ", "S02_speed"]
    assert corridor_sensors(12, prefix="D")[-1] == "D12_speed"


def test_same_seed_same_records_and_other_seed_differs():
    cfg = SimulateConfig(seed=7, duration_s=1500, anomaly_every_s=120)
    a, b = generate(cfg, CORRIDOR, 1.0), generate(cfg, CORRIDOR, 1.0)
    assert [(r.ts, r.values, r.label, r.event) for r in a] == [(r.ts, r.values, r.label, r.event) for r in b]
    run = Simulation(cfg, CORRIDOR, 1.0)
    assert [r.values for _, r in run] == [r.values for _, r in run] == [r.values for r in a]
    c = generate(SimulateConfig(seed=8, duration_s=1500, anomaly_every_s=120), CORRIDOR, 1.0)
    assert [r.values for r in a] != [r.values for r in c]


def test_streaming_source_matches_generate_and_starts_at_cfg_start():
    cfg = SimulateConfig(scenario="pump", seed=3, duration_s=700, anomaly_every_s=60)
    streamed = list(Simulator(cfg, PUMP_SENSORS, Rejects(), tick_s=1.0).records())
    assert [(r.ts, r.values, r.label) for r in streamed] == [(r.ts, r.values, r.label) for r in
                                                            generate(cfg, PUMP_SENSORS, 1.0)]
    assert streamed[0].ts == parse_time(cfg.start) == 1767592800.0
    assert streamed[1].ts - streamed[0].ts == 1.0
    assert len(streamed) == 700


def test_peak_congestion_couples_speed_occupancy_and_flow():
    cfg = SimulateConfig(seed=1, duration_s=5 * 3600, start="2026-01-05T05:00:00Z", anomalies=[])
    recs = generate(cfg, CORRIDOR, 60.0)
    night, peak = recs[0], recs[3 * 60]                   # 05:00 and 08:00 UTC
    bottleneck = "S05"                                      # 0.7 of the way down six stations
    assert peak.values[f"{bottleneck}_speed"] < 60 < night.values[f"{bottleneck}_speed"]
    assert peak.values[f"{bottleneck}_occ"] > 2 * night.values[f"{bottleneck}_occ"]
    assert peak.values["S01_speed"] > 80                   # beyond the queue's reach
    speed, occ = series(recs, "S05_speed"), series(recs, "S05_occ")
    assert np.corrcoef(speed, occ)[0, 1] < -0.8


def test_seeded_schedule_has_every_kind_labelled_after_a_clean_warmup():
    every = 300.0
    cfg = SimulateConfig(seed=2, duration_s=600 + 6 * every + 300, anomaly_every_s=every)
    recs = generate(cfg, CORRIDOR, 1.0)
    first = max(1.5 * every, WARMUP_TICKS)
    assert all(r.label == 0 and r.event is None for r in recs[:int(first)])
    kinds = {r.event.split("-")[0] for r in recs if r.event}
    assert kinds == set(ANOMALY_KINDS)
    assert all((r.label == 1) == (r.event is not None) for r in recs)
    assert recs[int(first)].event == f"incident-1@{recs[int(first)].event.split('@')[1]}"


def test_incident_queue_spreads_upstream_and_starves_downstream():
    spec = AnomalySpec(kind="incident", at_s=300, duration_s=900, target="S05")
    recs = generate(SimulateConfig(seed=4, start=START, duration_s=2400, anomalies=[spec]), CORRIDOR, 1.0)
    at_incident = first_below(series(recs, "S05_speed"), 40)
    one_up = first_below(series(recs, "S04_speed"), 40)
    two_up = first_below(series(recs, "S03_speed"), 40)
    assert 300 <= at_incident < one_up < two_up
    assert series(recs, "S05_occ")[at_incident + 5] > 3 * series(recs, "S05_occ")[250]
    assert series(recs, "S06_flow")[600] < 0.8 * series(recs, "S06_flow")[250]
    assert series(recs, "S06_speed")[600] > 80
    assert {r.event for r in recs[300:1200]} == {"incident-1@S05"}
    assert recs[299].label == 0 and recs[-1].label == 0


def test_pump_cavitation_drops_flow_and_raises_vibration():
    spec = AnomalySpec(kind="incident", at_s=400, duration_s=600)
    recs = generate(SimulateConfig(scenario="pump", seed=5, duration_s=1200, anomalies=[spec]), PUMP_SENSORS, 1.0)
    before, during = slice(200, 390), slice(600, 990)
    flow, accel = series(recs, "flow"), series(recs, "accel2")
    assert flow[during].mean() < 0.85 * flow[before].mean()
    assert accel[during].mean() > 1.2 * accel[before].mean()
    assert recs[700].event == "incident-1@pump"


def test_pump_couplings():
    recs = generate(SimulateConfig(scenario="pump", seed=6, duration_s=6 * 3600, anomalies=[]), PUMP_SENSORS, 5.0)
    flow, current, voltage = series(recs, "flow"), series(recs, "current"), series(recs, "voltage")
    assert np.corrcoef(flow, current)[0, 1] > 0.9
    assert np.corrcoef(current, voltage)[0, 1] < -0.3     # the voltage sag is small against its noise
    motor = series(recs, "temp_motor")
    # The motor temperature lags the current: it correlates better with the current some minutes back.
    lag = 600 // 5
    assert np.corrcoef(current[:-lag], motor[lag:])[0, 1] > np.corrcoef(current, motor)[0, 1]


@pytest.mark.parametrize("scenario,sensors", [("corridor", CORRIDOR), ("pump", PUMP_SENSORS)])
def test_sensor_faults(scenario, sensors):
    target = sensors[2]
    specs = [AnomalySpec(kind="stuck", at_s=100, duration_s=50, target=target),
             AnomalySpec(kind="dead", at_s=200, duration_s=50, target=target),
             AnomalySpec(kind="dropout", at_s=300, duration_s=50, target=target),
             AnomalySpec(kind="spike", at_s=400, duration_s=50, target=target),
             AnomalySpec(kind="drift", at_s=500, duration_s=100, target=target, magnitude=2.0)]
    recs = generate(SimulateConfig(scenario=scenario, seed=9, start=START, duration_s=700, anomalies=specs),
                    sensors, 1.0)
    x = series(recs, target)
    calm = x[:100]
    assert len(set(x[100:150])) == 1 and len(set(x[90:100])) > 1
    assert np.all(x[200:250] == 0.0)
    assert all(target not in r.values and len(r.values) == len(sensors) - 1 for r in recs[300:350])
    assert all(target in r.values for r in recs[350:400])
    assert x[400:450].max() > calm.max() + 3 * calm.std()
    assert x[580:600].mean() > calm.mean() + 5 * calm.std()
    for start, kind in [(100, "stuck"), (200, "dead"), (300, "dropout"), (400, "spike"), (500, "drift")]:
        assert {r.event for r in recs[start:start + 50]} == {f"{kind}-1@{target}"}
        assert recs[start - 1].label == 0 and recs[start].label == 1


def test_unknown_sensor_names_are_refused_with_the_expected_pattern():
    with pytest.raises(ValueError, match=r"'S01_sped'.*_speed"):
        Simulator(SimulateConfig(), ["S01_flow", "S01_sped"], Rejects())
    with pytest.raises(ValueError, match=r"'vibration'.*accel1"):
        Simulator(SimulateConfig(scenario="pump"), ["flow", "vibration"], Rejects())
    with pytest.raises(ValueError, match="no station 'S09'"):
        Simulator(SimulateConfig(anomalies=[AnomalySpec(kind="incident", target="S09")]), CORRIDOR, Rejects())


def test_generate_needs_a_duration():
    with pytest.raises(ValueError, match="duration_s"):
        generate(SimulateConfig(), CORRIDOR, 1.0)


def test_tick_period_comes_from_config_then_the_agent():
    rejects = Rejects()
    from_agent = Simulator(SimulateConfig(duration_s=10), CORRIDOR, rejects, tick_s=0.5)
    assert [r.ts for r in from_agent.records()][:2] == [1767592800.0, 1767592800.5]
    from_config = Simulator(SimulateConfig(duration_s=10, tick_s=2.0), CORRIDOR, rejects, tick_s=0.5)
    assert len(list(from_config.records())) == 5
    via_registry = open_source(SimulateConfig(duration_s=3), CORRIDOR, rejects)
    assert len(list(via_registry.records())) == 3


@pytest.mark.parametrize("tick_s", [0.1, 0.25, 7.0])
def test_timestamps_fall_one_per_tick_in_the_aligner(tick_s):
    rejects = Rejects()
    recs = generate(SimulateConfig(duration_s=3000 * tick_s, anomalies=[]), corridor_sensors(2), tick_s)
    rows = align_records(recs, corridor_sensors(2), tick_s, 60.0, 0, rejects)
    assert rejects.total == 0 and len(rows) == 3000


def test_speed_paces_after_fast_forward():
    cfg = SimulateConfig(duration_s=120, speed=40.0, fast_forward_s=100)
    arrived = [time.monotonic() for _ in Simulator(cfg, CORRIDOR, Rejects()).records()]
    assert len(arrived) == 120
    paced = arrived[119] - arrived[100]
    assert paced >= 19 / 40 - 0.01                    # 19 paced ticks at 40×: never faster
    assert arrived[99] - arrived[0] < paced           # the first 100 are fast-forwarded, not paced


def test_close_stops_a_paced_endless_run_promptly():
    source = Simulator(SimulateConfig(speed=1.0), CORRIDOR, Rejects())
    seen = []
    worker = threading.Thread(target=lambda: seen.extend(source.records()))
    worker.start()
    assert wait_until(lambda: len(seen) >= 1)         # the first tick is out; the next is a paced wait away
    source.close()
    worker.join(10.0)
    assert not worker.is_alive()                      # an endless run ended: close() interrupted the wait
    assert len(seen) < 10
