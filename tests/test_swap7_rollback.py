"""The active bundle's directory gone from models_dir, or no longer verifying: the release before it, not the
fallback (swap7; user34 found a move of the active bundle out of models_dir silent while running, and a restart
then on numpy with the earlier release still there). A real agent process, two lives, bundles made from the
shipped demo bundle (another model_id each), every step waited on in the agent's log:

- life 1: v1, v2, v3 delivered and swapped in; v3 moved out of models_dir — said at once, v2 (the newest other
  bundle there) shadowed and swapped in;
- stopped; v2 moved out and v4 delivered while it is down; life 2 starts on v1 (on the base: on the configured
  bundle), not on v4, never judged; the record names v1; v4 is then judged as a delivery and swapped in;
- v4's model file changed in place (no longer verifies): said, and v1 shadowed and swapped in (on the base:
  refused, v4 scored on);
- v1 moved out too: v4 refused again by the start's check, the configured bundle, last, swapped in."""
from __future__ import annotations

import json
import logging
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, interrupt_agent, start_logged_agent, variant, wait_for  # noqa: E402
from swap_life import log_waiter, rollback_agent_config  # noqa: E402

from agent.active_bundle import ACTIVE_FILE  # noqa: E402

pytestmark = NO_DEMO


def test_the_active_bundle_gone_or_unverified_rolls_back_to_the_release_before_it_running_and_at_a_restart(tmp_path):
    models, aside = tmp_path / "models", tmp_path / "aside"
    models.mkdir()
    aside.mkdir()
    configured = variant("swap7-base", src=DEMO_BUNDLE, model_id="swap7-base")
    cfg_path = rollback_agent_config(tmp_path, configured, models)
    log = tmp_path / "agent.err"
    lines, logged = log_waiter(log)

    def recorded() -> str | None:
        """The bundle active-bundle.json names (written atomically: read whole or not at all)."""
        return json.loads((tmp_path / ACTIVE_FILE).read_text())["path"]

    def swapped_in(model_id: str, path, after: int, proc) -> str:
        return logged(f"{model_id} from {path} swapped in", after, proc)

    def deliver(name: str, proc) -> None:
        at = lines()
        shutil.copytree(variant(f"swap7-{name}", src=DEMO_BUNDLE, model_id=f"swap7-{name}"), models / f".{name}")
        (models / f".{name}").rename(models / name)
        swapped_in(f"swap7-{name}", models / name, at, proc)

    proc = start_logged_agent(cfg_path, tmp_path)
    try:
        logged("warm-up done", 0, proc)
        for name in ("v1", "v2", "v3"):
            deliver(name, proc)
        # v3 moved out of models_dir while it scores: said, and v2 rolled back to.
        at = lines()
        (models / "v3").rename(aside / "v3")
        gone = logged(f"the active bundle {models / 'v3'} is gone from models_dir", at, proc)
        assert str(models / "v2") in gone.split("in turn:")[1], gone
        swapped_in("swap7-v2", models / "v2", at, proc)
        wait_for(lambda: recorded() == str(models / "v2"), "v2 recorded as the active bundle", 60.0, proc)
        assert interrupt_agent(proc) == 0

        # v2 moved out while the agent is down, and v4 delivered: the restart starts on v1, the release before it —
        # not on v4, never judged: v4 is judged at the first poll as the delivery it is.
        (models / "v2").rename(aside / "v2")
        shutil.copytree(variant("swap7-v4", src=DEMO_BUNDLE, model_id="swap7-v4"), models / ".v4")
        (models / ".v4").rename(models / "v4")
        proc = start_logged_agent(cfg_path, tmp_path)      # (its log written afresh)
        logged(f"starting on the newest other bundle of models_dir that loads: {models / 'v1'} (swap7-v1)", 0, proc)
        logged("scoring: tier tflite: swap7-v1 (model_int8.tflite", 0, proc)
        wait_for(lambda: recorded() == str(models / "v1"), "v1 recorded as the active bundle", 60.0, proc)
        swapped_in("swap7-v4", models / "v4", 0, proc)

        # v4's model file changed in place: no longer verifies; v1 rolled back to.
        at = lines()
        blob = bytearray((models / "v4" / "model_int8.tflite").read_bytes())
        blob[100] ^= 0xFF
        (models / "v4" / "model_int8.tflite").write_bytes(bytes(blob))
        logged(f"the active bundle {models / 'v4'} no longer verifies", at, proc)
        swapped_in("swap7-v1", models / "v1", at, proc)

        # v1 moved out too: v4 refused again, the configured bundle last.
        at = lines()
        (models / "v1").rename(aside / "v1")
        logged(f"the active bundle {models / 'v1'} is gone from models_dir", at, proc)
        swapped_in("swap7-base", configured, at, proc)
        err = log.read_text()
        assert "Traceback" not in err
        assert interrupt_agent(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_bundle_not_yet_looked_at_is_no_release_to_roll_back_to_it_is_judged_as_a_delivery(tmp_path, caplog,
                                                                                             monkeypatch):
    """In-process, tick by tick: the active bundle moved out while a bundle was just delivered that no poll has
    looked at. The rollback queue holds the releases decided on (the restart's rule: never one unjudged first);
    the new one is judged after it, by a poll, as any delivery."""
    from conftest import HOTSWAP_WARMUP as WARMUP, demo_cfg, drive_hotswap as drive, hotswap_pipeline, sim_rows
    from agent import hotswap

    monkeypatch.setattr(hotswap, "GONE_GRACE_S", 0.0)      # ticks here come faster than any copy: two polls suffice
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    shutil.copytree(variant("swap7-old", src=DEMO_BUNDLE, model_id="swap7-old"), models / "old")
    swap.seen = swap._bundle_dirs()             # there before: decided on
    shutil.copytree(variant("swap7-act", src=DEMO_BUNDLE, model_id="swap7-act"), models / "act")
    results = drive(pipe, swap, rows, until=lambda: swap.status()["accepted"] >= 1)
    assert swap.current == models / "act"
    done = WARMUP + len(results)

    (models / "act").rename(tmp_path / "act")
    results = drive(pipe, swap, rows[done:], until=lambda: swap._gone_polls >= 1)     # one poll found it missing
    done += len(results)
    shutil.copytree(variant("swap7-new", src=DEMO_BUNDLE, model_id="swap7-new"), models / "new")    # before the next
    results = drive(pipe, swap, rows[done:], until=lambda: swap.status()["accepted"] >= 2)
    done += len(results)
    said = next(r.getMessage() for r in caplog.records if "is gone from models_dir" in r.getMessage())
    assert said.endswith(f"in turn: {models / 'old'}, {DEMO_BUNDLE} (each loaded, shadowed and swapped in as a "
                         "delivery)"), said
    assert swap.status()["last"]["model_id"] == "swap7-old" and swap.status()["bundle_gone"] is None
    drive(pipe, swap, rows[done:], until=lambda: swap.status()["accepted"] >= 3)
    assert swap.status()["last"]["model_id"] == "swap7-new" and swap.current == models / "new"
