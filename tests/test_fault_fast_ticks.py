"""The fault rules at fast ticks (vibration at 10–100 Hz, bench/fuzz.py's 1-ms agent): what they keep
does not grow with 1 / tick_s where nothing reads it. perf39 found drift's departures ring (relation.py,
HISTORY_S of ticks: 1.2 million rows at 1-ms ticks, 61 MB with the log readings' rings, each row written
into every checkpoint as JSON numbers) kept for agents without a loop station, whose rules never write
or read it: the fuzz agent's checkpoint was 27 MB and its RSS ~580 MB."""
from __future__ import annotations

import numpy as np
import pytest

from agent.checkpoint import encode
from agent.config import from_dict
from agent.faults.tracker import FaultTracker
from agent.pipeline import Pipeline
from agent.sources.simulate import corridor_sensors
from agent.window import Row
from fault_states import saved as through_checkpoint, text as state_text


def _tracker(tick_s: float, sensors, topology: str | None = None, **faults) -> FaultTracker:
    cfg = from_dict({"tick_s": tick_s, "sensors": sensors, **({"topology": topology} if topology else {}),
                     "faults": faults, "sources": [{"type": "stdin"}], "scoring": {"chain": ["numpy"]},
                     "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}]})
    return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)


def _fed(tracker: FaultTracker, ticks: int, seed: int = 0) -> FaultTracker:
    rng = np.random.default_rng(seed)
    n = tracker.ctx.n
    level = rng.uniform(20.0, 100.0, n)
    for k in range(ticks):
        tracker.observe(Row(ts=1000.0 + k * tracker.tick_s, values=level * (1.0 + 0.05 * rng.standard_normal(n)),
                            missing=np.zeros(n, bool), carried=np.zeros(n, bool)))
    return tracker


def _drift(tracker: FaultTracker):
    return next(r for r in tracker.rules if r.KIND == "drift")


def test_without_a_loop_station_the_departures_ring_is_one_row_at_any_tick():
    tracker = _tracker(0.001, ["a", "b", "c"])
    drift = _drift(tracker)
    assert drift.trio.size == 0
    assert drift.history.shape[0] == 1 and drift.log_history.shape[0] == 1     # (1.2 million before)
    saved = through_checkpoint(drift.state())
    assert saved["relation"]["history"]["departures"]["size"] == 1


def test_a_loop_station_keeps_its_departures_for_history_s():
    from agent.faults.relation import HISTORY_S
    from agent.sources.simulate import corridor_sensors
    drift = _drift(_tracker(1.0, corridor_sensors(2), "corridor"))
    assert drift.trio.size > 0
    assert drift.history.shape[0] == int(HISTORY_S / 1.0)


@pytest.mark.parametrize("tick_s, sensors, topology, ticks, faults", [
    (0.001, ["a", "b", "c"], None, 3000, {}),                       # stuck's ring 600,000 rows, 3,000 held
    (0.001, ["a", "b", "c"], None, 6000, {"flatline_s": 5}),        # …5,000 rows, full
    (0.01, corridor_sensors(2), "corridor", 3000, {}),              # and the departures' ring, 120,000 rows
])
def test_the_fault_state_in_the_checkpoint_is_about_the_raw_bytes_of_the_rows_its_rings_hold(
        tick_s, sensors, topology, ticks, faults):
    """The rings go into checkpoint.bin as arrays (raw bytes), the rows not written yet left out (perf40):
    the fault tracker's part is within 1.25× the bytes of the rows its rings hold (+16 KB for the rest).
    As JSON numbers it was 143× (10 MB for 72 KB of rows), 2.65× full, 18.7× with the departures."""
    tracker = _fed(_tracker(tick_s, sensors, topology, **faults), ticks)
    stuck = next(r for r in tracker.rules if r.KIND == "stuck")
    drift = _drift(tracker)
    held = min(ticks, stuck.steps.size) * stuck.steps.zeroed[0].nbytes \
        + (min(ticks, drift.history.shape[0]) * drift.history[0].nbytes if drift.trio.size else 0)
    state = Pipeline.fault_state(tracker)
    size = len(encode({}, {"health": state}))
    assert size <= 1.25 * held + 16384, (size, held)
    fresh = _tracker(tick_s, sensors, topology, **faults)
    fresh.restore(through_checkpoint(state))
    assert state_text(through_checkpoint(Pipeline.fault_state(fresh))) == state_text(through_checkpoint(state))


def _scanned(drift, s: int) -> tuple[int, int, int]:
    """What a blame found by scanning the whole ring before perf40 (np.roll, oldest first): the
    relation's last row under half its limit (0: none), its last under AGREE × drift_z, and the first
    row past its limit from the former on (-1: none)."""
    from agent.faults.relation import AGREE, RELATION_Z
    past = np.abs(np.roll(drift.history, -drift.history_head, axis=0)[:, drift.n + s])
    half = np.flatnonzero(past <= 0.5 * RELATION_Z * drift.z_limit)
    agree = np.flatnonzero(past <= AGREE * drift.z_limit)
    last = half[-1] if half.size else 0
    broke = np.flatnonzero(past[last:] > RELATION_Z * drift.z_limit)
    return int(last), int(agree[-1] if agree.size else 0), int(last + broke[0]) if broke.size else -1


def _marked(drift, s: int) -> tuple[int, int, int]:
    drift._marks()
    last = max(drift._past_index(drift._calm_at[0, s]), 0)
    agree = max(drift._past_index(drift._calm_at[1, s]), 0)
    broke = drift._past_index(drift._break_at[s]) if drift._break_at[s] > drift._calm_at[0, s] else -1
    if broke < -1 or (broke == -1 and drift._break_at[s] > drift._calm_at[0, s]):
        col = np.abs(np.roll(drift.history, -drift.history_head, axis=0)[:, drift.n + s])
        over = np.flatnonzero(col > 2.0 * drift.z_limit)        # (_moved_at_break's own fallback, as it does it)
        broke = int(over[0]) if over.size else -1
    return last, agree, broke


def test_a_blames_last_calm_row_is_kept_as_the_ring_is_written_the_rows_a_scan_finds():
    """relation.py keeps where each station relation was last calm (and first past its limit after), brought
    up to the rows written when a blame reads it, instead of a blame copying the whole ring (np.roll) to scan
    it: ~100 ms a tick at 1-ms ticks while a relation is past half its limit. The marks find the rows the
    scan found, read every tick or after gaps of up to twice the ring, through calm runs, breaks, NaN
    departures, runs longer than the ring, and a restore (perf40)."""
    tracker = _tracker(240.0, corridor_sensors(3), "corridor")      # a 5-row ring
    drift = _drift(tracker)
    s_n, z = drift.trio.shape[0], drift.z_limit
    rng = np.random.default_rng(3)
    checked = set()
    for k in range(3000):
        regime = (k // 7) % 4            # calm, past half, past the limit, long runs past it (rows > ring)
        scale = [0.3, 1.5, 3.0, 5.0][regime] * z if (k // 40) % 5 else 5.0 * z
        dep = rng.normal(0.0, 1.0, drift.departure.size) * scale
        dep[drift.n:][rng.random(s_n) < 0.05] = np.nan
        drift.departure[...] = dep
        drift._push_history()
        if k % 97 == 13:                 # a restart: the marks found in the restored ring
            state = through_checkpoint(drift.state())
            drift = _drift(_tracker(240.0, corridor_sensors(3), "corridor"))
            drift.restore(state)
        if k % 11 in (0, 3, 4, 5) or (k // 100) % 3 == 0:     # (blames on some ticks, runs of them, gaps)
            for s in range(s_n):
                got, want = _marked(drift, s), _scanned(drift, s)
                assert got == want, (k, s, got, want)
                checked.add((want[0] > 0, want[2] >= 0))
    assert checked == {(True, True), (True, False), (False, True), (False, False)}


def test_a_blame_at_1_ms_ticks_costs_what_it_costs_at_30_s():
    """A blame (a station relation past half its limit) at 1-ms ticks, its ring 1.2 million rows, within 4×
    of one at 30-s ticks (40 rows), timed interleaved: it was ~300× (85–100 ms against 0.31–0.34; np.roll of
    the whole ring; bench/faults.py blame-cost)."""
    import time
    drifts = [_drift(_tracker(tick_s, corridor_sensors(2), "corridor")) for tick_s in (30.0, 0.001)]
    assert [d.history.shape[0] for d in drifts] == [40, 1_200_000]
    took = [[], []]
    for _ in range(15):
        for i, drift in enumerate(drifts):
            n, s_n = drift.n, drift.trio.shape[0]
            drift.departure[...] = 3.0 * drift.z_limit
            judged, size, half = np.ones(n + s_n, bool), np.full(n + s_n, 3.0 * drift.z_limit), np.ones(s_n, bool)
            t0 = time.perf_counter()
            drift._blamed(judged, size, half)
            drift._agrees(drift.departure[n:] @ drift.trio_in.T, np.ones(n, bool))
            took[i].append(time.perf_counter() - t0)
    assert np.median(took[1]) < 4.0 * np.median(took[0]) + 2e-4, took
