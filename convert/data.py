"""Training data the way the agent sees it: the agent's own sources, aligner, normaliser and windows.

    series = read_series(cfg, training_sources(cfg, days=6, seed=101, anomalies="none"))
    split = TimeSplit.of(len(series))
    normaliser = fit_normaliser(series, split)
    z = normaliser.apply(series.raw)

Rows are split by time (train, then validation, then held-out test), never shuffled across.
Rows labelled anomalous (Record.label == 1) are kept in the context of a window but never
used as a training target, and are left out of the normaliser fit.
"""
from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agent.records import Record, Rejects
from agent.sources import open_source
from agent.sources.simulate import SimulateConfig
from agent.window import Normaliser, align_records, sliding_windows, stack_rows

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.sources.base import SourceConfig


@dataclass
class Series:
    """Aligned rows, oldest first."""
    sensors: list[str]
    ts: np.ndarray         # (n,) tick start, epoch seconds
    raw: np.ndarray        # (n, N) float64, NaN where missing
    missing: np.ndarray    # (n, N) bool
    anomalous: np.ndarray  # (n,) bool: the row carries label 1

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def training_sources(cfg: AgentConfig, days: float | None = None, seed: int | None = None,
                     anomalies: str = "none") -> list:
    """The config's sources, adjusted for offline training.

    Simulated sources run unpaced for `days` of simulated time, with `seed` (a seed other than
    the demo's keeps training data apart from what the demo plays) and, with anomalies="none",
    no injected anomalies. Other sources (replay) are used as they are.
    """
    out = []
    for src in cfg.sources:
        if isinstance(src, SimulateConfig):
            changes = {"speed": 0.0, "fast_forward_s": 0.0}
            if days is not None:
                changes["duration_s"] = float(days) * 86400.0
            elif src.duration_s is None:
                raise ValueError("a simulate source runs forever unless given a duration: pass days")
            if seed is not None:
                changes["seed"] = int(seed)
            if anomalies == "none":
                changes["anomalies"] = []
            src = dataclasses.replace(src, **changes)
        out.append(src)
    return out


def source_records(cfg: AgentConfig, src: SourceConfig) -> list[Record]:
    sensors = cfg.sensor_names()
    if isinstance(src, SimulateConfig):
        from agent.sources import simulate
        generate = getattr(simulate, "generate", None)
        if generate is not None:
            return list(generate(src, sensors, cfg.tick_s))
    source = open_source(src, sensors, Rejects(), base_dir=cfg.base_dir)
    try:
        return list(source.records())
    finally:
        source.close()


def read_series(cfg: AgentConfig, sources: list, records: list[Record] | None = None) -> Series:
    """Align the records of every source (merged by time) onto the config's tick grid."""
    if records is None:
        streams = [source_records(cfg, src) for src in sources]
        records = list(heapq.merge(*streams, key=lambda r: r.ts)) if len(streams) > 1 else streams[0]
    return series_from_records(records, cfg.sensor_names(), cfg.tick_s, cfg.window.carry_forward_s)


def series_from_records(records: list[Record], sensors: list[str], tick_s: float,
                        carry_forward_s: float) -> Series:
    rows = align_records(records, sensors, tick_s, carry_forward_s, lateness_ticks=0)
    if not rows:
        raise ValueError("the sources produced no rows")
    ts, raw, missing = stack_rows(rows)
    anomalous = np.array([r.label == 1 for r in rows], bool)
    return Series(sensors=list(sensors), ts=ts, raw=raw, missing=missing, anomalous=anomalous)


@dataclass(frozen=True)
class TimeSplit:
    """Row index boundaries: train [0, train_end), validation [train_end, val_end), test [val_end, n)."""
    n: int
    train_end: int
    val_end: int

    @classmethod
    def of(cls, n: int, val_fraction: float = 0.15, test_fraction: float = 0.15) -> "TimeSplit":
        val_end = int(round(n * (1.0 - test_fraction)))
        train_end = int(round(n * (1.0 - test_fraction - val_fraction)))
        return cls(n=n, train_end=train_end, val_end=val_end)

    def as_dict(self) -> dict:
        return {"rows": self.n, "train": [0, self.train_end], "validation": [self.train_end, self.val_end],
                "test": [self.val_end, self.n]}


def fit_normaliser(series: Series, split: TimeSplit) -> Normaliser:
    """Per-sensor mean/std of the normal training rows only."""
    train = series.raw[:split.train_end][~series.anomalous[:split.train_end]]
    return Normaliser.fit(train)


@dataclass
class Windows:
    values: np.ndarray    # (n, T, N) float32 normalised
    missing: np.ndarray   # (n, T, N) float32, 1 = missing
    usable: np.ndarray    # (n,) bool: the target (newest) row is not labelled anomalous

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, index) -> "Windows":
        return Windows(self.values[index], self.missing[index], self.usable[index])


def windows_between(z: np.ndarray, missing: np.ndarray, anomalous: np.ndarray, steps: int,
                    start: int, end: int) -> Windows:
    """Every window whose rows all lie in [start, end), as contiguous arrays."""
    if end - start < steps:
        raise ValueError(f"{end - start} rows cannot fill a window of {steps} steps")
    values, missing_w = window_arrays(z[start:end], missing[start:end], steps)
    return Windows(values, missing_w, ~anomalous[start + steps - 1:end])


def window_arrays(z: np.ndarray, missing: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of `steps` consecutive rows (agent.window.sliding_windows), as contiguous
    float32 (n - T + 1, T, N) values and missing (1 = missing)."""
    vw, mw = sliding_windows(z, missing, steps)
    return np.ascontiguousarray(vw, np.float32), np.ascontiguousarray(mw, np.float32)


def pack_rows(z: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Normalised rows as float16 with NaN for missing: compact enough to ship inside a bundle."""
    return np.where(missing, np.nan, z).astype(np.float16)


def unpack_rows(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z float32 with 0 where missing, missing bool) from pack_rows output."""
    missing = np.isnan(packed)
    return np.where(missing, 0.0, packed).astype(np.float32), missing
