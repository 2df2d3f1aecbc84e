"""Each release's verdict kept, and a rollback judged fairly (swap8; swap7 left both). In-process, tick by tick, the
running agent's Pipeline and HotSwap on the demo config with copies of the shipped demo bundle (torch-free):

- a release the shadow refused is skipped by the running rollback, said, as a restart skips it (on 7b3e1fff: queued,
  loaded and shadowed again), and the verdicts are in health and in active-bundle.json;
- a release withdrawn and put back is judged as any delivery, said, its verdict `withdrawn` then `swapped in`;
- a rollback's candidate that disagrees with the withdrawn model is swapped in (on 7b3e1fff: refused for its
  agreement, the withdrawn model scoring on);
- a record in the layout written before swap8 (no verdicts) loads, and is restarted from;
- the verdicts are bounded, a release changed since has none, a malformed entry makes the record unreadable.
The restart across a real agent process: tests/test_swap8_restart_verdicts.py."""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil

import jsonschema
import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, REPO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline, sim_rows, variant, write_manifest)

from swap_life import release_copy  # noqa: E402

from agent import hotswap  # noqa: E402
from agent.active_bundle import ACTIVE_FILE, active_tiers, read_record  # noqa: E402
from agent.bundle import read_manifest  # noqa: E402
from agent.release_verdicts import GONE_MOST, WHY_LONGEST, Verdicts, manifest_digest  # noqa: E402

pytestmark = NO_DEMO


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


def _said(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_a_refused_release_is_skipped_by_the_rollback_and_one_withdrawn_then_put_back_is_judged_again(
        tmp_path, rows, caplog, monkeypatch):
    monkeypatch.setattr(hotswap, "GONE_GRACE_S", 0.0)      # ticks here come faster than any copy: two polls suffice
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0,
                                          shadow_refuse_off_scale=0.5)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    aside = tmp_path / "aside"
    aside.mkdir()
    done = WARMUP

    def until(cond):
        nonlocal done
        done += len(drive(pipe, swap, rows[done:], until=cond))

    shutil.copytree(variant("swap8-v1", src=DEMO_BUNDLE, model_id="swap8-v1"), models / "v1")
    until(lambda: swap.status()["accepted"] >= 1)
    release_copy(models / "bad", "swap8-bad", off_scale=pipe.sensors[::2])
    until(lambda: swap.status()["rejected"] >= 1)
    assert "readings not on its scale" in swap.status()["last"]["reason"], swap.status()
    shutil.copytree(variant("swap8-v2", src=DEMO_BUNDLE, model_id="swap8-v2"), models / "v2")
    until(lambda: swap.status()["accepted"] >= 2)
    assert swap.current == models / "v2"

    # v2 withdrawn: the rollback skips bad (refused by the shadow), says so, and takes v1. v2 is put back while
    # v1 is in shadow, before any poll forgot it (the rename kept its fingerprint).
    loads_before = len(_said(caplog, "loading"))
    (models / "v2").rename(aside / "v2")
    until(lambda: swap.status()["bundle_gone"] is not None)
    (aside / "v2").rename(models / "v2")
    until(lambda: swap.status()["accepted"] >= 3)
    [gone] = _said(caplog, "is gone from models_dir")
    assert f"in turn: {models / 'v1'}, {DEMO_BUNDLE} (" in gone, gone
    assert f"skipped, as a restart skips them: {models / 'bad'} (refused by the shadow at " in gone, gone
    assert not any(str(models / "bad") in m for m in _said(caplog, "loading")[loads_before:])
    assert swap.current == models / "v1" and swap.status()["last"]["model_id"] == "swap8-v1"
    verdicts = {v["release"]: v for v in swap.status()["verdicts"]}
    assert verdicts[str(models / "bad")]["verdict"] == "refused by the shadow"
    assert "readings not on its scale" in verdicts[str(models / "bad")]["why"]
    assert verdicts[str(models / "v2")]["verdict"] == "withdrawn"
    assert verdicts[str(models / "v1")]["verdict"] == "swapped in"
    assert verdicts[str(models / "v1")]["why"].startswith("rollback: 3 shadow ticks")
    kept = json.loads((tmp_path / ACTIVE_FILE).read_text())["verdicts"]
    assert kept[manifest_digest(models / "bad")]["verdict"] == "refused by the shadow", kept
    assert kept[manifest_digest(models / "v2")]["verdict"] == "withdrawn", kept

    # v2 put back: a delivery, said as the release withdrawn before, judged in shadow and swapped in again.
    until(lambda: swap.status()["accepted"] >= 4)
    [back] = _said(caplog, "is back")
    assert back.startswith(f"model update (new bundle in models_dir): loading {models / 'v2'}: this release was "
                           f"withdrawn from models_dir at 20"), back
    assert back.endswith(f"(as {models / 'v2'}) and is back: judged as any delivery (shadow, swap)"), back
    assert swap.current == models / "v2"
    assert {v["release"]: v for v in swap.status()["verdicts"]}[str(models / "v2")]["verdict"] == "swapped in"
    health = json.loads((REPO / "agent" / "schemas" / "health.schema.json").read_text())
    jsonschema.validate(swap.status(), health["properties"]["model_update"])


