"""Restores at hundreds of sensors and the stop's write at fast ticks (clock21).

The fault tracker's sensor context (agent/faults/context.py) used to find a sensor's group mates and
its station by comparing every pair of sensors — two-thirds of a 256-sensor restore — and is now
built from one dict of groups; drift's pair slots likewise from offsets. Both must be the same
structures as before, or the rules decide otherwise: they are held here to the pairwise build, written
out below as it was (batch31), over topologies and spec shapes that exercise each branch.

Drift's departures ring (1.2 million rows at 1-ms ticks) and stuck's RecentMean (600,000) keep the
slots a push has written, and the stop's checkpoint reads only those: its rings must be the bytes a whole-ring scan gives (so a checkpoint
of this code and of the one before are the same), before and after the ring wraps and after a restore.
"""
from __future__ import annotations

import numpy as np
import pytest

from agent import config
from agent.faults.context import SensorContext
from agent.faults.drift import Drift
from agent.faults.rule import RecentMean, ring_state
from agent.pipeline import Pipeline
from agent.topology import group_of, neighbours, quantity_of
from conftest import through_file
from fast_tick_runs import corridor, fixed_lives, outputs, state_digest


def _pairwise(specs, topology: str) -> dict:
    """batch31's SensorContext construction (every pair compared), as plain values."""
    names = [s.name for s in specs]
    index = {n: i for i, n in enumerate(names)}

    def lists(by_name):
        return [[index[o] for o in by_name[n] if o in index and o != n] for n in names]

    near = lists(neighbours(specs, topology))
    mates = lists({s.name: [o.name for o in specs if group_of(o) == group_of(s)] for s in specs})
    groups = [group_of(s) for s in specs]
    quantities = [quantity_of(s) for s in specs]
    return {"neighbours": near, "mates": mates,
            "context": [sorted({*a, *b}) for a, b in zip(near, mates)],
            "station": [{quantities[j]: j for j in range(len(specs)) if groups[j] == groups[i]} for i in range(len(specs))]}


def _built(ctx: SensorContext) -> dict:
    return {"neighbours": [a.tolist() for a in ctx.neighbours], "mates": [a.tolist() for a in ctx.mates],
            "context": [a.tolist() for a in ctx.context], "station": [ctx.station(i) for i in range(ctx.n)]}


def _specs(sensors: list) -> list:
    return config.from_dict({"sensors": sensors, "sources": [{"type": "stdin"}], "tick_s": 10}).sensor_specs()


SPEC_SETS = {
    "stations_256": [f"S{i:03d}_{q}" for i in range(64) for q in ("flow", "occ", "speed", "x")],
    # explicit groups and neighbours, a name without "_", a quantity twice in one group (the later wins
    # station()), a sensor listed as its own neighbour (left out), groups interleaved (a group's members not adjacent in the specs)
    "mixed": [{"name": "A_flow"}, {"name": "B_flow"}, {"name": "A_occ"}, {"name": "pump"},
              {"name": "C_flow", "group": "A"}, {"name": "B_occ", "neighbours": ["A_occ", "pump", "B_occ"]},
              {"name": "B_speed"}, {"name": "x_flow", "group": "B"}, {"name": "motor", "group": "pump"}],
}


@pytest.mark.parametrize("topology", ["corridor", "group", "none"])
@pytest.mark.parametrize("name", sorted(SPEC_SETS))
def test_the_sensor_context_is_the_one_the_pairwise_build_made(name, topology):
    specs = _specs(SPEC_SETS[name])
    ctx = SensorContext(specs, topology)
    assert _built(ctx) == _pairwise(specs, topology)
    assert ctx.groups == [group_of(s) for s in specs] and ctx.quantities == [quantity_of(s) for s in specs]
    # station() hands out a copy: a caller that changes it changes no other sensor's
    ctx.station(0)["flow"] = -1
    assert ctx.station(0) == _pairwise(specs, topology)["station"][0]


@pytest.mark.parametrize("topology", ["corridor", "group"])
def test_drifts_pair_slots_are_each_sensors_pairs_in_order(topology):
    """slot[i, :k] are the indices of sensor i's k pairs (target == i), the rest the padding P."""
    cfg = config.from_dict({"sensors": SPEC_SETS["stations_256"], "sources": [{"type": "stdin"}], "tick_s": 10,
                            "topology": topology})
    ctx = SensorContext(cfg.sensor_specs(), topology)
    drift = Drift(cfg.faults, ctx, 10.0)
    p = drift.target.size
    for i, c in enumerate(ctx.context):
        want = np.flatnonzero(drift.target == i)
        assert drift.slot[i, :c.size].tolist() == want.tolist()
        assert (drift.slot[i, c.size:] == p).all()
        assert drift.source[want].tolist() == c.tolist()


