"""A restart without models_dir onto a `scoring.bundle` rewritten while the agent was down (swap11; swap10 left it).

Without `scoring.models_dir` no active-bundle record is kept, so the checkpoint is all that knows which release ran.
Before, its line was `the model differs: checkpoint taken with ps7-model (…/ps7), the agent starts with ps7-model
(…/ps7)`: the same words on both sides, and any other manifest — another export, or the same model with its manifest
rewritten by `stad-convert verify --record` — was refit alike. Now:

- another model under the same model_id (a new export copied over the folder) is said with both manifest.json digests
  and what becomes of the carried state: the model tier's profile, threshold and the alerts' score scale are fitted
  again, not carried; the fallback's state, the window, alerts and faults are (a real agent over two lives, and
  in-process: the model tier's threshold the new bundle's);
- the same model under another manifest (Bundle.model_digest the same) carries the model tier's state, said with both
  digests (before: fitted again, the adaptive threshold's learning lost);
- a checkpoint of an earlier release (no digests in its bundle) loads; its model taken as another, said;
- a builtin bundle changed by a package upgrade is said as such, not as a folder rewritten while the agent was down
  (the checkpoint's line; swap10's restart line, health and the load's trigger with models_dir);
- with models_dir, the swapped-in release gone while down and `scoring.bundle` rewritten too: the restart that falls
  back on scoring.bundle says so with both digests (the record keeps scoring.bundle's release as known here).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from contextlib import contextmanager

import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")

from conftest import DEMO_BUNDLE, DEMO_BUNDLE_1001, HOTSWAP_WARMUP, NO_DEMO, demo_cfg, demo_dict, variant  # noqa: E402

from agent.bundle import read_manifest  # noqa: E402
from agent.checkpoint import NOT_CARRIED, CheckpointStore, decode, encode  # noqa: E402
from agent.manifest import write as write_manifest  # noqa: E402
from agent.release_verdicts import manifest_digest  # noqa: E402

pytestmark = NO_DEMO

MODEL_ID = "swap11-ps7"


def _ps7(tmp_path):
    """(cfg, ps7): `scoring.bundle` tmp_path/ps7 (the demo bundle as MODEL_ID), no models_dir, state in tmp_path/state."""
    ps7 = tmp_path / "ps7"
    shutil.copytree(variant("swap11-ps7", src=DEMO_BUNDLE, model_id=MODEL_ID), ps7)
    return demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle=str(ps7)), ps7


def _new_export(ps7) -> None:
    """Another model under the same model_id copied over ps7 (its threshold calibrated anew: what a new export's
    manifest differs in besides its weights), its files' times kept."""
    shutil.copytree(variant("swap11-ps7-v2", src=DEMO_BUNDLE, model_id=MODEL_ID), ps7, dirs_exist_ok=True)
    m = read_manifest(ps7)
    write_manifest(ps7, dataclasses.replace(m, threshold={**m.threshold, "value": m.threshold["value"] * 1.5}))


def _recorded_again(ps7) -> None:
    """ps7's manifest rewritten with the model the same: `stad-convert verify --record`'s new figures and a new
    `created_at`, as a release re-recorded on the workstation and copied over again."""
    m = read_manifest(ps7)
    write_manifest(ps7, dataclasses.replace(m, created_at="2026-12-07T20:00:00Z",
                                            parity={**m.parity, "windows": m.parity["windows"] + 1}))


def _restarted(cfg):
    from agent.service import Agent
    return Agent(cfg)


@contextmanager
def _second_life(tmp_path, change, old_checkpoint: bool = False):
    """A warmed-up life on ps7 (no models_dir) whose checkpoint is written; `change(ps7)` while the agent is down
    (`old_checkpoint`: the checkpoint made as a release before swap11 wrote it, without the new digests); the agent
    restarted. Yields (agent, ps7, the release that ran's manifest.json digest, the one there now, the tflite tier's
    threshold state checkpointed); the agent closed after."""
    from swap_life import checkpointed_life, close

    cfg, ps7 = _ps7(tmp_path)
    ran = manifest_digest(ps7)
    checkpointed_life(cfg)
    path = tmp_path / "state" / "checkpoint.bin"
    meta, state = decode(path.read_bytes())
    if old_checkpoint:
        for key in ("manifest_sha256", "model_sha256"):
            del meta["config"]["bundle"][key]
        path.write_bytes(encode(meta, state))
    change(ps7)
    agent = _restarted(cfg)
    try:
        assert agent.checkpoint_start["state"] == "resumed", agent.checkpoint_start
        yield agent, ps7, ran, manifest_digest(ps7), state["pipeline"]["thresholds"]["tflite"]
    finally:
        close(agent)


