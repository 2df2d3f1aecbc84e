"""What a restart starts on when the operator's own bundle changed, and verdicts that are not forgotten (swap10; swap8
and swap9 left them):

- `scoring.bundle` rewritten while the agent was down (a new export copied over the operator's named bundle): a real
  agent over three lives — v1 swapped in; scoring.bundle changed to ps7 (started on it, the record now holds its
  digest); a new export copied over ps7 while down — life 3 starts on v1, the last release judged here, says so with
  both digests, judges ps7 at the first poll and swaps it in (on 3ed21786: life 3 scores the new export from its
  start, unjudged and unsaid);
- with nothing judged to fall back on it is started on, and said with both digests, once;
- a release the shadow refused stays refused beyond 32 newer verdicts while it is in models_dir (on 3ed21786: the
  newest 32 kept, and a restart whose active bundle went started on it);
- the record lost and the checkpoint's bundle rewritten, not the newest there: judged too (on 3ed21786: taken as
  decided, never judged)."""
from __future__ import annotations

import json
import logging
import shutil

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, demo_cfg, drive_hotswap,  # noqa: E402
                      hotswap_pipeline, sim_rows, variant)

from agent.active_bundle import ACTIVE_FILE, RAN, active_tiers, read_record  # noqa: E402
from agent.release_verdicts import manifest_digest  # noqa: E402

pytestmark = NO_DEMO


