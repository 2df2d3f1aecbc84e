"""The demand-gated incident queue (`incident_queue: demand`, corridor8): a capacity drop makes a queue
only while the demand arriving exceeds what is left; the queue's tail moves upstream at the LWR shock
speed, it clears when the drop ends or the demand falls below the capacity, and downstream is starved
only while there is one. The default (`always`) gives the records it gave before the key existed."""
from __future__ import annotations

import numpy as np
import pytest

from agent import config
from agent.sources.simulate import AnomalySpec, SimulateConfig, Simulation, corridor_sensors, generate
from agent.sources.simulate_plants import PUMP_SENSORS
from agent.typed import ConfigError

CORRIDOR = corridor_sensors(6)
TICK = 10.0


def run(start: str, duration_s: float, specs: list[AnomalySpec], queue: str = "demand", seed: int = 4):
    cfg = SimulateConfig(seed=seed, start=start, duration_s=duration_s, anomalies=specs, incident_queue=queue)
    return generate(cfg, CORRIDOR, TICK), Simulation(cfg, CORRIDOR, TICK)


def values(records) -> np.ndarray:
    return np.array([[r.values.get(s, np.nan) for s in CORRIDOR] for r in records])


def series(records, sensor) -> np.ndarray:
    return np.array([r.values[sensor] for r in records])


def first_above(x: np.ndarray, limit: float) -> int:
    return int(np.flatnonzero(x > limit)[0])


def test_a_drop_below_the_spare_capacity_makes_no_queue_and_leaves_no_trace():
    # 03:00: about 230 veh/h/lane arrive; a drop to 1,400 (magnitude 0.5) leaves far more than that.
    drop = AnomalySpec(kind="incident", at_s=600, duration_s=900, target="S05", magnitude=0.5)
    recs, sim = run("2026-01-06T03:00:00Z", 3600, [drop])
    calm, _ = run("2026-01-06T03:00:00Z", 3600, [])
    (incident,) = sim.incidents()
    assert not incident.queue.formed and incident.queue.longest_km == 0.0
    assert incident.end == incident.start + incident.duration        # labelled as long as the drop
    assert np.array_equal(values(recs), values(calm))                 # …and nothing in the data
    assert [r.label for r in recs] == [int(600 <= i * TICK < 1500) for i in range(len(recs))]
    # The default makes a queue of the same drop whatever the demand: S05's occupancy rises.
    always, _ = run("2026-01-06T03:00:00Z", 3600, [drop], queue="always")
    assert series(always, "S05_occ")[70:140].mean() > 3 * series(calm, "S05_occ")[70:140].mean()


MIDDAY = "2026-01-06T11:40:00Z"      # no recurrent queue; about 1,250 veh/h/lane arrive at S03
FULL_DROP = AnomalySpec(kind="incident", at_s=600, duration_s=900, target="S04", magnitude=1.0)   # 800 left


def test_a_drop_above_it_makes_a_queue_that_grows_upstream_at_the_shock_speed_and_starves_downstream():
    recs, sim = run(MIDDAY, 2 * 3600, [FULL_DROP])
    calm, _ = run(MIDDAY, 2 * 3600, [])
    (incident,) = sim.incidents()
    q = incident.queue
    assert q.formed
    during = (q.t > incident.start) & (q.t <= incident.start + incident.duration)
    assert np.all(np.diff(q.tail_km[during]) > 0)                       # growing while the drop lasts
    # LWR: the tail moves at (q_up − q_left) / (k_cong − k_up), q_up what reaches S03 (one station up).
    model = sim.fresh_state()[0]
    epoch = sim.start + incident.start + 150.0 - 2 * model.STATION_TRAVEL_S
    q_up = float(model.demand(np.array([epoch]))[0]) * model.demand_factor[2] / model.LANES
    q_left = 0.4 * model.Q_CAP
    shock = (q_up - q_left) / (model.congested_density(q_left) - model.free_density(np.array(q_up)))
    assert q.tail_km[np.searchsorted(q.t, incident.start + 300)] == pytest.approx(shock * 300 / 3600, rel=0.05)
    assert model.STATION_KM < q.longest_km < 2 * model.STATION_KM          # past S03, short of S02
    occ = {s: series(recs, f"{s}_occ") - series(calm, f"{s}_occ") for s in ("S01", "S02", "S03", "S04")}
    reached = [first_above(occ[s], 10.0) for s in ("S04", "S03", "S02")]
    # The incident's station first, the next one up while the drop lasts; the tail, still fed more
    # than 800 veh/h/lane, moves on after the drop ends until the front catches it, at S02.
    assert 60 <= reached[0] < reached[1] < 150 <= reached[2]
    assert np.all(occ["S01"] == 0.0)                                        # never got there
    for down in ("S05_flow", "S06_flow"):
        assert (series(recs, down)[90:150] / series(calm, down)[90:150]).mean() < 0.75   # starved to 800
    assert recs[59].label == 0 and {r.event for r in recs[60:150]} == {"incident-1@S04"}


