"""A sensor that did not move through the warm-up (a pump off, a valve shut, a flag at 0) is normalised
by the std floor, so its first change scores ~1e6 and holds an alert open for as long as it differs:
the agent says so at the end of warm-up, naming the sensor, and health lists it (also after a restore,
since it is read from the normalisation itself). Before this the alerts came with no word why."""
from __future__ import annotations

import dataclasses
import logging

from agent.pipeline import Pipeline
from conftest import demo_cfg, sim_rows

WARMUP = 300


def warmed(tmp_path, flat: dict[int, float], chain=("numpy",)) -> tuple[Pipeline, list]:
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, chain=list(chain))
    pipe = Pipeline(cfg)
    rows = sim_rows(cfg, days=0.35)[:WARMUP + 40]
    for row in rows:
        values = row.values.copy()
        for j, v in flat.items():
            values[j] = v
        pipe.step(dataclasses.replace(row, values=values))
    assert pipe.warm
    return pipe, rows


def test_a_sensor_flat_through_the_warm_up_is_named_when_it_ends(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="stad.pipeline"):
        pipe, _ = warmed(tmp_path, {2: 0.0, 5: 41.5})
    lines = [r.getMessage() for r in caplog.records if "did not move" in r.getMessage()]
    names = [pipe.sensors[2], pipe.sensors[5]]
    assert len(lines) == 2 and all(any(line.startswith(n + ":") for line in lines) for n in names), lines
    assert "this warm-up read 0" in lines[0] and "41.5" in lines[1]
    health = pipe.snapshot()
    assert health["sensors_flat_at_fit"] == names


def test_moving_sensors_are_not_named_and_a_restored_pipeline_still_lists_the_flat_one(tmp_path, caplog):
    pipe, _ = warmed(tmp_path, {})
    assert pipe.snapshot()["sensors_flat_at_fit"] == []
    flat, _ = warmed(tmp_path / "b", {7: 3.0})
    again = Pipeline(flat.cfg)
    again.restore(flat.state_dict())
    assert again.snapshot()["sensors_flat_at_fit"] == [flat.sensors[7]]

