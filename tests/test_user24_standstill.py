"""A standstill queue is an incident, not dead loops (user24).

A strong incident (the simulator's magnitude 1.5, 20 minutes) stops the traffic: speed and flow fall to their floor
while occupancy climbs far over its normal. The dead rule saw speed or flow "at its floor while its mates carry on"
— the occupancy being the mate that carried on — and paged 10 `dead` faults on the queue's stations (send a
technician), each masking the incident's own evidence; on the roadside unit, `dead K012_speed: reads 0.58 (its
floor) while K012_occ carry on` with K012_occ at 95 %. A loop that dies in free flow is still `dead`. A real
Pipeline replaying a real CSV of the corridor simulator."""
from __future__ import annotations

from agent.sources.simulate import AnomalySpec
from test_faults import CORRIDOR, H, agent_config, decided, replay, simulate, t0, write_csv


def test_a_standstill_queue_is_no_dead_loop_and_a_dead_loop_in_free_flow_still_is(tmp_path):
    anomalies = [AnomalySpec(kind="dead", at_s=3 * H, duration_s=600, target="S05_speed"),
                 AnomalySpec(kind="incident", at_s=5 * H, duration_s=1200, target="S03", magnitude=1.5)]
    records = simulate("corridor", CORRIDOR, 6, anomalies)
    path = write_csv(tmp_path / "corridor.csv", records, CORRIDOR)
    faults, alerts, _ = replay(agent_config(tmp_path, path, CORRIDOR, "corridor"))
    [dead] = decided(faults, "S05_speed", "dead")
    assert t0() + 3 * H <= dead.start <= t0() + 3 * H + 60
    in_queue = [(f.sensor, f.evidence["summary"]) for f in faults
                if f.event == "fault" and f.kind == "dead" and f.start >= t0() + 5 * H]
    assert in_queue == []
    assert [a for a in alerts if t0() + 5 * H <= a.ts <= t0() + 5 * H + 1200]
