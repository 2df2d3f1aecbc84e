"""The drift rule's jump backs across a checkpoint, another fault and an idle Held (issue 13's mends).

A restore must decide as the run it continues: the jump backs' records (ramp.py, relation.py) are
in the checkpoint. A fault of another kind forgets a sensor's record, and a start the jump back
hands the tracker leaves no since behind in an idle Held (rule.py's invariant)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agent.config import from_dict
from agent.faults.ramp import Ramp
from agent.faults.rule import Held
from agent.pipeline import Pipeline
from conftest import bench_module, through_file
from fault_states import assert_close, text as state_text

TICK = 30.0


def _runs_with_restores(cfg, rows, restores: list, seen) -> list[list]:
    """What `seen(k, pipe, result)` lists after each tick k of one run, and of a run restored from a
    real checkpoint round trip (encode / decode into a new Pipeline) at each tick of `restores` (in tick order).
    A restored run is the plain run up to its restore: the plain run's pipeline is checkpointed there,
    as the daemon checkpoints a run and goes on, a new Pipeline restored from that state runs the ticks
    from the restore on, and its list before the restore is the plain run's. Each restored run used to
    run its ticks before the restore again (2–3 runs of up to 7,420 ticks per test; suite11). (A deep
    copy of the plain run's pipeline, checkpointed instead, does not run as the pipeline it copies.)"""
    pipe, plain, restored = Pipeline(cfg), [], []
    for k, row in enumerate(rows):
        if k in restores:
            state = through_file(pipe.state_dict())
            again = Pipeline(cfg)
            again.restore(state)
            out = list(plain)
            for j in range(k, len(rows)):
                out += seen(j, again, again.step(rows[j]))
            restored.append(out)
        plain += seen(k, pipe, pipe.step(row))
    return [plain, *restored]


def _events_with_restores(cfg, rows, restores: list[int]) -> list[list]:
    """Fault events (tick, event without its per-life id) of one run and of the restored runs."""
    def events(k, pipe, result):
        out = []
        for ev in result.faults or []:
            d = ev.to_dict()
            d.pop("fault_id", None)
            out.append([k, d])
        return out
    return _runs_with_restores(cfg, rows, restores, events)


@pytest.mark.parametrize("seed, restores, end", [(3, [7350, 7359], 7420), (4, [4475, 4479], 4520)])
def test_a_restore_before_a_pump_jump_back_gives_the_unrestored_events(seed, restores, end):
    """Pump seed 3 decides a drift on temp_motor at tick 7360 by its jump back, seed 4 one on flow
    near tick 4480: restored just before, the start (and the kind) were those of a fresh record."""
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("pump", seed, 72))
    rows = faults.simulated_rows(cfg)
    plain, *restored = _events_with_restores(cfg, rows[:end], restores)
    assert any(k > restores[0] and ev["kind"] == "drift" for k, ev in plain)     # a jump back is in the span
    for events in restored:
        assert events == plain


def test_a_restore_in_a_loop_station_jump_back_gives_the_unrestored_events(tmp_path):
    """The demo's S04_flow drift, ended by its station relation's jump back; restored at tick 3700."""
    table = bench_module("table")
    d = table.demo_config(["numpy"], tmp_path, None)
    d["sources"][0]["anomalies"] += [
        {"kind": "drift", "at_s": 110000, "duration_s": 4000, "target": "S04_flow", "magnitude": 1.0}]
    cfg = from_dict(d, base_dir=str(table.ROOT))
    rows = table.demo_rows(cfg, 4000)
    plain, restored = _events_with_restores(cfg, rows, [3700])
    assert any(k > 3700 and ev["kind"] == "drift" and ev["sensor"] == "S04_flow" for k, ev in plain)
    assert restored == plain


def _ramp() -> Ramp:
    return Ramp(np.ones(2, bool), 600.0, TICK, jump_back=True, limit=6.0, required_s=300.0, window=3)


