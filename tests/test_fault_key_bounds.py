"""The `faults:` durations bounded (review39's extremes over every numeric key): `flatline_s`, `drift_window_s` and
`drift_every_s` at 1e300 passed check-config with "ok", and `run` ended at every start building the fault rules
(ValueError, OverflowError, TypeError: a crash loop under systemd). Every duration is now at most 30 days
(`LONGEST_S`), refused at its key path by check-config and `run` alike; at that bound the rules build. The flatline
rule holds flatline_s / tick_s rows made at the start: at 1-ms ticks 30 days is 2.6 billion of them, refused with
the size and this host's memory, as the warm-up's rows are."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from agent.config import from_dict
from agent.faults.config import LONGEST_S, FaultConfig
from agent.faults.tracker import FaultTracker
from agent.host_checks import memory_bytes
from config_mutants import check_config
from small_config import small_config

DURATIONS = [f.name for f in dataclasses.fields(FaultConfig) if f.name.endswith("_s")]


def _config(tmp_path: Path, tick_s: float, faults: dict) -> Path:
    (tmp_path / "r.csv").write_text("timestamp,a,b\n1767225600,1,2\n")
    path = small_config(tmp_path, {"type": "replay", "path": "r.csv"}, ["a", "b"], tick_s=tick_s)
    doc = yaml.safe_load(path.read_text())
    doc["faults"] = faults
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_every_fault_duration_past_30_days_is_refused_at_its_key(tmp_path):
    assert len(DURATIONS) >= 15
    code, err = check_config(_config(tmp_path, 1, {k: 1e300 for k in DURATIONS}))
    assert code == 2, err
    for key in DURATIONS:
        assert f"faults.{key}" in err, (key, err)


def test_every_fault_duration_at_30_days_builds_the_rules(tmp_path):
    faults = {k: LONGEST_S for k in DURATIONS}
    code, err = check_config(_config(tmp_path, 1, faults))
    assert code == 0, err
    cfg = from_dict({"tick_s": 1, "sensors": ["a", "b", "c"], "topology": "group", "faults": faults,
                     "sources": [{"type": "stdin"}], "scoring": {"chain": ["numpy"]},
                     "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}]})
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    assert next(r for r in tracker.rules if r.KIND == "stuck").flat_ticks == int(LONGEST_S)


def test_a_flatline_ring_past_this_hosts_memory_is_refused(tmp_path):
    have = memory_bytes()
    assert have is not None and have > 2**20       # (Linux: the check is made)
    need = FaultConfig(flatline_s=LONGEST_S).flatline_ring_bytes(0.001, 2)
    assert need > have, "this host holds 30 days of 1-ms rows: the refusal cannot be shown here"
    code, err = check_config(_config(tmp_path, 0.001, {"flatline_s": LONGEST_S}))
    assert code == 2, err
    assert "faults.flatline_s: 2.592e+06 s at tick_s 0.001 is 2,592,000,000 ticks of 2 sensors" in err, err
    assert "more than this host's" in err, err


def test_a_flatline_ring_this_host_holds_passes(tmp_path):
    code, err = check_config(_config(tmp_path, 0.001, {"flatline_s": 3600}))
    assert code == 0, err
