"""Anomaly-like windows made from calm ones: the inputs the model meets during incidents.

The training data is normal traffic (anomalies disabled), so its windows never carry what an
incident puts into the context rows: a queue that drags speed towards 0 and pushes occupancy
far above anything seen in calm traffic, a spike, a sensor that drops out to 0. int8
calibration has to cover those inputs (or an int8 artifact saturates exactly when it matters),
and verify has to test them. Both use `perturb_context`.

Every perturbation touches the CONTEXT rows (0..T-2), which the model reads as input:
- spike:       1–3 consecutive context rows of one sensor pushed by ±magnitude (transient;
               the newest row is left as it was);
- level_shift: from a random context row through the newest row, 1–3 adjacent sensors
               shifted by ±magnitude (a persisting incident: the newest row shares it);
- floor_drop:  from a random context row through the newest row, one sensor held at its
               physical floor, raw 0 in normalised units (speed collapsing in a queue, flow
               stopping, a detector reading 0).
Magnitudes are in normalised units (training standard deviations) and cycle through
MAGNITUDES, so each kind appears at every size. Missing readings stay 0 (missing).
Deterministic for a given seed.
"""
from __future__ import annotations

import numpy as np

from agent.manifest import Normalisation
from agent.window import Normaliser

KINDS = ("spike", "level_shift", "floor_drop")
#: ±shift sizes in normalised units; an incident on the demo corridor reaches about 15 (occupancy)
#: and -26 (speed collapsing to a crawl on a sensor with a narrow calm range).
MAGNITUDES = (2.0, 4.0, 8.0, 16.0, 24.0)


def floor_from_normalisation(normalisation: Normalisation, sensors: list[str]) -> np.ndarray:
    """Raw 0 of every sensor in normalised units: (0 - mean) / std."""
    norm = Normaliser.from_manifest(normalisation, sensors)
    return (-norm.mean / np.where(norm.std > 0, norm.std, 1.0)).astype(np.float32)


def perturb_context(values: np.ndarray, missing: np.ndarray, floor: np.ndarray, seed: int,
                    copies: int = 1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`copies` perturbed copies of every window (n·copies, T, N), their missing masks, and kinds.

    Copy c of window i is at index i·copies + c; kind and magnitude cycle over that index.
    """
    rng = np.random.default_rng(seed)
    n, steps, sensors = values.shape
    if steps < 2:
        raise ValueError("a window needs at least one context row to perturb")
    out = np.repeat(values, copies, axis=0).astype(np.float32, copy=True)
    out_missing = np.repeat(missing, copies, axis=0).astype(np.float32, copy=True)
    kinds = []
    for j in range(n * copies):
        kind = KINDS[j % len(KINDS)]
        magnitude = MAGNITUDES[(j // len(KINDS)) % len(MAGNITUDES)] * float(rng.choice([-1.0, 1.0]))
        start = int(rng.integers(0, steps - 1))              # a context row: 0..T-2
        sensor = int(rng.integers(0, sensors))
        if kind == "spike":
            stop = min(steps - 1, start + int(rng.integers(1, 4)))
            out[j, start:stop, sensor] += magnitude
        elif kind == "level_shift":
            group = slice(sensor, min(sensors, sensor + int(rng.integers(1, 4))))
            out[j, start:, group] += magnitude
        else:
            out[j, start:, sensor] = floor[sensor]
        kinds.append(kind)
    out = np.where(out_missing > 0.5, 0.0, out).astype(np.float32)
    return out, out_missing, kinds
