"""One of the bench's corridor seeds as `stad-agent evaluate` drives it (bench/accuracy.py `corridor_config`: the
demand-gated incidents schedule, magnitudes 0.02–1.0, configs/demo.yaml's corridor): its labelled file and a real
Pipeline with the shipped demo bundle's TFLite tier (test_corridor27_station_factor.py, test_explain2_named_place.py)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLE = str(REPO / "agent" / "models" / "demo-corridor")


def seed_pipeline(seed: int, overrides: list[str] | None = None):
    """(the config, its labelled file, the Pipeline): warm-up counted in ticks and no latency budget, as evaluate
    runs it."""
    from agent.evaluate.labelled import labelled_source, load_files
    from agent.evaluate.score_file import model_tier
    from agent.pipeline import Pipeline
    from bench.accuracy import corridor_config
    cfg = corridor_config(overrides, BUNDLE, "incidents", (0.02, 1.0), seed, False, "demand")
    (f,), _ = load_files(cfg, labelled_source(cfg, None), "warmup")
    tick_cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                                   scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, why = model_tier(cfg, "tflite", BUNDLE)
    assert tiers, f"the demo bundle's TFLite tier did not load: {why}"
    return cfg, f, Pipeline(tick_cfg, tiers=tiers, warmup_ticks=f.train_ticks)