def test_the_queue_clears_after_the_drop_ends_and_the_data_returns_to_normal():
    recs, sim = run(MIDDAY, 2 * 3600, [FULL_DROP])
    calm, _ = run(MIDDAY, 2 * 3600, [])
    (incident,) = sim.incidents()
    q = incident.queue
    after = (q.t > incident.start + incident.duration) & (q.tail_km > 0)
    assert np.all(np.diff(q.head_km[after]) > 0)                         # the front moves upstream…
    assert q.tail_km[-1] == q.head_km[-1] == 0.0                         # …until it meets the tail
    assert incident.start + incident.duration < incident.end < 3600
    cleared = int(np.ceil(incident.end / TICK))
    assert np.array_equal(values(recs)[cleared:], values(calm)[cleared:])
    assert all(r.label == 0 for r in recs[cleared:]) and recs[cleared - 1].label == 1


def test_demand_falling_below_the_capacity_clears_the_queue_while_the_drop_lasts():
    # A 3-hour drop to 1,100 veh/h/lane at S03 from 08:10: the peak queues (kilometres of it), the late
    # morning's demand falls below what is left and the queue clears from its back before the drop ends.
    drop = AnomalySpec(kind="incident", at_s=600, duration_s=3 * 3600, target="S03", magnitude=0.45)
    recs, sim = run("2026-01-06T08:00:00Z", 4 * 3600, [drop])
    calm, _ = run("2026-01-06T08:00:00Z", 4 * 3600, [])
    (incident,) = sim.incidents()
    q = incident.queue
    assert q.formed and q.longest_km > 2.0
    gone = q.t[(q.t > incident.start + 600) & (q.tail_km == 0.0)]
    assert gone.size and gone[0] < incident.start + incident.duration - 300
    assert np.all(q.head_km[q.t < gone[0]] == 0.0)                      # held at the incident: not its front
    quiet = slice(int(gone[0] / TICK) + 30, int((incident.start + incident.duration) / TICK))
    assert np.array_equal(values(recs)[quiet], values(calm)[quiet])     # no queue, no starving
    assert all(r.label == 1 for r in recs[quiet])                       # the drop is still labelled


def test_the_default_is_the_always_queue():
    cfg = dict(seed=7, start="2026-01-05T00:00:00Z", duration_s=86400, anomaly_every_s=5400)
    default = generate(SimulateConfig(**cfg), CORRIDOR, 30.0)
    always = generate(SimulateConfig(**cfg, incident_queue="always"), CORRIDOR, 30.0)
    demand = generate(SimulateConfig(**cfg, incident_queue="demand"), CORRIDOR, 30.0)
    key = [(r.ts, r.values, r.label, r.event) for r in default]
    assert key == [(r.ts, r.values, r.label, r.event) for r in always]
    assert key != [(r.ts, r.values, r.label, r.event) for r in demand]
    assert all(a.queue is None for a in Simulation(SimulateConfig(**cfg), CORRIDOR, 30.0).incidents())


def test_check_config_names_a_bad_incident_queue_and_refuses_it_for_the_pump():
    with pytest.raises(ConfigError) as exc:
        config.from_dict({"sensors": CORRIDOR, "tick_s": 30, "sources": [
            {"type": "simulate", "incident_queue": "sometimes"}]})
    assert "sources[0].incident_queue" in "\n".join(exc.value.problems)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.incident_queue.*corridor scenario only"):
        config.from_dict({"sensors": ["flow"], "tick_s": 1, "sources": [
            {"type": "simulate", "scenario": "pump", "incident_queue": "demand"}]})
    with pytest.raises(ValueError, match="corridor scenario only"):
        Simulation(SimulateConfig(scenario="pump", incident_queue="demand", duration_s=60), PUMP_SENSORS, 1.0)


def test_bench_demand_schedule_is_drawn_from_the_seed_and_the_default_stays_fixed():
    from conftest import bench_module
    bench = bench_module("accuracy")
    fixed = bench.corridor_config(schedule="incidents", magnitudes=(0.02, 1.0), seed=3).sources[0]
    assert fixed.incident_queue == "always"
    assert [(a.at_s, a.magnitude) for a in fixed.anomalies] == [
        (a["at_s"], a["magnitude"]) for a in bench.corridor_incidents(0.02, 1.0)]
    one, two = (bench.corridor_config(schedule="incidents", magnitudes=(0.02, 1.0), seed=s,
                                      incident_queue="demand").sources[0] for s in (3, 4))
    assert one.incident_queue == "demand"
    assert sorted(a.magnitude for a in one.anomalies) == sorted(a.magnitude for a in fixed.anomalies)
    assert [a.magnitude for a in one.anomalies] != [a.magnitude for a in two.anomalies]
    slots = [a.at_s for a in fixed.anomalies]
    assert all(0 <= a.at_s - s < bench.CORRIDOR_INCIDENT_JITTER_S for a, s in zip(one.anomalies, slots))