def _over(ramp: Ramp, ts: float, dep: float = 4.0) -> None:
    """One judged tick of sensor 0 past half the limit (not past it), sensor 1 calm."""
    departure = np.array([dep, 0.0])
    over = np.abs(departure) > 3.0
    ramp.track(np.zeros(2, bool), over, np.ones(2, bool), departure, ts)


def _claim(ramp: Ramp, held: Held, ts: float) -> np.ndarray | None:
    return ramp.claim(np.array([True, False]), lambda: np.zeros(2), np.ones(2, bool), held, ts)


def test_the_ramp_jump_back_record_round_trips_and_an_older_checkpoint_restores_a_fresh_one():
    a = _ramp()
    for k in range(12):                 # 330 s past half the limit: far (drift_s), claimable for 3 ticks
        _over(a, 1000.0 + TICK * k)
    b = _ramp()
    b.restore(json.loads(json.dumps(a.state())))      # (the ramp's state: JSON values)
    held_a, held_b = Held(2, TICK), Held(2, TICK)
    ts = 1000.0 + TICK * 12
    assert list(_claim(a, held_a, ts)) == list(_claim(b, held_b, ts)) == [True, False]
    assert held_a.since[0] == held_b.since[0] == 1000.0       # the fault starts when it passed half the limit
    old = {k: v for k, v in a.state().items() if k in ("held", "from", "ramped")}     # before the jump back's keys
    c = _ramp()
    c.restore(old)
    assert np.isnan(c.over_from).all() and not c.far_left.any() and not c.judged_run.any()
    assert _claim(c, Held(2, TICK), ts) is None


def test_a_fault_of_another_kind_forgets_the_ramp_jump_back_record():
    """Past half the limit from 1000 s, then another fault (the drift rule's rows settle): after it,
    the first tick past half the limit is not already held for drift_s, and a later jump back starts
    after that fault, not before it."""
    ramp = _ramp()
    for k in range(5):
        _over(ramp, 1000.0 + TICK * k)
    ramp.forget(np.array([True, False]))        # Drift.observe: sensor 0 has a fault of another kind
    after = 5000.0
    _over(ramp, after)
    assert _claim(ramp, Held(2, TICK), after + TICK) is None      # not far: held 0 s, not drift_s
    for k in range(1, 11):
        _over(ramp, after + TICK * k)
    held = Held(2, TICK)
    assert list(_claim(ramp, held, after + TICK * 11)) == [True, False]
    assert held.since[0] == after


def test_a_sensor_merely_unseen_keeps_its_jump_back_record():
    ramp = _ramp()
    for k in range(5):
        _over(ramp, 1000.0 + TICK * k)
    ramp.track(np.zeros(2, bool), np.zeros(2, bool), np.zeros(2, bool), np.zeros(2), 1150.0)   # not judged
    for k in range(6, 12):
        _over(ramp, 1000.0 + TICK * k)
    held = Held(2, TICK)
    assert list(_claim(ramp, held, 1000.0 + TICK * 12)) == [True, False]
    assert held.since[0] == 1000.0


def test_a_jump_back_start_leaves_no_since_in_an_idle_held():
    """rule.py: an idle Held has ticks all 0 and since all NaN. The start a claim writes reaches the
    tracker that tick; the Held's next update clears it where its condition does not hold."""
    ramp = _ramp()
    for k in range(12):
        _over(ramp, 1000.0 + TICK * k)
    held = Held(2, TICK)
    assert held.idle
    _claim(ramp, held, 1360.0)
    assert held.since[0] == 1000.0
    held.update(held.nothing, np.ones(2, bool), 1390.0)
    assert held.idle and np.isnan(held.since).all() and not held.ticks.any()


