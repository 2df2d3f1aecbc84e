"""qa22: active-bundle.json lost (deleted, or cut short by a power cut) while a checkpoint taken with a
hot-swapped bundle exists. Before: the agent started on the configured bundle, the checkpoint was refused
("the model differs") and the agent warmed up blind although the bundle it was taken with was on disk.
Now it starts on that bundle (it lies in models_dir: only a hot swap runs one from there) and resumes,
and says what was lost. A checkpoint taken with a bundle outside models_dir (the config's
`scoring.bundle` changed) is not resumed on: the config wins (since swap5 the checkpoint resumes all but
the model tier, which is prepared again). Real bundles, real checkpoint files."""
from __future__ import annotations

import logging
import shutil

import pytest

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg, variant
from swap_life import checkpointed_life, close, demo_swapped_in


def _first_life(tmp_path, bundle) -> None:
    """An agent configured with `bundle` that wrote a checkpoint after its warm-up."""
    checkpointed_life(demo_cfg(tmp_path / "state", warmup_ticks=WARMUP, bundle=str(bundle),
                               models_dir=str(tmp_path / "models")))


@NO_DEMO
@pytest.mark.parametrize("loss", ["missing", "cut short"])
def test_a_lost_active_bundle_record_resumes_on_the_bundle_the_checkpoint_names(tmp_path, loss, caplog):
    from agent.service import Agent
    # a real hot swap (qa23: a first life configured with models/a itself, as here before, is a config that
    # changed since — scoring.bundle models/a then, demo-corridor now — and the operator's choice wins)
    swapped = demo_swapped_in(tmp_path)
    models = swapped.parent
    record = tmp_path / "state" / "active-bundle.json"
    if loss == "missing":
        record.unlink()
    else:
        record.write_bytes(record.read_bytes()[:30])
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=WARMUP, bundle=str(DEMO_BUNDLE), models_dir=str(models)))
    try:
        assert agent.checkpoint_start["state"] == "resumed", agent.checkpoint_start    # old: refused, the model differs
        assert agent.pipeline.warm
        assert agent.pipeline.bundle_identity()["path"] == str(swapped)
        said = [r.getMessage() for r in caplog.records if "the bundle the checkpoint was taken with" in r.getMessage()]
        assert len(said) == 1 and str(swapped) in said[0] and "demo-a" in said[0], said
        assert ("is missing" if loss == "missing" else "is unreadable") in said[0]
        if loss == "cut short":         # counted as before (health state_reads)
            assert agent.health_snapshot()["state_reads"]["active_bundle"].startswith(f"{record}: ")
    finally:
        close(agent)


@NO_DEMO
def test_a_checkpoint_of_a_bundle_outside_models_dir_is_still_refused_the_config_wins(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    from agent.service import Agent
    (tmp_path / "models").mkdir()
    other = tmp_path / "elsewhere"
    shutil.copytree(variant("demo-a", src=DEMO_BUNDLE, model_id="demo-a"), other, copy_function=shutil.copy)
    _first_life(tmp_path, other)
    (tmp_path / "state" / "active-bundle.json").unlink()
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=WARMUP, bundle=str(DEMO_BUNDLE),
                           models_dir=str(tmp_path / "models")))
    try:
        # the config wins; since swap5 all but the model tier resumes (no warm-up), the tier prepared again
        assert agent.checkpoint_start["state"] == "resumed" and agent.pipeline.warm
        assert "the model differs" in agent.checkpoint_start["detail"]
        assert agent.pipeline.bundle_identity()["path"] == str(DEMO_BUNDLE)
    finally:
        close(agent)
