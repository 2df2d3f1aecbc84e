"""The fault tracker's cost cuts keep its behaviour: a rule's cadence (faults.<kind>_every_s) and the
condition timer's idle path (agent/faults/rule.py, tracker.py)."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import from_dict
from agent.faults.rule import Held
from agent.faults.tracker import FaultTracker
from agent.records import Rejects
from agent.sources.simulate import corridor_sensors, generate
from agent.window import Aligner
from fault_states import saved as through_checkpoint, text as state_text

TICK_S = 30.0


def corridor_rows(ticks: int, **faults):
    cfg = from_dict({"tick_s": TICK_S, "topology": "corridor", "sensors": corridor_sensors(2), "faults": faults,
                     "sources": [{"type": "simulate", "scenario": "corridor", "seed": 1,
                                  "start": "2026-01-05T00:00:00Z", "duration_s": ticks * TICK_S}]})
    rows = Aligner.for_agent(cfg, Rejects()).align_all(generate(cfg.sources[0], cfg.sensor_names(), cfg.tick_s))
    return cfg, rows


def drift_rule(tracker: FaultTracker):
    return next(r for r in tracker.rules if r.KIND == "drift")


@pytest.mark.parametrize("every_s, k", [(0.0, 1), (3 * TICK_S, 3), (2.6 * TICK_S, 3)])
def test_drift_is_judged_every_k_ticks_as_a_tick_k_times_as_long(every_s, k):
    cfg, rows = corridor_rows(300, drift_every_s=every_s)
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    drift = drift_rule(tracker)
    assert drift.held.tick_s == k * TICK_S               # its durations stay in seconds
    for row in rows:
        tracker.observe(row)
    ran = sum(round(r.ts / TICK_S) % k == 0 for r in rows)
    assert drift.ticks == ran                            # it learned on exactly its own ticks
    assert abs(ran - len(rows) / k) <= 1


def test_every_tick_is_the_default_and_the_other_rules_run_every_tick():
    cfg, _ = corridor_rows(10)
    assert cfg.faults.drift_every_s == 0
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    assert tracker.every == [1] * len(tracker.rules)


def test_drift_every_s_is_validated():
    with pytest.raises(Exception, match=r"faults\.drift_every_s"):
        corridor_rows(10, drift_every_s=-1)


def test_an_idle_condition_timer_returns_what_the_full_update_returns():
    """Held skips its work while nothing holds; the seconds and the state match the full update."""
    rng = np.random.default_rng(0)
    fast = Held(5, 30.0)
    since_expected = np.full(5, np.nan)
    ticks_expected = np.zeros(5, np.int64)
    for step in range(200):
        cond = rng.random(5) < (0.3 if step % 50 < 10 else 0.0)       # bursts, then long idle spells
        seen = rng.random(5) < 0.9
        on = seen & cond
        since_expected = np.where(on & (ticks_expected == 0), float(step),
                                  np.where(seen & ~cond, np.nan, since_expected))
        ticks_expected = np.where(on, ticks_expected + 1, np.where(seen, 0, ticks_expected))
        lasted = fast.update(cond, seen, float(step))
        np.testing.assert_array_equal(lasted, ticks_expected * 30.0)
        np.testing.assert_array_equal(fast.ticks, ticks_expected)
        np.testing.assert_array_equal(fast.since, since_expected)
    assert fast.idle == (not ticks_expected.any())



def first_fitted_s(every_s: float) -> float:
    """Seconds from the first tick until every pair model of drift predicts and every station relation is fitted."""
    cfg, rows = corridor_rows(300, drift_every_s=every_s)
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    drift = drift_rule(tracker)
    for row in rows:
        tracker.observe(row)
        if drift.fitted.all() and drift.rel_fitted.all():
            return row.ts - rows[0].ts
    raise AssertionError("drift's models never fitted in 300 ticks")


def test_drift_on_a_cadence_counts_its_learning_in_seconds_not_in_runs():
    """Run on one tick in k, drift learns as many seconds before its pair models predict and its relations
    are judged, and its jump test looks back as far (MIN_PAIR_TICKS, MIN_REL_TICKS, REFIT_TICKS,
    ABRUPT_TICKS: the data's ticks' seconds, counted in its runs), not k times as long."""
    every_tick = first_fitted_s(0.0)
    assert every_tick == 59 * TICK_S                    # 60 ticks learned: fitted at the refit on the 60th
    for k in (2, 4):
        cfg, _ = corridor_rows(1, drift_every_s=k * TICK_S)
        drift = drift_rule(FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults))
        runs = drift.recent.shape[0]                    # the jump test's ring: 3 ticks' seconds, in runs
        assert drift.held.tick_s == k * TICK_S and runs * k >= 3 > (runs - 1) * k
        assert abs(first_fitted_s(k * TICK_S) - every_tick) <= 2 * k * TICK_S


@pytest.mark.parametrize("before_s, after_s", [(0.0, 4 * TICK_S), (4 * TICK_S, 0.0)])
def test_a_checkpoint_written_at_another_cadence_restores_and_runs_on(before_s, after_s):
    """drift_every_s is not in the checkpoint's fingerprint: a state written at one cadence restores at
    another. Drift's rings are then as many runs long as that cadence's (the jump test's starts empty) and
    the runs kept since the last refit that the new buffers cannot hold are folded into the moments at once:
    none lost, and it runs on."""
    cfg, rows = corridor_rows(400, drift_every_s=before_s)
    a = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    for row in rows[:238]:
        a.observe(row)
    state = through_checkpoint(a.state())
    kept = np.array(state["rules"]["drift"]["kept"]["pairs"], bool)
    learned = drift_rule(a).pair_count + kept.sum(axis=0)       # what it learned, kept runs included
    cfg_b, _ = corridor_rows(1, drift_every_s=after_s)
    b = FaultTracker(cfg_b.sensor_specs(), cfg_b.topology, cfg_b.tick_s, cfg_b.faults)
    b.restore(state)
    drift = drift_rule(b)
    np.testing.assert_array_equal(drift.pair_count + drift._pl[:drift._filled].sum(axis=0), learned)
    ticks = drift.ticks
    for row in rows[238:]:
        b.observe(row)
    assert drift.ticks > ticks and drift.fitted.all()


def test_drift_on_a_cadence_is_fed_the_blocks_mean_row():
    """Drift run every k-th tick judges each sensor's mean of its observed readings over the k ticks (a
    departure keeps its size), not the k-th row alone (its running means then average k times fewer
    readings: a departure 0.71× as large at k = 2, perf36); a reading missing in the block is left out."""
    k = 4
    cfg, rows = corridor_rows(60, drift_every_s=k * TICK_S)
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    drift = drift_rule(tracker)
    block, runs = [], 0
    for row in rows:
        tracker.observe(row)
        block.append(np.where(row.missing | row.carried, np.nan, row.values))
        if round(row.ts / TICK_S) % k == 0:
            seen = ~np.isnan(block).all(axis=0)
            expected = np.full(len(row.values), np.nan)
            expected[seen] = np.nanmean(np.array(block)[:, seen], axis=0)
            np.testing.assert_allclose(drift._xl[0], expected, rtol=1e-12)    # the row its pair features hold
            block, runs = [], runs + 1
    assert runs >= 60 // k - 1 and drift.ticks == runs


@pytest.mark.parametrize("scenario, seed, sensor, jump_ts", [
    ("pump", 6, "temp_fluid", 1767619200.0),      # the ramp's own jump back (ramp.py's claim of a spike)
    ("corridor", 9, "S04_occ", 1767597600.0),     # the station relation's jump back (relation.py)
])
def test_on_a_cadence_a_drift_that_ends_by_jumping_back_is_named_on_the_jump(scenario, seed, sensor, jump_ts):
    """Drift every 4th tick on the block's mean row: a drift whose sensor jumps back onto its neighbours
    (the simulator's drifts end so) is reported as a drift on the jump's own tick, as at k = 1 — the
    block before the jump is run, then the jump's row alone. Smeared over a block's mean, the pump's
    was named a spike and the corridor's not at all (perf36, and this round's first code)."""
    from agent.pipeline import Pipeline
    from conftest import bench_module
    faults = bench_module("faults")
    cfg = from_dict(faults.with_settings(faults.config_dict(scenario, seed, 72), ["faults.drift_every_s=120"]))
    pipe = Pipeline(cfg)
    events = []
    for row in faults.simulated_rows(cfg):
        if row.ts > jump_ts:
            break
        events += [(row.ts, e.kind) for e in pipe.step(row).faults or [] if e.sensor == sensor and e.event == "fault"]
    assert events[-1:] == [(jump_ts, "drift")]


def test_a_restart_in_the_middle_of_drifts_block_goes_on_as_the_run_it_continues():
    """drift_every_s: the block so far (each sensor's sums and counts since drift last ran), drift's
    condition standing between its runs and the last tick's time are checkpointed (perf40; review15 found
    them left out): restored mid-block at every kind of tick, the tracker raises and ends the same faults
    with the same evidence as one that ran on, and ends in the same state. Before, the block started
    over: drift's next run judged fewer readings, and its condition fell until then."""
    from conftest import bench_module
    faults = bench_module("faults")
    cfg = from_dict(faults.with_settings(faults.config_dict("corridor", 9, 72), ["faults.drift_every_s=120"]))
    rows = [r for r in faults.simulated_rows(cfg) if r.ts <= 1767597600.0]
    straight = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    chained = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    chained.life = straight.life
    assert straight.every[straight.rules.index(drift_rule(straight))] == 4
    ran_on, restarted, mid_block = [], [], 0
    for k, row in enumerate(rows):
        ran_on += [e.to_dict() for e in straight.observe(row)]
        if k % 37 == 5:         # (37: every slot of the 4-tick block in turn)
            mid_block += bool(np.count_nonzero(chained._block[1]))
            saved = through_checkpoint(chained.state())
            chained = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
            chained.life = straight.life
            chained.restore(saved)
        restarted += [e.to_dict() for e in chained.observe(row)]
    assert mid_block >= 10
    assert [e["kind"] for e in ran_on if e["event"] == "fault"].count("drift") >= 1
    assert restarted == ran_on
    assert state_text(chained.state()) == state_text(straight.state())