def test_a_noisy_sensors_jump_back_that_is_no_spike_ends_its_drift_and_across_a_restore():
    """Pump seed 34's flow drift (Wednesday 07:00, tick 6600) is past the limit from 07:16 but held
    only 8 ticks of drift_s's 10 when it jumps back at 07:20 (tick 6640): 111 → 71, within flow's
    own usual change, so the spike rule decides nothing. Its residual jumps back while no skid mate's
    does and the skid is calm: the drift is decided on that tick (ramp.py's jump back, drift.py),
    restored two ticks before it the same."""
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("pump", 34, 72))
    rows = faults.simulated_rows(cfg)[:6660]
    plain, restored = _events_with_restores(cfg, rows, [6638])
    assert [(k, ev["kind"]) for k, ev in plain if ev["sensor"] == "flow" and ev["event"] == "fault"
            and 6600 <= k <= 6650] == [(6640, "drift")]
    assert restored == plain


def _corridor_rows(seed: int, ticks: int):
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("corridor", seed, 72))
    return cfg, faults.simulated_rows(cfg)[:ticks]


def test_a_spike_in_the_morning_rise_is_decided_on_its_return_and_across_a_restore():
    """Corridor seed 21 spikes S05_flow at 06:00 on the first day (tick 720), as the morning rise
    moves S06_flow 4.7 × its night-time step: the context is not calm, but the jump is 42 × its usual
    change, past DOMINANT × its context's largest move. The spike rule keeps it (spike.py) and decides
    a spike on the next tick, when the reading comes back where it jumped from; restored between the
    jump and its return (the kept record is in the checkpoint), the run decides the same."""
    cfg, rows = _corridor_rows(21, 760)
    plain, restored = _events_with_restores(cfg, rows, [721])
    assert [(k, ev["kind"]) for k, ev in plain if ev["sensor"] == "S05_flow" and ev["event"] == "fault"
            and 720 <= k <= 724] == [(721, "spike")]
    assert restored == plain


def test_a_spike_whose_context_jumps_past_spike_z_is_decided_on_its_return_and_across_a_restore():
    """Corridor seed 27 spikes S05_flow at 06:00 on the third day (tick 6480) by 64 × its usual
    change while the morning rise moves S05_occ and S06_flow 8.7 and 8.5 × theirs (past `spike_z`):
    not calm, and against its own busier recent scale only 28 ×. On its own usual scale the jump is
    7 × its context's largest move, so it is kept; the next tick it comes back with the context calm
    and is a spike (spike.py). Restored between the jump and its return, the run decides the same."""
    cfg, rows = _corridor_rows(27, 6500)
    plain, restored = _events_with_restores(cfg, rows, [6481])
    assert [(k, ev["kind"]) for k, ev in plain if ev["sensor"] == "S05_flow" and ev["event"] == "fault"
            and 6480 <= k <= 6484] == [(6481, "spike")]
    assert restored == plain


def test_a_restore_continues_the_station_blames_rings_and_the_whole_fault_state(tmp_path):
    """The departures (and `drift_moved_alone`'s log readings) a station relation's blame looks back
    on are in the checkpoint: restored at tick 3700 of the demo's S04_flow drift, every later tick's
    rings and the tracker's whole checkpointed state (ids aside) are the unrestored run's."""
    table = bench_module("table")
    d = table.demo_config(["numpy"], tmp_path, None)
    d["sources"][0]["anomalies"] += [
        {"kind": "drift", "at_s": 110000, "duration_s": 4000, "target": "S04_flow", "magnitude": 1.0}]
    d.setdefault("faults", {})["drift_moved_alone"] = True
    cfg = from_dict(d, base_dir=str(table.ROOT))
    rows = table.demo_rows(cfg, 3760)
    def rings_and_state(k, pipe, result):
        if k < 3700:
            return []
        drift = next(r for r in pipe.health.rules if r.KIND == "drift")
        health = pipe.state_dict()["health"]
        health.pop("ids", None)
        for g in health.get("stations", []):       # (a lone fault's id, kept since faults6: its life part)
            g.pop("fault_id")
        assert np.abs(drift.history).max() > 0 and drift.fit_history.any()      # the rings are written
        return [(drift.history_head, drift.history.tobytes(), drift.log_history.tobytes(),
                 drift.fit_history.tobytes(), state_text(health))]
    plain, restored = _runs_with_restores(cfg, rows, [3700], rings_and_state)
    assert len(plain) == 60 and restored == plain