def _drift(pipe) -> Drift:
    return next(r for r in pipe.health.rules if r.KIND == "drift")


def _whole_ring_history(drift) -> dict:
    """What the stop's checkpoint held before clock21: every ring scanned whole."""
    state = {"head": drift.history_head, "departures": ring_state(drift.history, 0.0)}
    if drift.moved_alone:
        state["log"], state["fit"] = ring_state(drift.log_history, 0.0), ring_state(drift.fit_history, False)
    return state


def _whole_kept_ring(ring: RecentMean) -> dict:
    """RecentMean.ring() before clock21: the rows up to the last with something kept, found over all of `kept`."""
    used = np.flatnonzero(ring.kept.any(axis=1))
    k = used[-1] + 1 if used.size else 0
    return {"size": ring.size, "rows": np.where(ring.kept[:k], ring.zeroed[:k], np.nan)}


def _same_ring(got: dict, want: dict) -> None:
    assert got["size"] == want["size"]
    a, b = got["rows"], want["rows"]
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_a_recent_means_ring_reads_what_the_whole_kept_scan_read():
    """A 40-row ring: pushes with rows of nothing kept (at the end, too), past a wrap, restored from its
    rows held at several points and pushed on: ring() is the whole scan's at every push."""
    size, n = 40, 3
    rng = np.random.default_rng(7)
    ran = RecentMean(size, n)
    _same_ring(ran.ring(), _whole_kept_ring(ran))
    for t in range(130):
        kept = rng.random(n) < (0.0 if t % 9 in (3, 4) else 0.8)
        ran.push(kept, rng.normal(size=n))
        _same_ring(ran.ring(), _whole_kept_ring(ran))
        if t in (5, 12, 38, 39, 41, 100):
            back = RecentMean(size, n)
            back.set_rows(ran.ring()["rows"], ran.head, ran.sums())
            _same_ring(back.ring(), _whole_kept_ring(back))
            for u in range(50):
                kept = rng.random(n) < (0.0 if u % 7 == 2 else 0.8)
                back.push(kept, rng.normal(size=n))
                _same_ring(back.ring(), _whole_kept_ring(back))


def _same_rings(got: dict, want: dict) -> None:
    assert got.keys() == want.keys() and got["head"] == want["head"]
    for k in got.keys() - {"head"}:
        assert got[k]["size"] == want[k]["size"]
        a, b = got[k]["rows"], want[k]["rows"]
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), k


@pytest.mark.parametrize("tick_s,ticks", [(0.001, 400), (30.0, 260)])
def test_the_stops_rings_are_the_whole_ring_scans_bytes_before_and_after_a_restore(tick_s, ticks):
    """At 1-ms ticks the ring is 1.2 million rows and the run holds a few hundred; at 30-s ticks it is
    40 rows and wraps several times. The checkpoint's rings equal the whole-ring scan's every few ticks,
    and a pipeline restored through the checkpoint file goes on writing rings (and deciding) as the run
    it continues (`threshold.quiet_s` 0: see test_clock20_restore)."""
    cfg, rows = corridor(tick_s, ticks, settings=("faults.drift_moved_alone=true", "threshold.quiet_s=0"))
    straight, restored = Pipeline(cfg), Pipeline(cfg)
    fixed_lives(straight)
    fixed_lives(restored)
    half = ticks // 2
    for k, row in enumerate(rows):
        if k == half:
            assert _drift(straight).history_head > 0
            restored.restore(through_file(straight.state_dict()))
            fixed_lives(restored)
        out = outputs(straight.step(row))
        pipes = (straight,) if k < half else (straight, restored)
        if k >= half:
            assert outputs(restored.step(row)) == out
        if k % 37 == 0 or k == ticks - 1:
            for pipe in pipes:
                _same_rings(_drift(pipe)._history_state(), _whole_ring_history(_drift(pipe)))
                steps = next(r for r in pipe.health.rules if r.KIND == "stuck").steps
                _same_ring(steps.ring(), _whole_kept_ring(steps))
    size = _drift(straight).history.shape[0]
    assert size == (1_200_000 if tick_s == 0.001 else 40)
    assert _drift(restored)._used == (ticks if tick_s == 0.001 else 40)    # one push a tick; 30 s: wrapped
    assert state_digest(restored) == state_digest(straight)