def _said(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_scoring_bundle_rewritten_while_down_starts_on_the_last_judged_release_and_is_judged(tmp_path):
    pytest.importorskip("onnxruntime")
    from conftest import interrupt_agent, start_logged_agent, wait_for
    from swap_life import kill_left, log_waiter, rollback_agent_config, stopped_clean

    models = tmp_path / "models"
    models.mkdir()
    ps7 = tmp_path / "bundles" / "ps7"
    shutil.copytree(variant("swap10-c1", src=DEMO_BUNDLE, model_id="swap10-c1"), ps7)
    cfg_path = rollback_agent_config(tmp_path, variant("swap10-c0", src=DEMO_BUNDLE, model_id="swap10-c0"), models)
    log = tmp_path / "agent.err"
    _, logged = log_waiter(log)

    def record() -> dict:
        return json.loads((tmp_path / ACTIVE_FILE).read_text())     # (written atomically: whole or not at all)

    proc = start_logged_agent(cfg_path, tmp_path)
    try:
        logged("warm-up done", 0, proc)
        shutil.copytree(variant("swap10-v1", src=DEMO_BUNDLE, model_id="swap10-v1"), models / ".v1")
        (models / ".v1").rename(models / "v1")
        logged(f"swap10-v1 from {models / 'v1'} swapped in", 0, proc)
        assert interrupt_agent(proc) == 0

        # The operator names a bundle of their own, ps7: life 2 starts on it (the new choice wins), and the record
        # says so at once — the release that ran, ps7's digest.
        cfg_path = rollback_agent_config(tmp_path, ps7, models)
        proc = start_logged_agent(cfg_path, tmp_path)
        ran = manifest_digest(ps7)
        banner = logged("scoring: tier tflite: ", 0, proc)      # (each life's log written afresh)
        assert "scoring: tier tflite: swap10-c1 (model_int8.tflite" in banner, banner
        wait_for(lambda: record()[RAN] == ran and record()["path"] is None, "ps7 recorded as the release that ran",
                 60.0, proc)
        assert interrupt_agent(proc) == 0

        # Down: a new export copied over ps7 (its files' times kept, as cp -a and rsync -a do). Life 3 starts on v1,
        # says so with both digests, and judges ps7 at the first poll as any delivery.
        shutil.copytree(variant("swap10-c2", src=DEMO_BUNDLE, model_id="swap10-c2"), ps7, dirs_exist_ok=True)
        now = manifest_digest(ps7)
        proc = start_logged_agent(cfg_path, tmp_path)
        banner = logged("scoring: tier tflite: ", 0, proc)
        assert "scoring: tier tflite: swap10-v1 (model_int8.tflite" in banner, banner   # 3ed21786: swap10-c2
        said = logged("was rewritten while the agent was down", 0, proc).split("stad.hotswap: ", 1)[1]
        assert said == (f"scoring.bundle, {ps7}, was rewritten while the agent was down: another release is there "
                        f"(its manifest.json sha256 {now[:12]}…, the release that ran {ran[:12]}…): never started on "
                        "unjudged while a release judged here loads; judged in shadow at the first poll as any "
                        "delivery, swapped in if it passes; starting on the last release judged on this gateway that "
                        f"loads: {models / 'v1'} (swap10-v1)"), said
        logged(f"model update (scoring.bundle rewritten while the agent was down): loading {ps7}", 0, proc)
        logged(f"swap10-c2 from {ps7} swapped in", 0, proc)
        wait_for(lambda: record()[RAN] == now and record()["path"] == str(ps7), "ps7's new release recorded as "
                 "the release that ran", 60.0, proc)
        assert record()["verdicts"][now]["verdict"] == "swapped in", record()["verdicts"]
        stopped_clean(proc, log)
    finally:
        kill_left(proc)


def _ps7_beside(tmp_path, release: str):
    """(cfg, models, ps7): scoring.bundle `tmp_path/ps7` (swap10-c1), outside models_dir, which holds `release`."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(variant(f"swap10-{release}", src=DEMO_BUNDLE, model_id=f"swap10-{release}"), models / release)
    ps7 = tmp_path / "ps7"
    shutil.copytree(variant("swap10-c1", src=DEMO_BUNDLE, model_id="swap10-c1"), ps7)
    return demo_cfg(tmp_path, bundle=str(ps7), models_dir=str(models), shadow_ticks=3), models, ps7


def test_scoring_bundle_rewritten_with_nothing_judged_to_fall_back_on_is_started_on_and_said_once(tmp_path, caplog):
    """No release judged on this gateway (models_dir holds one never swapped in): the rewritten scoring.bundle is the
    operator's choice and is started on — said with both digests, once (the record takes its digest)."""
    from agent.hotswap import HotSwap
    from agent.pipeline import Pipeline

    cfg, models, ps7 = _ps7_beside(tmp_path, "old")
    first = HotSwap(cfg, Pipeline(cfg), poll_ticks=2)
    first.resume(None, None)                                    # a first start: the record written
    ran = manifest_digest(ps7)
    assert read_record(tmp_path)[RAN] == ran                    # 3ed21786: null (only a swapped-in bundle's kept)

    shutil.copytree(variant("swap10-c2", src=DEMO_BUNDLE, model_id="swap10-c2"), ps7, dirs_exist_ok=True)
    now = manifest_digest(ps7)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    kept = read_record(tmp_path)
    assert active_tiers(cfg, kept) == (None, None)
    [said] = _said(caplog, "was rewritten while the agent was down")
    assert said == (f"scoring.bundle, {ps7}, was rewritten while the agent was down: another release is there (its "
                    f"manifest.json sha256 {now[:12]}…, the release that ran {ran[:12]}…); no release judged on this "
                    "gateway to start on instead (one swapped in here, still in models_dir and unchanged): starting on "
                    "it unjudged, as the configured bundle (the operator's choice)"), said
    pipe = Pipeline(cfg)
    assert pipe.model_id() == "swap10-c2"
    resumed = HotSwap(cfg, pipe, poll_ticks=2)
    resumed.resume(kept, None)
    assert resumed.status()["started_instead"] == (
        f"scoring.bundle {ps7} rewritten while the agent was down (manifest.json sha256 {now[:12]}…, the release that "
        f"ran {ran[:12]}…): started on it unjudged, no release judged here to start on instead")
    assert read_record(tmp_path)[RAN] == now and resumed._new_bundle() is None     # nothing to judge: it runs
    caplog.clear()
    assert active_tiers(cfg, read_record(tmp_path)) == (None, None) and not _said(caplog, "rewritten")


def test_scoring_bundle_inside_models_dir_rewritten_while_down_is_a_delivery_and_health_says_what_ran_instead(
        tmp_path, caplog):
    """scoring.bundle is models/ps7 (inside models_dir), v1 swapped in before (its verdict kept) and the configured
    bundle running again at the stop; ps7 rewritten while down with its files' times kept (its fingerprint may not
    change): the restart starts on v1, the record names it, ps7 is forgotten from `seen` so that the first poll
    judges it, and health says why. On 3ed21786: started on the rewritten ps7, unjudged."""
    from agent.hotswap import HotSwap
    from agent.models_dir import bundle_dirs
    from agent.pipeline import Pipeline

    models = tmp_path / "models"
    models.mkdir()
    for name in ("v1", "ps7"):
        shutil.copytree(variant(f"swap10-{name}", src=DEMO_BUNDLE, model_id=f"swap10-{name}"), models / name)
    cfg = demo_cfg(tmp_path, bundle=str(models / "ps7"), models_dir=str(models), shadow_ticks=3)
    v1, ran = manifest_digest(models / "v1"), manifest_digest(models / "ps7")
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({
        "version": 1, "path": None, "model_id": None, "config_bundle": cfg.scoring.bundle,
        "seen": {str(p): fp.to_json() for p, fp in bundle_dirs(models).items()},
        "verdicts": {v1: {"release": str(models / "v1"), "verdict": "swapped in", "why": "x", "at": 1.0}}, RAN: ran}))
    shutil.copytree(variant("swap10-c2", src=DEMO_BUNDLE, model_id="swap10-c2"), models / "ps7", dirs_exist_ok=True)
    now = manifest_digest(models / "ps7")

    caplog.set_level(logging.INFO, logger="stad.hotswap")
    kept = read_record(tmp_path)
    tiers, path = active_tiers(cfg, kept)
    assert path == models / "v1" and tiers[0].describe()["model_id"] == "swap10-v1", path    # 3ed21786: (None, None)
    [said] = _said(caplog, "was rewritten while the agent was down")
    assert said.endswith(f"starting on the last release judged on this gateway that loads: {models / 'v1'} "
                         "(swap10-v1)"), said
    swap = HotSwap(cfg, Pipeline(cfg, tiers=tiers), poll_ticks=2)
    swap.resume(kept, path)
    assert models / "ps7" not in swap.seen and swap._new_bundle() == models / "ps7"
    saved = read_record(tmp_path)
    assert (saved["path"], saved[RAN]) == (str(models / "v1"), v1), saved
    assert swap.status()["started_instead"] == (
        f"scoring.bundle {models / 'ps7'} rewritten while the agent was down (manifest.json sha256 {now[:12]}…, the "
        f"release that ran {ran[:12]}…): started on {models / 'v1'}, the last release judged here; it is judged as a "
        "delivery (shadow, swap)")


