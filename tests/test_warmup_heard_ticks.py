"""A warm-up that counts ticks does not end on ticks that held nothing: it goes on until half of its ticks carried
a fresh reading no fault masked.

Why (chaos4, docs/measured/first-week.md): a Modbus soak's life warmed up through a source outage — 74 of its 80
warm-up ticks masked by an open `source` fault — and its numpy threshold came out at 0.035 where the other lives
had 1.85–4.43: a threshold fitted on six ticks of data. The Pipeline as the agent builds it, rows as an aligner
gives them for a source that fell silent (every sensor missing).
"""
from __future__ import annotations

import logging

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row

NAMES = ["a", "b", "c"]
WARMUP = 60


def _pipeline(**faults) -> Pipeline:
    return Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group", "sources": [{"type": "stdin"}],
        "sensors": [{"name": n, "group": "skid"} for n in NAMES],
        "window": {"steps": 8}, "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]}, "faults": faults}))


def _row(k: int, rng: np.random.Generator, silent: bool) -> Row:
    missing = np.full(len(NAMES), silent)
    values = np.where(missing, np.nan, 50.0 + rng.normal(0.0, 1.0, len(NAMES)))
    return Row(ts=1000.0 + k, values=values, missing=missing, carried=np.zeros(len(NAMES), bool))


def test_a_warmup_through_an_outage_goes_on_until_half_its_ticks_were_heard(caplog):
    rng = np.random.default_rng(3)
    pipe = _pipeline()
    heard = 0
    caplog.set_level(logging.WARNING, logger="stad.pipeline")
    for k in range(400):
        silent = 6 <= k < WARMUP        # the source away from the 7th tick to the warm-up's count
        heard += not silent
        pipe.step(_row(k, rng, silent))
        if k == WARMUP - 1:
            assert not pipe.warm, "the warm-up ended on 6 heard ticks of 60"
        if pipe.warm:
            break
    assert pipe.warm
    assert heard == (WARMUP + 1) // 2, f"ended with {heard} heard ticks, not at half of {WARMUP}"
    said = [r.getMessage() for r in caplog.records if "warm-up goes on" in r.getMessage()]
    assert len(said) == 1 and "only 6 of its 60 ticks" in said[0], said


def test_a_warmup_with_most_ticks_heard_ends_at_its_count():
    """A third of the ticks empty (no fault masking the rest: `faults.mask` off) is still more than half heard."""
    rng = np.random.default_rng(4)
    pipe = _pipeline(mask=False)
    for k in range(WARMUP - 1):
        pipe.step(_row(k, rng, silent=k % 3 == 0))
        assert not pipe.warm
    pipe.step(_row(WARMUP - 1, rng, silent=False))
    assert pipe.warm


def test_a_source_whose_faults_mask_every_sensor_is_not_learnt_from():
    """A source silent every third tick keeps its sensors' `missing` faults open (`faults.clear_s`): every warm-up
    tick is masked, so the warm-up waits — there is nothing to score while every sensor is faulty either."""
    rng = np.random.default_rng(4)
    pipe = _pipeline()
    for k in range(3 * WARMUP):
        pipe.step(_row(k, rng, silent=k % 3 == 0))
    assert not pipe.warm
