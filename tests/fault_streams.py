"""A FaultTracker maker and its simulated rows for one of bench/faults.py's scenarios, for the tests that run
two trackers side by side on the same stream (perf53's, perf56's)."""
from __future__ import annotations


def tracker_and_rows(scenario: str, seed: int, hours: float):
    """(make, rows): `make()` a fresh FaultTracker for the scenario's config, `rows` its simulated stream."""
    from conftest import bench_module
    faults = bench_module("faults")
    from agent.config import from_dict
    from agent.faults.tracker import FaultTracker
    cfg = from_dict(faults.config_dict(scenario, seed, hours))

    def make():
        return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=cfg.window.steps)
    return make, faults.simulated_rows(cfg)
