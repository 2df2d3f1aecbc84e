"""The recent ring kept for a hot swap across a warm-up history stamped ahead of the live data (qa32, from user12).

user12 warmed the gateway on a historian export whose last tick was later than the live data's first (a history
exported in local time while the PLC stamps UTC does the same): the ring held the history's ticks, then the
live ones before them, and the restart refused it whole (`recent.ts: not increasing tick times up to the
checkpoint's last tick`) — a model swapped in after it fitted no normal profile until the ring refilled. Now the
first live tick before the ring's newest moves the kept ticks back to just before it (said once, naming the
two times), so the ring stays in time order and the checkpoint keeps it all; a checkpoint written before (its
ring out of order) is put in order the same way at the restore. Real parts: the demo bundle, the Pipeline, a
checkpoint file written and read by agent/checkpoint.py."""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, sim_rows  # noqa: E402

from agent.checkpoint import CheckpointStore, fingerprint  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.topology import adjacency  # noqa: E402

pytestmark = NO_DEMO
WARMUP = 300
LIVE = 40
AHEAD_S = 3 * 3600.0        # the history's clock three hours ahead of the live data's (local time vs UTC)


def warmed_on_a_history_ahead(tmp_path) -> tuple[Pipeline, np.ndarray]:
    """The pipeline warmed on WARMUP ticks stamped AHEAD_S late, then LIVE live ticks; the live ticks' times."""
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(DEMO_BUNDLE), profile={"enabled": True, "min_ticks": 100})
    rows = sim_rows(cfg, days=0.2)     # (576 ticks of 30 s)
    pipe = Pipeline(cfg)
    assert pipe._keeps_recent()
    for r in rows[:WARMUP]:
        pipe.step(replace(r, ts=r.ts + AHEAD_S))
    for r in rows[WARMUP:WARMUP + LIVE]:      # live data: begins hours before the history ended
        pipe.step(r)
    return pipe, np.array([r.ts for r in rows[WARMUP:WARMUP + LIVE]])


def restarted(pipe: Pipeline, state_dir, state: dict | None = None) -> Pipeline:
    """A new pipeline restored from the checkpoint file written of `pipe` (or of `state`) into `state_dir`."""
    state_dir.mkdir(exist_ok=True)
    store = CheckpointStore(state_dir)
    fp = fingerprint(pipe.cfg, adjacency(pipe.specs, pipe.cfg.topology), pipe.bundle_identity())
    store.save({"config": fp}, {"pipeline": state or pipe.state_dict()})
    new = Pipeline(pipe.cfg)
    new.restore(store.load(fp)[1]["pipeline"])
    return new


def test_the_ring_stays_in_time_order_and_a_restart_keeps_it(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    pipe, live = warmed_on_a_history_ahead(tmp_path)
    said = [r.getMessage() for r in caplog.records if "recent ticks kept for a hot swap" in r.getMessage()]
    assert len(said) == 1 and "before the warm-up's last" in said[0], said
    z, missing, ts, calm = pipe.recent_ticks()
    assert len(ts) == WARMUP and (np.diff(ts) > 0).all()
    assert np.array_equal(ts[-LIVE:], live) and ts[-LIVE - 1] < live[0]        # the live ticks as they came
    back = restarted(pipe, tmp_path / "ckpt")
    assert back.recent_problem is None and len(back.recent) == WARMUP, back.recent_problem
    for kept, got in zip(pipe.recent_ticks(), back.recent_ticks()):
        assert np.array_equal(got, kept, equal_nan=True)


def test_a_checkpoint_written_with_the_ring_out_of_order_is_put_in_order(tmp_path, caplog):
    """The state_dir user12 has: its checkpoint's ring out of order (written before this fix). Its ticks are kept,
    the older run moved back to just before the newer, not refused whole."""
    pipe, _ = warmed_on_a_history_ahead(tmp_path)
    state = pipe.state_dict()
    ring = dict(state["recent"])
    ts = ring["ts"].copy()
    ts[:-LIVE] += AHEAD_S + 600.0        # as the ring was before: the history's ticks after the live ones
    state["recent"] = {**ring, "ts": ts}
    with caplog.at_level(logging.WARNING, logger="stad"):
        back = restarted(pipe, tmp_path / "ckpt", state)
    assert back.recent_problem is None and len(back.recent) == WARMUP, back.recent_problem
    got = back.recent_ticks()
    assert (np.diff(got[2]) > 0).all() and np.array_equal(got[2][-LIVE:], ts[-LIVE:])
    assert np.array_equal(got[0], pipe.recent_ticks()[0])
    assert any("out of time order" in r.getMessage() for r in caplog.records), caplog.text