def test_a_restore_while_a_station_relation_holds_a_decided_mate_gives_the_unrestored_events():
    """Corridor seed 4's first-morning S04_flow drift (`drift_moved_alone`): decided at tick 870 while
    its station relation is open, and the relation stays open to tick 879 with `rel_drifted` marking
    S04_flow (its fault already ended), so the jump back at 880 does not report it again. Restored in
    that span (875, 879), the run decides the same: relation.py's JUMP_BACK_STATE, `rel_drifted` with it,
    is in the checkpoint (left out of it, the restored run reports S04_flow again at 880)."""
    from agent.sources.simulate import corridor_sensors, generate
    from agent.records import Rejects
    from agent.window import Aligner
    src = {"type": "simulate", "scenario": "corridor", "seed": 4, "start": "2026-01-05T00:00:00Z",
           "duration_s": 8 * 3600, "anomalies": [{"kind": "drift", "at_s": 7 * 3600, "duration_s": 1200,
                                                  "target": "S04_flow"}]}
    cfg = from_dict({"tick_s": TICK, "topology": "corridor", "sensors": corridor_sensors(6), "sources": [src],
                     "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": 480},
                     "scoring": {"chain": ["numpy"]}, "sinks": [], "faults": {"drift_moved_alone": True}})
    rows = Aligner.for_agent(cfg, Rejects()).align_all(generate(cfg.sources[0], cfg.sensor_names(), TICK))
    flow = cfg.sensor_names().index("S04_flow")

    def events_and_mark(k, pipe, result):
        drift = next(r for r in pipe.health.rules if r.KIND == "drift")
        out = [[k, ev.to_dict()] for ev in result.faults or []]
        for _, d in out:
            d.pop("fault_id", None)
        held = bool(drift.rel_drifted[flow] and not pipe.health._drifting[flow])
        return out + ([[k, "held"]] if held else [])

    plain, *restored = _runs_with_restores(cfg, rows[:900], [875, 879], events_and_mark)
    assert [k for k, ev in plain if ev != "held" and ev["sensor"] == "S04_flow" and ev["event"] == "fault"] == [870]
    assert [k for k, ev in plain if ev == "held"] == list(range(872, 880))      # the span the restores are in
    for events in restored:
        assert events == plain


def _tracker_runs(cfg, rows, restore_at: int, seen: str):
    """The fault tracker alone over `rows`, plain and restored through a checkpoint file at tick `restore_at`
    (the plain run's tracker checkpointed there and going on, as in _runs_with_restores): for each, its
    (tick, sensor, kind, event) list and per tick the drift rule's array `seen` (NaN as None)."""
    from agent.faults.tracker import FaultTracker

    def make():
        return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)

    runs = [(make(), [], [])]
    for k, row in enumerate(rows):
        if k == restore_at:
            tracker, events, kept = runs[0]
            again = make()
            again.restore(through_file({"faults": tracker.state()})["faults"])
            runs.append((again, list(events), list(kept)))
        for tracker, events, kept in runs:
            events += [(k, e.sensor, e.kind, e.event) for e in tracker.observe(row)]
            kept.append([None if v != v else v for v in getattr(tracker.rules[tracker._drift], seen).tolist()])
    (_, *plain), (_, *restored) = runs
    return tuple(plain), tuple(restored)


