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