def test_another_model_under_the_same_model_id_is_said_with_both_digests_and_fitted_again(tmp_path):
    with _second_life(tmp_path, _new_export) as (agent, ps7, ran, now, saved):
        start = agent.checkpoint_start
        assert (f"; the model differs: {ps7}, the bundle the checkpoint was taken with, was rewritten while the agent "
                f"was down: another release under the same model_id {MODEL_ID} (manifest.json sha256 {now[:12]}… now, "
                f"manifest.json sha256 {ran[:12]}… when the checkpoint was taken), its model another (its artifacts, "
                f"normalisation, residual scale, threshold or training rows differ); {NOT_CARRIED}: the model tier "
                "(tflite/onnx) prepared again") in start["detail"], start      # 740108ec: no digest, the same words
        tflite = agent.pipeline.thresholds["tflite"]
        assert tflite.value == pytest.approx(read_manifest(ps7).threshold["value"])     # the new release's own
        assert tflite.n != saved["n"] or tflite.value != saved["value"]


def test_the_same_model_under_another_manifest_carries_the_model_state_and_says_so(tmp_path):
    with _second_life(tmp_path, _recorded_again) as (agent, ps7, ran, now, saved):
        start = agent.checkpoint_start
        assert now != ran
        assert (f"; {ps7}, the bundle the checkpoint was taken with, was rewritten while the agent was down: its "
                f"manifest another (manifest.json sha256 {now[:12]}… now, manifest.json sha256 {ran[:12]}… when the "
                f"checkpoint was taken), the model it describes the same (model_id {MODEL_ID}, the artifacts run, "
                "sensors, normalisation, residual scale, threshold and training rows; only created_at, training, "
                "parity, files may differ): the model tier's state — its profile, its threshold, the alerts' score "
                "scale — carried") in start["detail"], start
        assert "the model differs" not in start["detail"], start   # 740108ec: fitted again
        tflite = agent.pipeline.thresholds["tflite"].state_dict()
        assert (tflite["n"], tflite["value"]) == (saved["n"], saved["value"])


def test_a_checkpoint_of_an_earlier_release_loads_and_its_model_is_taken_as_another(tmp_path):
    """A checkpoint written before swap11: its bundle holds model_id, path and the parsed manifest's sha256 only."""
    with _second_life(tmp_path, _recorded_again, old_checkpoint=True) as (agent, ps7, ran, now, saved):
        assert (f"another release under the same model_id {MODEL_ID} (manifest.json sha256 {now[:12]}… now, its "
                "manifest.json digest not kept (an earlier release's checkpoint) when the checkpoint was taken), "
                "whether its model is another not known (the checkpoint kept no digest of it): taken as another; "
                f"{NOT_CARRIED}: the model tier") in agent.checkpoint_start["detail"], agent.checkpoint_start


def test_a_builtin_bundle_changed_by_a_package_upgrade_is_said_as_such(tmp_path):
    """A checkpoint an agent of the package before corridor24 took on `builtin:demo-corridor` (then the release kept in
    tests/fixtures/demo-corridor-1001: the same model_id), resumed by this package's agent, whose builtin is another
    release: said as the package's change, the model tier fitted again. On 740108ec: `checkpoint taken with
    demo-corridor (…/agent/models/demo-corridor), the agent starts with demo-corridor (…/agent/models/demo-corridor)`."""
    from agent.bundle import BUILTIN_DIR
    from swap_life import checkpointed_life, close

    checkpointed_life(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE_1001)))
    path = tmp_path / "state" / "checkpoint.bin"
    meta, state = decode(path.read_bytes())     # as that package's agent wrote it: its builtin's folder
    meta["config"]["bundle"]["path"] = str(BUILTIN_DIR / "demo-corridor")
    meta["configured"]["bundle"] = "builtin:demo-corridor"
    path.write_bytes(encode(meta, state))
    agent = _restarted(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle="builtin:demo-corridor"))
    try:
        start = agent.checkpoint_start
        assert (f"; the model differs: {BUILTIN_DIR / 'demo-corridor'}, the bundle the checkpoint was taken with, was "
                "changed with the package (an upgrade of stad-edge brought another release of builtin:demo-corridor): "
                "another release under the same model_id demo-corridor (manifest.json sha256 "
                f"{manifest_digest(DEMO_BUNDLE)[:12]}… now, manifest.json sha256 {manifest_digest(DEMO_BUNDLE_1001)[:12]}"
                "… when the checkpoint was taken), its model another (its artifacts, normalisation, residual scale, "
                f"threshold or training rows differ); {NOT_CARRIED}: the model tier") in start["detail"], start
    finally:
        close(agent)


