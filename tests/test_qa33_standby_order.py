"""A standby's kept warm-up ticks across a warm-up history stamped ahead of the live data (qa33, after qa32's
recent-ring fix; docs/measured/first-week.md).

user12 warmed the gateway on a historian export in local time while the pumps stamp UTC: the history's ticks
stand hours after the live data's. The standby tier (a model tier below the top one, loaded when the chain steps
down to it) keeps the warm-up's ticks to be fitted and taught on; the restart refused them (`standby.onnx.ts: not
increasing tick times up to the checkpoint's last tick`) and the standby, if it loaded, was fitted on the recent
ticks instead. Now they are moved back to end before the restored window's last tick, said, and kept bit for bit.
Real parts: the demo bundle with both runtimes, the Pipeline, a checkpoint file written and read by
agent/checkpoint.py."""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import NO_DEMO, sim_rows  # noqa: E402
from standby_faults import WARMUP, learning_cfg  # noqa: E402

from agent.checkpoint import CheckpointStore, fingerprint  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.scorers.standby import StandbyTier  # noqa: E402
from agent.topology import adjacency  # noqa: E402

pytestmark = NO_DEMO
AHEAD_S = 3 * 3600.0        # the history three hours ahead of the live data (local time vs UTC)
LIVE = 40


def test_a_standbys_warmup_ticks_stamped_ahead_of_the_live_data_are_kept_across_a_restart(tmp_path, caplog):
    cfg = learning_cfg(tmp_path)
    rows = sim_rows(cfg, days=0.2)
    pipe = Pipeline(cfg)
    for r in rows[:WARMUP]:
        pipe.step(replace(r, ts=r.ts + AHEAD_S))
    for r in rows[WARMUP:WARMUP + LIVE]:
        pipe.step(r)
    standby = pipe.chain.tiers[1]
    assert isinstance(standby, StandbyTier) and standby.ticks is not None
    kept = standby.ticks
    state_dir = tmp_path / "ckpt"
    state_dir.mkdir()
    store = CheckpointStore(state_dir)
    fp = fingerprint(cfg, adjacency(pipe.specs, cfg.topology), pipe.bundle_identity())
    store.save({"config": fp}, {"pipeline": pipe.state_dict()})
    back = Pipeline(cfg)
    with caplog.at_level(logging.WARNING, logger="stad"):
        back.restore(store.load(fp)[1]["pipeline"])
    assert back.standby_problem is None, back.standby_problem
    z, missing, ts, calm = back.chain.tiers[1].ticks
    for want, got in zip((kept[0], kept[1], kept[3]), (z, missing, calm)):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    last = rows[WARMUP + LIVE - 1].ts
    assert (np.diff(ts) > 0).all() and ts[-1] < last and np.allclose(np.diff(ts), np.diff(kept[2]))
    said = [r.getMessage() for r in caplog.records if "standby's kept warm-up ticks" in r.getMessage()]
    assert len(said) == 1 and "moved back" in said[0], said
