"""active-bundle.json that cannot be written after a swap: the error line names the bundle a restart
will really start on — the one the file still names — not the configured one.

The chaos soak on the model tier (bench/chaos.py --scorer tflite) filled the state disk just as a
bundle was swapped in: `cannot record the active bundle …: No space left on device; a restart will
start on …/bundles/start` (the configured bundle), and the next life started on the bundle swapped in
before that one, which the file still named — an operator reading the line expected another model.
"""
from __future__ import annotations

import logging
import shutil

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, drive_hotswap as drive, \
    hotswap_pipeline as setup, sim_rows, demo_cfg, variant

pytestmark = NO_DEMO


def test_a_record_that_cannot_be_written_says_which_bundle_a_restart_starts_on(tmp_path, caplog):
    from agent.service import Agent

    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE)
    drive(pipe, swap, rows, until=lambda: True)
    shutil.copytree(variant("demo-b", src=DEMO_BUNDLE, model_id="demo-b"), models / "b")
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: pipe.chain.switch_count > 0)
    (tmp_path / "active-bundle.json.tmp").mkdir()       # the next record cannot be written
    caplog.set_level(logging.ERROR, logger="stad.hotswap")
    shutil.copytree(variant("demo-c", src=DEMO_BUNDLE, model_id="demo-c"), models / "c")
    drive(pipe, swap, rows[WARMUP + 200:], until=lambda: pipe.chain.switch_count > 1)
    assert pipe.chain.current.describe()["model_id"] == "demo-c"
    line = next(r.getMessage() for r in caplog.records if "cannot record the active bundle" in r.getMessage())
    assert line.endswith(f"a restart will start on {models / 'b'}"), line
    restarted = Agent(swap.cfg)         # and so it does
    try:
        assert restarted.pipeline.chain.current.describe()["model_id"] == "demo-b"
    finally:
        for sink in restarted.sinks:
            sink.close()
        restarted.state_lock.release()