def _bench_corridor_restored(seed: int, ticks: int, restore_at: int, seen: str):
    """The bench corridor's first `ticks` rows of `seed` (bench/faults.py's settings, 72 h) through the
    tracker, plain and restored at `restore_at`: asserts both runs give the same, returns the rows and the
    plain run's (events, per-tick `seen`) (_tracker_runs)."""
    faults_bench = bench_module("faults")
    cfg = from_dict(faults_bench.config_dict("corridor", seed, 72))
    rows = faults_bench.simulated_rows(cfg)[:ticks]
    plain, restored = _tracker_runs(cfg, rows, restore_at, seen)
    assert restored == plain
    return rows, plain


def test_a_restore_while_a_station_relation_vouches_gives_the_unrestored_events():
    """Bench corridor seed 15: S01_occ drops out at 10:00 on Monday while S01_flow sits far off its
    neighbours' models, and the station relation, calm on the tick before, vouches for S01_flow
    (relation.py `_vouched`). Restored mid-dropout (10:02, tick 1204) the run decides the same — no
    S01_flow drift — and vouches since the same tick (VOUCH_STATE is in the checkpoint: without it, a
    restore mid-dropout would vouch from the restore on, and its HISTORY_S run out later)."""
    rows, (events, vouching) = _bench_corridor_restored(15, 10 * 120 + 40, 1204, "rel_vouch_since")
    assert vouching[1205][0] == rows[1200].ts           # S01's relation vouches since the dropout's first tick
    assert not [e for e in events if e[0] >= 9 * 120 and e[1] == "S01_flow"]


def test_a_restore_while_a_station_relation_is_kept_open_through_a_mates_spike_gives_the_unrestored_events():
    """Bench corridor seed 0's first-morning S04_flow drift: S04_speed's false spike at 07:18:30 (tick 877)
    makes its readings unfit for two ticks, and the open station relation is kept open through them
    (relation.py `rel_gap_since`, BACK_GAP_S), so S04_flow's jump back at 07:20 (tick 880) is decided.
    Restored mid-gap (tick 879) the run decides and keeps the gap's start as the unrestored run (left out of
    the checkpoint, the restored run's gap would start again at 879)."""
    rows, (events, gaps) = _bench_corridor_restored(0, 7 * 120 + 44, 879, "rel_gap_since")
    assert [k for k, g in enumerate(gaps) if any(v is not None for v in g)] == [878, 879]
    assert gaps[879][3] == rows[878].ts              # S04's relation (the fourth station): in its gap since 878
    assert (880, "S04_flow", "drift", "fault") in events


def _rise(ramp: Ramp, ts: float, dep: float) -> np.ndarray | None:
    """One judged tick of sensor 0 under half the limit, its context calm, not a step; sensor 1 calm."""
    size = np.array([abs(dep), 0.0])
    return ramp.rise(np.flatnonzero(size > 1.0).tolist(), size, ts, np.array([dep, 0.0]))


def test_a_steady_rise_under_half_the_limit_is_a_candidate_a_plateau_or_a_dip_is_not():
    """ramp.py's rise: past 1/6 of the limit (1.0) for 300 s without falling 0.1 below its peak, and
    grown 1.5 × since: a candidate, far (its jump back is claimable), its fault starting with the rise."""
    ramp = _ramp()
    rises = [_rise(ramp, 1000.0 + TICK * k, 1.1 + 0.1 * k) for k in range(12)]
    assert all(r is None for r in rises[:10])                   # under 300 s risen
    assert list(rises[10]) == [True, False] and list(rises[11]) == [True, False]
    b = _ramp()
    b.restore(json.loads(json.dumps(ramp.state())))
    assert list(_rise(b, 1000.0 + TICK * 12, 2.3)) == list(_rise(ramp, 1000.0 + TICK * 12, 2.3)) == [True, False]
    held = Held(2, TICK)
    assert list(_claim(b, held, 1000.0 + TICK * 13)) == [True, False]
    assert held.since[0] == 1000.0                             # the rise's start
    old = {k: v for k, v in ramp.state().items() if not k.startswith(("rise_", "far_from"))}   # before the rise
    c = _ramp()
    c.restore(old)
    assert np.isnan(c.rise_from).all() and np.isnan(c.far_from).all() and not c.rising_any
    plateau = _ramp()
    assert all(_rise(plateau, 1000.0 + TICK * k, 2.0) is None for k in range(30))     # never grows 1.5 ×
    dip = _ramp()
    deps = [1.1 + 0.1 * k for k in range(8)] + [1.5] + [1.6 + 0.1 * k for k in range(5)]    # falls 0.3 at tick 8
    assert all(_rise(dip, 1000.0 + TICK * k, d) is None for k, d in enumerate(deps))   # the run starts again