def test_a_restart_mid_block_at_fast_ticks_goes_on_as_the_run_it_continues():
    """perf77: `drift_every_s` 1 s is 10 ticks at 0.1-s ticks. Restored through a checkpoint at every
    slot of the block in turn (every 37 ticks), with a missing sensor, a spike and a reading of −5 among the
    ticks, the tracker raises and ends the same faults with the same evidence as one that ran on, and ends in the
    same state; drift ran on its own ticks only (one in 10)."""
    from fast_tick_runs import corridor, with_faults
    cfg, rows = corridor(0.1, 900, settings=("faults.drift_every_s=1",))
    rows = with_faults(rows, 500)
    straight = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    chained = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    chained.life = straight.life
    assert straight.every[straight.rules.index(drift_rule(straight))] == 10
    ran_on, restarted, slots = [], [], set()
    for k, row in enumerate(rows):
        ran_on += [e.to_dict() for e in straight.observe(row)]
        if k % 37 == 5:
            if np.count_nonzero(chained._block[1]):
                slots.add(round(row.ts / cfg.tick_s) % 10)
            saved = through_checkpoint(chained.state())
            chained = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
            chained.life = straight.life
            chained.restore(saved)
        restarted += [e.to_dict() for e in chained.observe(row)]
    assert len(slots) >= 8                                  # restored inside the block at (nearly) every slot
    assert {e["kind"] for e in ran_on if e["event"] == "fault"} >= {"missing", "spike"}
    assert restarted == ran_on
    assert state_text(chained.state()) == state_text(straight.state())
    assert abs(drift_rule(straight).ticks - len(rows) / 10) <= 2 + drift_rule(straight).ticks // 20   # (jumps run it too)