def test_a_rollback_is_judged_on_its_own_health_not_on_agreeing_with_the_withdrawn_model(tmp_path, rows, caplog,
                                                                                         monkeypatch):
    """The operator withdraws the running release; the release before it alerts far more (its threshold under every
    score): it disagrees with the withdrawn model on most decisions, which the default floor (0.8) refuses for a
    delivery — for a rollback that disagreement is the point. On 7b3e1fff: refused, 'no bundle to roll back to
    qualifies', the withdrawn model scoring on."""
    from agent.hotswap import HotSwap
    from agent.pipeline import Pipeline

    monkeypatch.setattr(hotswap, "GONE_GRACE_S", 0.0)
    models = tmp_path / "models"
    models.mkdir()
    release_copy(models / "before", "swap8-before", threshold=1e-3)
    shutil.copytree(variant("swap8-act", src=DEMO_BUNDLE, model_id="swap8-act"), models / "act")
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(models / "act"), models_dir=str(models), shadow_ticks=5)
    assert cfg.scoring.shadow_min_agreement == 0.8
    pipe = Pipeline(cfg)
    swap = HotSwap(cfg, pipe, poll_ticks=2)       # both there at start: decided on
    caplog.set_level(logging.INFO)
    done = WARMUP + len(drive(pipe, swap, rows, until=lambda: swap.ticks >= 4))
    (models / "act").rename(tmp_path / "act")
    drive(pipe, swap, rows[done:], until=lambda: swap.status()["last"] is not None)
    last = swap.status()["last"]
    assert last["accepted"] and last["model_id"] == "swap8-before", last
    assert last["decision_agreement"] < 0.8, last          # a delivery would have been refused
    [swapped] = _said(caplog, "swapped in, scoring from this tick")
    assert swapped.endswith("(a rollback: its agreement and correlation with the withdrawn model not judged))"), swapped
    assert pipe.model_id() == "swap8-before"


def test_a_record_written_before_swap8_without_verdicts_loads_and_is_restarted_from(tmp_path, rows):
    """The layout 7b3e1fff writes (agent/hotswap.py `_save_record` then: json.dumps(indent=1) of these five keys)."""
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0)
    shutil.copytree(variant("swap8-old", src=DEMO_BUNDLE, model_id="swap8-old"), models / "old")
    fp = swap._bundle_dirs()[models / "old"]
    (tmp_path / ACTIVE_FILE).write_text(json.dumps(
        {"version": 1, "path": str(models / "old"), "model_id": "swap8-old", "config_bundle": swap.cfg.scoring.bundle,
         "seen": {str(models / "old"): [fp.mtime_ns, fp.listing]}}, indent=1))
    record = read_record(tmp_path)
    assert isinstance(record, dict) and "verdicts" not in record, record
    tiers, path = active_tiers(swap.cfg, record)
    assert path == models / "old" and tiers[0].describe()["model_id"] == "swap8-old"
    swap.resume(record, path)
    assert swap.status()["verdicts"] == []
    drive(pipe, swap, rows, until=lambda: swap.ticks >= 6)      # three polls: nothing judged
    assert swap._loading is None and swap.shadow is None and swap.status()["last"] is None
    swap._save_record()
    assert json.loads((tmp_path / ACTIVE_FILE).read_text())["verdicts"] == {}
    assert isinstance(read_record(tmp_path), dict)


