"""qa23: active-bundle.json lost **and** `scoring.bundle` changed in the config during the same
downtime. Before, the agent started on the bundle a hot swap had put in (the one the checkpoint
names, in models_dir) and resumed on it: the operator's new choice was ignored without a word. Now
the checkpoint's header says which `scoring.bundle` it was taken under; when the config names
another, the operator's choice wins as it does with the record kept — the configured bundle, the
checkpoint resumed but for the model tier, prepared again ("the model differs"; a fresh warm-up before
swap5), a line naming the bundles. With the config
unchanged the agent still resumes on the checkpoint's bundle (qa22). Real bundles, a real hot swap,
real checkpoint files."""
from __future__ import annotations

import logging
import shutil

import pytest

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg, variant
from swap_life import close, demo_swapped_in


def _cfg(tmp_path, bundle):
    return demo_cfg(tmp_path / "state", warmup_ticks=WARMUP, bundle=str(bundle), models_dir=str(tmp_path / "models"),
                    shadow_ticks=3)


@NO_DEMO
@pytest.mark.parametrize("config", ["unchanged", "scoring.bundle changed"])
def test_a_lost_record_and_a_changed_scoring_bundle_start_on_the_operators_choice(tmp_path, config, caplog):
    from agent.service import Agent
    swapped = demo_swapped_in(tmp_path)
    (tmp_path / "state" / "active-bundle.json").unlink()
    chosen = tmp_path / "bundles" / "c"          # the operator's new scoring.bundle, outside models_dir
    shutil.copytree(variant("demo-c", src=DEMO_BUNDLE, model_id="demo-c"), chosen, copy_function=shutil.copy)
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(_cfg(tmp_path, DEMO_BUNDLE if config == "unchanged" else chosen))
    try:
        start = agent.checkpoint_start
        if config == "unchanged":
            assert start["state"] == "resumed", start
            assert agent.pipeline.warm
            assert agent.pipeline.bundle_identity()["path"] == str(swapped)
            return
        assert agent.pipeline.bundle_identity()["path"] == str(chosen)       # old: models/a, resumed
        # since swap5 no fresh warm-up: all but the model tier resumes, the tier is prepared again
        assert agent.pipeline.warm
        assert start["state"] == "resumed" and "the model differs" in start["detail"], start
        assert f"demo-a ({swapped})" in start["detail"] and f"demo-c ({chosen})" in start["detail"], start
        [said] = [r.getMessage() for r in caplog.records if "scoring.bundle changed since the checkpoint" in r.getMessage()]
        assert f"({DEMO_BUNDLE} then, {chosen} now)" in said, said
        assert f"starting on the configured bundle, {chosen}, not on the bundle" in said, said
        assert "the checkpoint resumes but for the model tier, prepared again" in said, said
        assert f"demo-a ({swapped}, swapped in from models_dir)" in said, said
    finally:
        close(agent)