@pytest.mark.parametrize("kept", ["refused by the shadow", "refused by the check"])
def test_scoring_bundle_rewritten_with_a_release_refused_before(tmp_path, caplog, kept):
    """ps7 (outside models_dir) rewritten while down with a release already judged: refused by the shadow, it is not
    judged again until it changes (the restart on v1, said, health says it); refused by the check, it was a copy since
    completed (the start's check passed it): judged at the first poll (no poll looks outside models_dir: queued)."""
    from agent.hotswap import HotSwap
    from agent.models_dir import bundle_dirs
    from agent.pipeline import Pipeline

    cfg, models, ps7 = _ps7_beside(tmp_path, "v1")
    v1, ran = manifest_digest(models / "v1"), manifest_digest(ps7)
    shutil.copytree(variant("swap10-c2", src=DEMO_BUNDLE, model_id="swap10-c2"), ps7, dirs_exist_ok=True)
    now = manifest_digest(ps7)
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({
        "version": 1, "path": None, "model_id": None, "config_bundle": cfg.scoring.bundle,
        "seen": {str(p): fp.to_json() for p, fp in bundle_dirs(models).items()},
        "verdicts": {v1: {"release": str(models / "v1"), "verdict": "swapped in", "why": "x", "at": 1.0},
                     now: {"release": str(ps7), "verdict": kept, "why": "its reason", "at": 2.0}}, RAN: ran}))

    caplog.set_level(logging.INFO, logger="stad.hotswap")
    record = read_record(tmp_path)
    tiers, path = active_tiers(cfg, record)
    assert path == models / "v1", path
    [said] = _said(caplog, "was rewritten while the agent was down")
    swap = HotSwap(cfg, Pipeline(cfg, tiers=tiers), poll_ticks=2)
    swap.resume(record, path)
    if kept == "refused by the shadow":
        assert "; it holds a release refused by the shadow at " in said and "not judged again until it changes" in said
        assert swap._rewritten_configured is None
        assert swap.status()["started_instead"].endswith(": not judged again until it changes")
    else:
        assert "it holds" not in said and "judged in shadow at the first poll" in said, said
        assert swap._rewritten_configured == ps7
        assert swap.status()["started_instead"].endswith("it is judged as a delivery (shadow, swap)")