def test_a_builtin_changed_by_a_package_upgrade_beside_a_judged_release_is_said_as_such(tmp_path, caplog):
    """With models_dir (swap10's path): the record's release that ran is the builtin as the package before the upgrade
    shipped it (demo-corridor-1001's manifest), v1 judged here. The restart starts on v1 and judges the new builtin at
    the first poll, as swap10 does — said as the package's change, in the log, in health and in the load's trigger.
    On 740108ec: `scoring.bundle, …/agent/models/demo-corridor, was rewritten while the agent was down`."""
    from agent.active_bundle import ACTIVE_FILE, RAN, active_tiers, read_record
    from agent.bundle import BUILTIN_DIR
    from agent.hotswap import HotSwap
    from agent.models_dir import bundle_dirs
    from agent.pipeline import Pipeline
    from conftest import drive_hotswap, sim_rows

    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(variant("swap11-v1", src=DEMO_BUNDLE, model_id="swap11-v1"), models / "v1")
    cfg = demo_cfg(tmp_path, warmup_ticks=HOTSWAP_WARMUP, bundle="builtin:demo-corridor", models_dir=str(models),
                   shadow_ticks=3)
    builtin, ran, v1 = BUILTIN_DIR / "demo-corridor", manifest_digest(DEMO_BUNDLE_1001), manifest_digest(models / "v1")
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({
        "version": 1, "path": None, "model_id": None, "config_bundle": "builtin:demo-corridor",
        "seen": {str(p): fp.to_json() for p, fp in bundle_dirs(models).items()},
        "verdicts": {v1: {"release": str(models / "v1"), "verdict": "swapped in", "why": "x", "at": 1.0}}, RAN: ran}))
    upgrade = ("changed with the package (an upgrade of stad-edge brought another release of builtin:demo-corridor)")
    now = manifest_digest(builtin)

    caplog.set_level(logging.INFO, logger="stad.hotswap")
    record = read_record(tmp_path)
    tiers, path = active_tiers(cfg, record)
    assert path == models / "v1", path
    said = [r.getMessage() for r in caplog.records if "another release is there" in r.getMessage()]
    assert said == [f"scoring.bundle, {builtin}, was {upgrade}: another release is there (its manifest.json sha256 "
                    f"{now[:12]}…, the release that ran {ran[:12]}…): never started on unjudged while a release judged "
                    "here loads; judged in shadow at the first poll as any delivery, swapped in if it passes; starting "
                    f"on the last release judged on this gateway that loads: {models / 'v1'} (swap11-v1)"], said
    pipe = Pipeline(cfg, tiers=tiers)
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    swap.resume(record, path)
    assert swap.status()["started_instead"] == (
        f"scoring.bundle {builtin} {upgrade} (manifest.json sha256 {now[:12]}…, the release that ran {ran[:12]}…): "
        f"started on {models / 'v1'}, the last release judged here; it is judged as a delivery (shadow, swap)")
    drive_hotswap(pipe, swap, sim_rows(cfg, days=0.2), until=lambda: swap.status()["last"] is not None)
    loading = [r.getMessage() for r in caplog.records if "loading" in r.getMessage()]
    assert f"model update (scoring.bundle {upgrade}): loading {builtin}" in loading[0], loading


def test_a_real_agent_over_two_lives_says_the_rewritten_bundle_and_refits(tmp_path):
    """`stad-agent run` on ps7 (no models_dir) warms up and stops; a new export under the same model_id is copied over
    ps7; life 2's log says it with both digests and what it does with the model state, then scores on the tflite tier
    prepared again. On 740108ec: `checkpoint taken with swap11-ps7 (…/ps7), the agent starts with swap11-ps7 (…/ps7)`."""
    import yaml

    from conftest import interrupt_agent, start_logged_agent
    from swap_life import kill_left, log_waiter, stopped_clean

    ps7 = tmp_path / "ps7"
    shutil.copytree(variant("swap11-ps7", src=DEMO_BUNDLE, model_id=MODEL_ID), ps7)
    d = demo_dict(tmp_path / "state", bundle=str(ps7))
    d["warmup"]["ticks"] = HOTSWAP_WARMUP
    d["sources"][0]["speed"] = 600
    cfg_path = tmp_path / "agent.yaml"
    cfg_path.write_text(yaml.safe_dump(d))
    log = tmp_path / "agent.err"
    _, logged = log_waiter(log)

    ran = manifest_digest(ps7)
    proc = start_logged_agent(cfg_path, tmp_path)
    try:
        logged("warm-up done", 0, proc)
        assert interrupt_agent(proc) == 0       # a clean stop writes the checkpoint
        _new_export(ps7)
        now = manifest_digest(ps7)
        proc = start_logged_agent(cfg_path, tmp_path)
        said = logged("loaded (taken", 0, proc)
        assert (f"the model differs: {ps7}, the bundle the checkpoint was taken with, was rewritten while the agent "
                f"was down: another release under the same model_id {MODEL_ID} (manifest.json sha256 {now[:12]}… now, "
                f"manifest.json sha256 {ran[:12]}… when the checkpoint was taken)") in said, said
        assert f"{NOT_CARRIED}: the model tier (tflite/onnx) prepared again" in said, said
        banner = logged("scoring: tier tflite: ", 0, proc)
        assert f"scoring: tier tflite: {MODEL_ID} (model_int8.tflite" in banner, banner
        stopped_clean(proc, log)
    finally:
        kill_left(proc)