def test_a_steady_rise_under_half_the_limit_is_held_and_decided_at_its_jump_back_and_across_a_restore():
    """Pump seed 30's temp_fluid drift (Monday 13:00, tick 1560): 25 → 29.8 °C, its departure rising to
    2.87 spreads, under half the limit (3). A candidate by its rise from 13:10:30 (tick 1581), its
    lone alert waits, and its jump back at 13:20 (tick 1600) is decided as the drift, started when
    the rise did (13:05:30): no skid alert opens. Restored mid-rise, the same."""
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("pump", 30, 72))
    rows = faults.simulated_rows(cfg)[:1620]

    def seen(k, pipe, result):
        out = [(k, "alert", a.event) for a in result.alerts if k >= 1560]
        out += [(k, ev.sensor, ev.kind, ev.event, ev.start) for ev in result.faults or []
                if ev.sensor == "temp_fluid" and k >= 1560]
        return out
    plain, restored = _runs_with_restores(cfg, rows, [1590], seen)
    start = rows[1571].ts
    assert plain == [(1600, "temp_fluid", "drift", "fault", start), (1602, "temp_fluid", "drift", "fault_end", start)]
    assert restored == plain


def test_a_checkpoint_from_before_the_rings_were_arrays_restores_to_the_same_run():
    """tests/fixtures/faults_e4f9c19.ckpt: the fault tracker's state as main e4f9c19 wrote it (every ring
    a list of JSON numbers, None for NaN; bench/faults.py's corridor, seed 9, drift_moved_alone, 700 ticks).
    The rings became arrays (perf40), not another format version: restored from it, a tracker raises
    and ends the same faults with the same evidence as one that ran on through those ticks, and ends in
    the same state (its floats to 1e-9 relative: the fixture's were summed on another machine)."""
    from pathlib import Path

    from agent.checkpoint import decode
    from agent.faults.tracker import FaultTracker
    faults = bench_module("faults")
    meta, saved = decode((Path(__file__).parent / "fixtures" / "faults_e4f9c19.ckpt").read_bytes())
    old = saved["health"]
    assert isinstance(old["rules"]["stuck"]["steps"], list) and meta["ticks"] == 700      # the old form
    assert isinstance(old["rules"]["drift"]["relation"]["history"]["departures"], list)
    cfg = from_dict(faults.with_settings(faults.config_dict("corridor", 9, 72), ["faults.drift_moved_alone=true"]))
    rows = [r for r in faults.simulated_rows(cfg) if r.ts <= 1767597600.0]
    straight = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    restored = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    straight.life = restored.life = "0f0f0f"
    ran_on, after = [], []
    for k, row in enumerate(rows):
        events = straight.observe(row)
        if k >= 700:
            ran_on += [e.to_dict() for e in events]
    restored.restore(old)
    drift = next(r for r in restored.rules if r.KIND == "drift")
    assert drift.history.any() and drift.fit_history.any()          # its rings came back
    for row in rows[700:]:
        after += [e.to_dict() for e in restored.observe(row)]
    assert ran_on and after == ran_on
    assert_close(restored.state(), straight.state())       # (the fixture's floats are another machine's)