def test_a_refused_release_in_models_dir_stays_refused_beyond_32_newer_verdicts(tmp_path, caplog):
    """v1 swapped in, `bad` refused by the shadow (off scale) and left in models_dir, then 40 releases refused by the
    check (half copies, removed after), then v2 swapped in; v2 moved out while the agent is down: the restart skips
    bad and starts on v1. On 3ed21786 bad's verdict was the oldest past 32: forgotten, and the restart started on it."""
    from swap_life import release_copy

    # 42 deliveries, each noticed by the models_dir poll while ticks go on: rows to spare on a busy machine (ci85, two
    # busy loops: 0.3 days ran out at the 34th)
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=1.5)
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0,
                                          shadow_refuse_off_scale=0.5)
    done = HOTSWAP_WARMUP

    def until(cond):
        nonlocal done
        done += len(drive_hotswap(pipe, swap, rows[done:], until=cond))

    def deliver(name: str, **kw) -> None:
        release_copy(models / f".{name}", f"swap10-{name}", **kw)
        (models / f".{name}").rename(models / name)

    deliver("v1")
    until(lambda: swap.status()["accepted"] == 1)
    deliver("bad", off_scale=pipe.sensors[::2])
    until(lambda: swap.status()["rejected"] == 1)
    manifest = (models / "v1" / "manifest.json").read_text()
    for i in range(40):                 # a manifest alone: its model files listed, missing (a copy that stopped)
        half = models / f"half{i}"
        (models / f".half{i}").mkdir()
        (models / f".half{i}" / "manifest.json").write_text(manifest.replace('"swap10-v1"', f'"swap10-half{i}"'))
        (models / f".half{i}").rename(half)
        until(lambda: swap.status()["rejected"] == 2 + i)
        shutil.rmtree(half)             # the operator clears it away
    deliver("v2")
    until(lambda: swap.status()["accepted"] == 2)
    bad = manifest_digest(models / "bad")
    saved = json.loads((tmp_path / ACTIVE_FILE).read_text())["verdicts"]
    assert saved[bad]["verdict"] == "refused by the shadow", sorted(v["release"] for v in saved.values())
    assert len(saved) == 3 + 32, len(saved)     # v1, bad, v2 (on disk), and the newest 32 of the releases gone

    shutil.move(models / "v2", tmp_path / "v2")         # down: v2 withdrawn
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    tiers, path = active_tiers(swap.cfg, read_record(tmp_path))
    assert path == models / "v1" and tiers[0].describe()["model_id"] == "swap10-v1", path     # 3ed21786: …/bad
    [skipped] = _said(caplog, "a restart never starts on a release the shadow or the check refused")
    assert skipped.startswith(f"skipped {models / 'bad'} (refused by the shadow at "), skipped


def test_the_record_lost_and_the_checkpoints_bundle_rewritten_not_the_newest_it_is_judged_too(tmp_path, caplog):
    """active-bundle.json lost; the bundle the checkpoint was taken with (models/a) rewritten with another release, and
    a newer one (models/b) delivered after it: the configured bundle is started on, b judged at the first poll, then a
    — the rewritten release is a delivery, not one decided on. On 3ed21786 qa23's lost-record rule took a for decided
    (only the newest judged): never judged."""
    from swap_life import close, demo_swapped_in, release_copy

    from agent.service import Agent

    swapped = demo_swapped_in(tmp_path)
    (tmp_path / "state" / ACTIVE_FILE).unlink()
    release_copy(swapped, "swap10-other")
    newer = release_copy(swapped.parent / ".b", "swap10-b")
    newer.rename(swapped.parent / "b")
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=300, bundle=str(DEMO_BUNDLE),
                           models_dir=str(swapped.parent)))
    try:
        assert agent.pipeline.model_id() == "demo-corridor", agent.pipeline.model_id()
        [said] = _said(caplog, "the bundle a hot swap made active and the models_dir bundles already decided on are lost")
        assert f", then {swapped}, the checkpoint's bundle, not started on" in said, said
        assert agent.hotswap._new_bundle() == swapped.parent / "b"
        assert agent.hotswap._new_bundle() == swapped          # 3ed21786: None (taken as decided)
    finally:
        close(agent)


def test_verdicts_past_the_byte_cap_drop_the_oldest_gone_first_refusals_last_and_say_it(tmp_path):
    """The hard cap: verdicts of releases on disk alone past CAP_BYTES (hundreds of releases kept in models_dir) —
    the oldest dropped, those gone first, then those on disk not refused, refusals last, and said. A record of
    swap8's layout (the newest 32) loads and is kept as it is."""
    from agent.release_verdicts import CAP_BYTES, GONE_MOST, WHY_LONGEST, Verdicts

    v = Verdicts()
    for i in range(700):
        kind = "refused by the check" if i % 2 else "swapped in"
        v.record(f"{i:064x}", tmp_path / f"r{i}", kind, "x" * WHY_LONGEST)
        v.entries[f"{i:064x}"]["at"] = float(i)         # (one a second: the order is the verdicts' age)
    on_disk = {f"{i:064x}" for i in range(650)}          # the 50 newest gone
    said = v.bound(on_disk)
    assert len(json.dumps(v.to_json())) <= CAP_BYTES < 700 * 400
    assert said.startswith(f"the verdicts kept reached {CAP_BYTES} bytes: the oldest ") and "refusals" not in said, said
    assert sum(k not in on_disk for k in v.entries) == 0                # gone ones dropped first (then past 32 anyway)
    dropped = sorted(int(k, 16) for k in on_disk - v.entries.keys())
    assert dropped == list(range(0, 2 * len(dropped), 2)), dropped    # the oldest of those on disk not refused
    assert all(f"{i:064x}" in v.entries for i in range(1, 650, 2))     # every refusal on disk kept

    old = Verdicts.from_json({f"{i:064x}": {"release": f"/m/r{i}", "verdict": "refused by the shadow", "why": None,
                                            "at": float(i)} for i in range(32)})
    assert old.bound(None) is None and len(old.entries) == 32          # models_dir not listed: nothing dropped
    assert old.bound(set()) is None and len(old.entries) == GONE_MOST