def test_verdicts_are_bounded_keyed_by_the_manifest_and_checked_when_read(tmp_path):
    bundle = release_copy(tmp_path / "b", "swap8-b")
    v = Verdicts()
    for i in range(GONE_MOST + 8):
        v.record(f"{i:064x}", tmp_path / f"r{i}", "refused by the check", "x" * (WHY_LONGEST * 2))
    assert v.bound(set()) is None       # (every release gone: the newest GONE_MOST kept; swap10's bound)
    assert len(v.entries) == GONE_MOST and f"{0:064x}" not in v.entries and f"{GONE_MOST + 7:064x}" in v.entries
    assert all(len(e["why"]) == WHY_LONGEST for e in v.entries.values())
    assert len(json.dumps(v.to_json())) < 16_000

    v.record(manifest_digest(bundle), bundle, "refused by the shadow", "its scores")
    assert v.refusal(bundle).startswith("refused by the shadow at 20") and v.refusal(bundle).endswith(": its scores")
    m = read_manifest(bundle)
    write_manifest(bundle, dataclasses.replace(m, model_id="swap8-b2"))     # another release in the same directory
    assert v.refusal(bundle) is None

    v.record(None, bundle, "swapped in")            # no manifest to key it: nothing kept
    assert Verdicts.from_json(v.to_json()).entries == v.entries
    assert Verdicts.from_json(None).entries == {}
    for bad in ([], {"a": {"release": "r", "verdict": "liked", "why": None, "at": 1.0}},
                {"a": {"release": "r", "verdict": "withdrawn", "why": None}}):
        with pytest.raises(ValueError):
            Verdicts.from_json(bad)
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({"version": 1, "path": None, "model_id": None, "config_bundle": None,
                                                    "seen": {}, "verdicts": {"a": {"verdict": "liked"}}}))
    unreadable = read_record(tmp_path)
    assert not isinstance(unreadable, dict) and unreadable.why.startswith("verdicts: 'a': expected"), unreadable


