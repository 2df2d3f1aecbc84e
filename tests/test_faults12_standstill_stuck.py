"""faults12: an incident's standstill is not a `stuck` loop (user27: `FAULT stuck K020_flow … the same value 0 for
150 s` in the incident's queue at K020). The corridor simulator's incident holds S02's speed at 0 for 6 min while
S02's occupancy stands far over its normal: batch54 paged `stuck S02_speed`; the rule `dead` already had (a station's
occupancy over JAM × its normal level: agent/faults/standstill.py) now holds for `stuck` too. A loop stuck in free
flow is still paged. A CSV replayed through the agent's own Pipeline; the events validate against the schema."""
from __future__ import annotations

from agent.sources.lines import parse_time
from agent.sources.simulate import AnomalySpec
from faults12_replay import H, START, replay


def test_an_incident_queue_at_zero_is_no_stuck_loop_and_a_stuck_loop_in_free_flow_still_is(tmp_path):
    t0 = parse_time(START)
    incident = (t0 + 5 * H, t0 + 5.5 * H)
    faults, alerts, records = replay(tmp_path, 7, [
        AnomalySpec(kind="stuck", at_s=3 * H, duration_s=900, target="S05_speed"),
        AnomalySpec(kind="incident", at_s=5 * H, duration_s=1800, target="S03", magnitude=1.5)])
    # the queue: S02's speed read 0, unchanged, for 12 ticks (6 min, over stuck_s) — the situation user27 met
    zeros = [r.ts for r in records if incident[0] <= r.ts < incident[1] and r.values["S02_speed"] == 0]
    assert len(zeros) >= 10
    in_queue = [(f.sensor, f.kind, f.evidence["summary"]) for f in faults
                if f.event == "fault" and incident[0] <= f.start < incident[1]]
    assert in_queue == []
    assert [a for a in alerts if incident[0] <= a.ts <= incident[1]], "the incident itself is alerted"
    stuck = [f for f in faults if f.event == "fault" and f.sensor == "S05_speed" and f.kind == "stuck"]
    assert len(stuck) == 1 and t0 + 3 * H <= stuck[0].start <= t0 + 3 * H + 60