def test_the_checkpoint_store_keeps_both_digests(tmp_path):
    """What a checkpoint written now holds of its bundle: the manifest.json digest and the model's, beside the parsed
    manifest's sha256 it is matched on."""
    from agent.pipeline import Pipeline
    from swap_life import fingerprint_of

    cfg, ps7 = _ps7(tmp_path)
    pipe = Pipeline(cfg)
    store = CheckpointStore(tmp_path)
    store.save({"config": fingerprint_of(pipe)}, {"pipeline": {}})
    meta, _ = decode(store.path.read_bytes())
    b = meta["config"]["bundle"]
    assert b["manifest_sha256"] == manifest_digest(ps7)
    assert b["model_sha256"] == pipe.chain.tiers[0].bundle.model_digest


def test_the_swapped_in_bundle_gone_and_scoring_bundle_rewritten_too_is_told(tmp_path, caplog):
    """v2 swapped in over scoring.bundle ps7 (a real life: shadowed, accepted); the record keeps ps7's digest as known
    here. While down v2 is moved away and a new export is copied over ps7: nothing judged here loads, so the restart
    starts on ps7 — now said as rewritten too, with both digests, in the log and in health; the record then knows ps7's
    new release (it runs), so the next restart says nothing. On 740108ec: `…; no other bundle of models_dir loads; starting
    on …/ps7`, nothing more, and the record kept naming v2 (said again at every restart)."""
    from agent.active_bundle import CONFIGURED_KNOWN, RAN, active_tiers, read_record
    from agent.hotswap import HotSwap
    from agent.pipeline import Pipeline
    from swap_life import swapped_in_life

    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(variant("swap11-v2", src=DEMO_BUNDLE, model_id="swap11-v2"), models / "v2")
    ps7 = tmp_path / "ps7"
    shutil.copytree(variant("swap11-ps7", src=DEMO_BUNDLE, model_id=MODEL_ID), ps7)
    cfg = demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle=str(ps7), models_dir=str(models),
                   shadow_ticks=3)
    known = manifest_digest(ps7)
    swapped_in_life(cfg, "swap11-v2")
    record = read_record(tmp_path / "state")
    assert (record["path"], record[RAN], record[CONFIGURED_KNOWN]) == (str(models / "v2"), manifest_digest(models / "v2"),
                                                                       known), record

    shutil.move(models / "v2", tmp_path / "v2-moved-away")
    _new_export(ps7)
    now = manifest_digest(ps7)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    assert active_tiers(cfg, record) == (None, None)
    also = (f"scoring.bundle, {ps7}, was rewritten while the agent was down too: another release is there (its "
            f"manifest.json sha256 {now[:12]}…, the release known here {known[:12]}…): started on unjudged, no release "
            "judged here loading to start on instead")
    said = [r.getMessage() for r in caplog.records if "no other bundle of models_dir loads" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith(f"; starting on {ps7}; {also}"), said
    swap = HotSwap(cfg, Pipeline(cfg), poll_ticks=2)
    swap.resume(record, None)
    assert swap.status()["started_instead"] == (f"the active bundle {models / 'v2'} no longer loads (gone, or not "
                                                f"verifying): started on {ps7} (scoring.bundle); {also}")
    kept = read_record(tmp_path / "state")
    assert (kept["path"], kept[RAN], kept[CONFIGURED_KNOWN]) == (None, now, now), kept
    caplog.clear()      # the next restart: ps7's release known, the record names no swapped-in bundle — nothing to say
    assert active_tiers(cfg, kept) == (None, None) and not [r for r in caplog.records if "too" in r.getMessage()]
