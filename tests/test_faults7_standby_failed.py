"""faults7 (qa31's leftover): a standby tier whose load failed for good drops the warm-up ticks it kept.

A standby (agent/scorers/standby.py) keeps the warm-up's ticks, checkpointed, until it loads; one whose load
failed is skipped by the chain for the rest of that life, yet kept them in every checkpoint until the next start
(~0.8 MB on the demo with a profile). Now the first checkpoint after the failure leaves them out, said once; the
next start's standby, should it load then, is fitted on the recent ticks (a checkpoint without them: perf50's way).

Real parts: a copy of the demo bundle whose onnx file is damaged after the start (the load verifies its bytes
again), tflite broken for real (tests/standby_faults.py), checkpoints written and read by agent/checkpoint.py."""
from __future__ import annotations

import logging
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, REPO, demo_dict, sim_rows  # noqa: E402
from standby_faults import CHAIN, WARMUP, break_tflite  # noqa: E402

from agent.checkpoint import CheckpointStore, fingerprint  # noqa: E402
from agent.config import from_dict  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.scorers.standby import StandbyTier  # noqa: E402
from agent.topology import adjacency  # noqa: E402

pytestmark = NO_DEMO


def test_a_standby_whose_load_failed_leaves_its_warmup_ticks_out_of_the_checkpoint(tmp_path, caplog):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, bundle)
    d = demo_dict(tmp_path, chain=CHAIN, bundle=str(bundle), probation_ticks=100000)
    d["warmup"]["ticks"] = WARMUP
    d.setdefault("threshold", {})["likelihood"] = {"mean_ticks": 10, "also_surprisal": True, "sigmas": 6}
    cfg = from_dict(d, base_dir=str(REPO))
    pipe = Pipeline(cfg)
    standby = pipe.chain.tiers[1]
    assert isinstance(standby, StandbyTier) and standby.TYPE == "onnx"
    ticks = iter(sim_rows(cfg, days=0.15))
    for r in ticks:
        if not pipe.step(r).warming:
            break
    assert "onnx" in pipe.state_dict()["standby"]              # kept until it loads (swap4)
    model = bundle / standby.artifact.file
    good = model.read_bytes()
    blob = bytearray(good)
    blob[len(blob) // 2] ^= 0xFF
    model.write_bytes(bytes(blob))                              # damaged after the start: its load fails
    break_tflite(pipe.chain.tiers[0])
    with caplog.at_level(logging.INFO):
        assert pipe.step(next(ticks)).tier == "numpy"
        pipe.chain.loading.join(timeout=240)
        assert pipe.step(next(ticks)).tier == "numpy" and standby.failed
        states = [pipe.state_dict() for _ in range(2)]
    assert all("standby" not in s for s in states)             # failed for good: nothing to fit it on later
    said = [r.getMessage() for r in caplog.records if "warm-up ticks" in r.getMessage()]
    assert len(said) == 1 and "onnx" in said[0] and "dropped" in said[0], said
    assert standby.ticks is None
    (tmp_path / "ckpt").mkdir()
    store = CheckpointStore(tmp_path / "ckpt")
    fp = fingerprint(cfg, adjacency(pipe.specs, cfg.topology), pipe.bundle_identity())
    store.save({"config": fp}, {"pipeline": states[-1]})
    model.write_bytes(good)                                     # mended before the next start: on standby again
    back = Pipeline(cfg)
    back.restore(store.load(fp)[1]["pipeline"])
    assert isinstance(back.chain.tiers[1], StandbyTier) and back.chain.tiers[1].ticks is None
    assert back.standby_problem is None and back.warm
