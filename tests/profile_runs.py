"""The demo bundle's config with a given profile (its other keys as before skab32: `profile_before`), stationary rows around its normal means, and a
pipeline run over them; warm-up levels with one wandering sensor; simulator rows normalised for a
bundle: shared by the profile tests (tests/test_profile.py, tests/test_profile_per_sensor.py,
tests/test_skab23_trained_wander.py) and tests/test_model_bias.py."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from agent.checkpoint import PROFILE_BEFORE_SKAB32
from agent.scorers.profile import ProfileConfig
from agent.window import Row

REPO = Path(__file__).resolve().parent.parent
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"


def profile_before(**keys) -> ProfileConfig:
    """A profile with `keys`, the rest at the values they had by default before the skab32 round (the profile
    off, no `drifting`, the lasting-shift statistic kept, no per-sensor or trained wander): what these tests
    were written against, so each still varies only the key it is about."""
    return ProfileConfig(**{**PROFILE_BEFORE_SKAB32, **keys})


def demo_config(profile: dict, warmup_ticks: int, bundle: Path = DEMO_BUNDLE):
    from agent.config import load

    cfg = load(REPO / "configs" / "demo.yaml")
    scoring = dataclasses.replace(cfg.scoring, bundle=str(bundle), models_dir=None,
                                  profile=profile_before(**profile))
    return dataclasses.replace(cfg, scoring=scoring, sinks=[],
                               warmup=dataclasses.replace(cfg.warmup, ticks=warmup_ticks))


def stationary_rows(cfg, n: int, shift: tuple[int, int, int, float] | None = None, seed: int = 0) -> list[Row]:
    """n ticks of stationary noise around the bundle's normal means (0.3 σ), optionally with
    (sensor, first tick, last tick, σ) added: a lasting level shift."""
    from agent.bundle import load as load_bundle
    from agent.window import Normaliser

    bundle = load_bundle(cfg.scoring.bundle or str(DEMO_BUNDLE))
    norm = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
    mean, std = np.asarray(norm.mean, float), np.asarray(norm.std, float)
    rng = np.random.default_rng(seed)
    z = 0.3 * rng.standard_normal((n, len(mean)))
    if shift:
        sensor, lo, hi, sigma = shift
        z[lo:hi, sensor] += sigma
    values = mean + std * z
    none = np.zeros(len(mean), bool)
    return [Row(ts=1.7e9 + i * cfg.tick_s, values=values[i], missing=none, carried=none) for i in range(n)]


def run(cfg, rows, tier: str):
    import dataclasses

    from agent.pipeline import Pipeline

    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, chain=[tier, "numpy"]))
    pipe = Pipeline(cfg)
    assert pipe.chain.tiers[0].TYPE == tier
    out = [pipe.step(r) for r in rows]
    return pipe, [r for r in out if not r.warming]


def above_threshold(results) -> np.ndarray:
    """Per scored tick of `run`'s results: the tier's score above its threshold."""
    return np.array([r.score > r.threshold for r in results])


def tier_runs(rows, warm: int, key: str, values, bundle: Path = DEMO_BUNDLE) -> dict:
    """{value: (pipeline, above_threshold)}: the real int8 demo tier (or `bundle`'s) with the profile on and
    `scoring.profile.<key>` at each of `values`, over the same `rows`."""
    out = {}
    for value in values:
        pipe, results = run(demo_config({"enabled": True, key: value}, warm, bundle), rows, "tflite")
        out[value] = pipe, above_threshold(results)
    return out


def std_of(sensor: int, bundle_dir: Path = DEMO_BUNDLE) -> float:
    from agent.bundle import load as load_bundle
    from agent.window import Normaliser

    bundle = load_bundle(str(bundle_dir))
    return float(np.asarray(Normaliser.from_manifest(bundle.normalisation, bundle.sensors).std, float)[sensor])


def noisier_after(cfg, n: int, warm: int, sensor: int) -> list[Row]:
    """n stationary rows whose `sensor` reads 3× its warm-up noise from row `warm` on (the first scored tick): a
    sensor whose calm forecast error grew after warm-up (a pump settled a little off its warm-up, in kind)."""
    rows = stationary_rows(cfg, n, seed=5)
    rng = np.random.default_rng(11)
    for r in rows[warm:]:
        r.values[sensor] += std_of(sensor) * 0.6 * rng.standard_normal()
    return rows


def wandering_levels(n: int = 380, seed: int = 0) -> np.ndarray:
    """(n, 2) warm-up levels: sensor 0 steady, sensor 1 steady for 70 % then swinging ±1 (its wander)."""
    rng = np.random.default_rng(seed)
    levels = 0.05 * rng.standard_normal((n, 2))
    cut = int(0.7 * n)
    levels[cut:, 1] += np.sin(np.pi * np.arange(n - cut) / (n - cut))
    return levels


def normalised_sim_rows(bundle_dir: Path, cfg, days: float, seed: int, count: int):
    """(bundle, [(z, missing, ts)]): the first `count` rows of `cfg`'s simulator (no anomalies), each
    normalised with the bundle's statistics as the agent's window holds them."""
    from agent import bundle as bundles
    from agent.window import Normaliser
    from conftest import sim_rows

    bundle = bundles.load(bundle_dir)
    norm = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
    rows = sim_rows(cfg, days=days, seed=seed, anomalies="none")[:count]
    return bundle, [(norm.apply(r.values), r.missing, r.ts) for r in rows]
