"""The OPC UA test server's skid (tests/opcua_server.py: accel1, pressure, temp_motor, 10 (i + 1) + sin(t / P + i))
as a 1-s agent samples it, temp_motor frozen from a tick on, written to a real CSV and replayed through a Pipeline
(test_faults2_opcua_stuck.py, test_faults3_grouped_mates.py)."""
from __future__ import annotations

import csv
import math

from agent import config
from agent.alerts import iso
from agent.pipeline import Pipeline
from agent.records import Rejects
from agent.sources import open_source
from agent.window import Aligner

SENSORS = ["accel1", "pressure", "temp_motor"]
START = 1.8e9


def skid_csv(path, ticks: int, period: float, frozen_at: int, late_every: int = 0, thawed_at: int | None = None) -> None:
    """`ticks` rows from START, temp_motor held from `frozen_at` (until `thawed_at`, if given); with `late_every` its
    held value missing from every such tick of the hold (carried forward: a value re-sent late)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *SENSORS])
        for k in range(ticks):
            at = [k, k, min(k, frozen_at) if thawed_at is None or k < thawed_at else k]
            cells = [f"{10.0 * (i + 1) + math.sin(at[i] / period + i):.6g}" for i in range(3)]
            if late_every and k > frozen_at and (k - frozen_at) % late_every == late_every // 2:
                cells[2] = ""
            w.writerow([iso(START + k), *cells])


def replayed(cfg: dict, base_dir) -> tuple[list, list, Pipeline]:
    """The config's replay through a Pipeline: its fault events, its alert events, the Pipeline."""
    cfg = config.from_dict({**cfg, "sinks": []}, base_dir=str(base_dir))
    source = open_source(cfg.sources[0], cfg.sensor_names(), Rejects(), cfg.base_dir, tick_s=cfg.tick_s)
    pipe = Pipeline(cfg)
    faults, alerts = [], []
    for row in Aligner.for_agent(cfg, Rejects()).align_all(source.records()):
        res = pipe.step(row)
        faults += res.faults
        alerts += res.alerts
    return faults, alerts, pipe