def test_on_a_cadence_a_calm_rule_is_not_called_as_on_every_tick():
    """perf77: with drift on a cadence, the rules the Tick says are calm (rule.rule_quiet: missing with nothing
    missing, dead with nothing at its floor…) are skipped as on an every-tick tracker — before, the cadence's path
    called each of them every tick (missing's observe alone ~30 µs mean at 10-ms ticks). The calls counted
    through to the real rules: the same on both trackers, and the same faults."""
    cfg, rows = corridor_rows(200, drift_every_s=4 * TICK_S)
    every_tick = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s,
                              from_dict({"tick_s": TICK_S, "sensors": ["a"], "sources": [{"type": "stdin"}],
                                         "faults": {"drift_every_s": 0}}).faults)
    cadence = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    assert not cadence._every_tick and every_tick._every_tick
    calls = {}

    def counted(tracker, label):
        for rule in tracker.rules:
            if rule.KIND in ("missing", "dead", "never_varied", "implausible", "out_of_range"):
                real = rule.observe

                def observe(t, real=real, key=(label, rule.KIND)):
                    calls[key] = calls.get(key, 0) + 1
                    return real(t)
                rule.observe = observe
    counted(every_tick, "every tick")
    counted(cadence, "cadence")
    for row in rows:
        a, b = every_tick.observe(row), cadence.observe(row)
        assert [(e.kind, e.event) for e in a if e.kind != "drift"] == [(e.kind, e.event) for e in b if e.kind != "drift"]
    for kind in ("missing", "dead", "never_varied", "implausible", "out_of_range"):
        assert calls.get(("cadence", kind), 0) == calls.get(("every tick", kind), 0) < len(rows), kind