def test_a_restart_never_starts_on_a_release_the_shadow_refused_and_a_withdrawn_one_put_back_is_judged(tmp_path):
    """A real agent process over two lives, every step waited on in its log. Life 1: v1 swapped in, bad refused by
    the shadow (off scale on half the sensors), v2 swapped in. Stopped, v2 withdrawn: life 2 skips bad, said, and
    starts on v1 (on 7b3e1fff: on bad, the newest release there that loads); the record keeps bad's refusal and
    v2 `withdrawn`; v2 put back is judged as a delivery, said, and swapped in."""
    pytest.importorskip("onnxruntime")
    from conftest import interrupt_agent, start_logged_agent, wait_for
    from swap_life import kill_left, log_waiter, rollback_agent_config, stopped_clean

    models, aside = tmp_path / "models", tmp_path / "aside"
    models.mkdir()
    aside.mkdir()
    configured = variant("swap8-base", src=DEMO_BUNDLE, model_id="swap8-base")
    cfg_path = rollback_agent_config(tmp_path, configured, models, shadow_refuse_off_scale=0.5)
    log = tmp_path / "agent.err"
    lines, logged = log_waiter(log)

    def record() -> dict:
        return json.loads((tmp_path / ACTIVE_FILE).read_text())     # (written atomically: whole or not at all)

    def deliver(name: str, proc, **changes) -> int:
        at = lines()
        release_copy(models / f".{name}", f"swap8-{name}", **changes)
        (models / f".{name}").rename(models / name)
        return at

    proc = start_logged_agent(cfg_path, tmp_path)
    try:
        logged("warm-up done", 0, proc)
        logged(f"swap8-v1 from {models / 'v1'} swapped in", deliver("v1", proc), proc)
        sensors = list(read_manifest(configured).normalisation.mean)
        refused = logged(f"rejected: {models / 'bad'}: ", deliver("bad", proc, off_scale=sensors[::2]), proc)
        assert "readings not on its scale" in refused, refused
        logged(f"swap8-v2 from {models / 'v2'} swapped in", deliver("v2", proc), proc)
        wait_for(lambda: record()["path"] == str(models / "v2"), "v2 recorded as the active bundle", 60.0, proc)
        assert interrupt_agent(proc) == 0

        # v2 withdrawn while the agent is down: the release before it is v1, not bad (newer, but refused).
        (models / "v2").rename(aside / "v2")
        proc = start_logged_agent(cfg_path, tmp_path)      # (its log written afresh)
        started = logged("starting on the newest other bundle of models_dir that loads: ", 0, proc)
        assert started.endswith(f"loads: {models / 'v1'} (swap8-v1)"), started
        skipped = logged(f"skipped {models / 'bad'} (refused by the shadow at ", 0, proc)
        assert "readings not on its scale" in skipped and skipped.endswith(
            "a restart never starts on a release the shadow or the check refused"), skipped
        logged("scoring: tier tflite: swap8-v1 (model_int8.tflite", 0, proc)
        wait_for(lambda: record()["path"] == str(models / "v1"), "v1 recorded as the active bundle", 60.0, proc)
        verdicts = {v["release"]: v["verdict"] for v in record()["verdicts"].values()}
        assert verdicts == {str(models / "v1"): "swapped in", str(models / "bad"): "refused by the shadow",
                            str(models / "v2"): "withdrawn"}, verdicts

        # v2 put back: judged as a delivery, said as the release withdrawn before, swapped in.
        at = lines()
        (aside / "v2").rename(models / "v2")
        logged(f"loading {models / 'v2'}: this release was withdrawn from models_dir at ", at, proc)
        logged(f"swap8-v2 from {models / 'v2'} swapped in", at, proc)
        wait_for(lambda: {v["release"]: v["verdict"] for v in record()["verdicts"].values()}.get(str(models / "v2"))
                 == "swapped in", "v2's verdict swapped in again", 60.0, proc)
        stopped_clean(proc, log)
    finally:
        kill_left(proc)


def test_the_running_bundle_verifying_again_after_no_rollback_qualified_is_swapped_in_again_in_its_verdict(
        tmp_path, rows):
    """The active bundle's file changed in place (refused by the check) with nothing to roll back to (no other
    release, no scoring.bundle): it scores on from memory. The file restored, the poll finds it verifying again as
    the bundle running: its verdict is `swapped in` again, else a later rollback would skip it as refused."""
    pipe, swap, models = hotswap_pipeline(tmp_path, shadow_ticks=3, shadow_min_agreement=0.0)
    shutil.copytree(variant("swap8-only", src=DEMO_BUNDLE, model_id="swap8-only"), models / "only")
    done = WARMUP + len(drive(pipe, swap, rows, until=lambda: swap.status()["accepted"] >= 1))
    model = models / "only" / "model_int8.tflite"
    good = model.read_bytes()
    model.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    done += len(drive(pipe, swap, rows[done:], until=lambda: swap.status()["bundle_gone"] is not None))
    verdict = swap.status()["verdicts"][0]
    assert verdict["verdict"] == "refused by the check" and verdict["release"] == str(models / "only"), verdict
    assert pipe.model_id() == "swap8-only"
    model.write_bytes(good)
    drive(pipe, swap, rows[done:], until=lambda: swap.status()["bundle_gone"] is None)
    verdict = swap.status()["verdicts"][0]
    assert verdict["verdict"] == "swapped in" and verdict["why"].startswith("refused by the check, then back"), verdict
    assert swap.current == models / "only" and swap.status()["accepted"] == 1
