"""Build the demo bundle shipped inside the agent: `agent/models/demo-corridor/`.

Trains on configs/demo.yaml's simulated corridor, but on data of its own: another simulator
seed, anomalies disabled, several simulated days. Everything is seeded and the manifest's
created_at is pinned (SOURCE_DATE_EPOCH, default below), so re-running reproduces the bundle.

    stad-convert build-demo [--days copy|variable|mixed]     # or: python -m convert.cli build-demo

`--days variable` trains on days that differ the way a real corridor's do (the simulator's
VARIABLE_DAYS: shifted and taller or lower peaks, queue reach, stop-and-go waves, wet days)
instead of copies of one day (`--days copy`, the shipped bundle); `--days mixed` trains on both:
the copy days' recording and the variable days' recording side by side, each its own segment
(no window joins them), so the model sees the demo's steady day and days that differ.
`--variable-days` is kept as `--days variable`: the measured docs quote it.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "configs" / "demo.yaml"
DEFAULT_OUT = REPO / "agent" / "models" / "demo-corridor"
DEMO_EPOCH = "1767225600"        # 2026-01-01T00:00:00Z: created_at of the shipped bundle
DEMO_DAYS = 6.0
DEMO_SIM_SEED = 1001             # the demo config plays seed 7; training never sees that run
DEMO_TRAIN_SEED = 0
DAYS_KINDS = ("copy", "variable", "mixed")


def _variable(cfg):
    """The config with its simulated sources playing days that differ."""
    import dataclasses
    from agent.sources.simulate import VARIABLE_DAYS, SimulateConfig
    return dataclasses.replace(cfg, sources=[dataclasses.replace(s, variability=VARIABLE_DAYS)
                                             if isinstance(s, SimulateConfig) else s for s in cfg.sources])


def mixed_series(cfg, data):
    """Copy days and variable days of the same simulator run length and seed, as two recordings."""
    from .data import merged_records, read_series, training_sources
    kinds = {"copy days": cfg, "variable days": _variable(cfg)}
    recordings = [(name, merged_records(c, training_sources(c, days=data.days, seed=data.seed,
                                                              anomalies=data.anomalies)))
                  for name, c in kinds.items()]
    return read_series(cfg, [], recordings=recordings)


def build_demo(config: str | None = None, out: str | None = None, progress: bool = True,
               days: str = "copy") -> int:
    from agent.config import load
    from .verify import verify_and_report
    from .pipeline import DataOptions, export_bundle, train_bundle
    from .train import TrainOptions, summary_text

    if days not in DAYS_KINDS:
        raise ValueError(f"days: {days!r} is not one of {', '.join(DAYS_KINDS)}")
    os.environ.setdefault("SOURCE_DATE_EPOCH", DEMO_EPOCH)
    cfg = load(config or DEFAULT_CONFIG)
    if days == "variable":
        cfg = _variable(cfg)
    out_dir = Path(out) if out else DEFAULT_OUT
    if out_dir.exists():
        shutil.rmtree(out_dir)
    options = TrainOptions(seed=DEMO_TRAIN_SEED, d_model=24, ff_hidden=24, epochs=20, patience=3, windows_per_epoch=4096, progress=progress)
    data = DataOptions(days=DEMO_DAYS, seed=DEMO_SIM_SEED, anomalies="none")
    series = mixed_series(cfg, data) if days == "mixed" else None
    result, _ = train_bundle(cfg, out_dir, options, data, model_id="demo-corridor", series=series)
    print(summary_text(result.summary))
    export_bundle(out_dir, log=lambda m: print(m, file=sys.stderr))
    return verify_and_report(out_dir, min_agreement=0.99, record=True, log=lambda msg: print(msg, file=sys.stderr))

