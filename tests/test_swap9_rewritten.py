"""The active bundle's own directory rewritten in place while the agent was down (swap9; swap8 left it): an operator
deploys by copying a new export over the same folder name (rsync, scp, `cp -r`). The running agent judges a changed
release in shadow; a restart started on it unjudged. Now active-bundle.json keeps the manifest digest of the release
that ran (`manifest_sha256`), and a restart that finds another there says so, starts on the release before it (the
newest judged one that loads, else `scoring.bundle`, else numpy) and judges the changed one at the first poll:

- a real agent process over three lives: v1, v2 swapped in; v2's folder rewritten with v3 while down (its files'
  times kept, as cp -a and rsync -a do) — life 2 starts on v1, then v3 is judged and swapped in (on e41be149: life 2
  scores v3 from its start, never judged); a half copy while down (v4's manifest, the model file missing) — life 3
  says it does not verify, starts on v1, and judges v4 once the copy is complete;
- in-process: the records before swap9 (e41be149's, with verdicts; 7b3e1fff's, without) still load, and tell the
  release that ran by its verdict or its fingerprint; a manifest new with a model file old is said half copied and
  never started on; a malformed `manifest_sha256` makes the record unreadable."""
from __future__ import annotations

import json
import logging
import shutil

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, variant  # noqa: E402

from agent.active_bundle import ACTIVE_FILE, RAN, active_tiers, read_record, rewritten  # noqa: E402
from agent.release_verdicts import manifest_digest  # noqa: E402

pytestmark = NO_DEMO


def _rewrite(folder, src) -> None:
    """`src` copied over `folder` as `cp -a` or `rsync -a` does it: the same names, the files' times kept."""
    shutil.copytree(src, folder, dirs_exist_ok=True)


def test_a_restart_on_an_active_bundle_rewritten_in_place_starts_on_the_release_before_and_judges_it(tmp_path):
    pytest.importorskip("onnxruntime")
    from conftest import interrupt_agent, start_logged_agent, wait_for
    from swap_life import kill_left, log_waiter, rollback_agent_config, stopped_clean

    models = tmp_path / "models"
    models.mkdir()
    configured = variant("swap9-base", src=DEMO_BUNDLE, model_id="swap9-base")
    cfg_path = rollback_agent_config(tmp_path, configured, models)
    log = tmp_path / "agent.err"
    lines, logged = log_waiter(log)

    def record() -> dict:
        return json.loads((tmp_path / ACTIVE_FILE).read_text())     # (written atomically: whole or not at all)

    def deliver(name: str, proc) -> None:
        at = lines()
        shutil.copytree(variant(f"swap9-{name}", src=DEMO_BUNDLE, model_id=f"swap9-{name}"), models / f".{name}")
        (models / f".{name}").rename(models / name)
        logged(f"swap9-{name} from {models / name} swapped in", at, proc)

    proc = start_logged_agent(cfg_path, tmp_path)
    try:
        logged("warm-up done", 0, proc)
        deliver("v1", proc)
        deliver("v2", proc)
        wait_for(lambda: record()["path"] == str(models / "v2"), "v2 recorded as the active bundle", 60.0, proc)
        v2 = manifest_digest(models / "v2")
        assert record()[RAN] == v2, record()
        assert interrupt_agent(proc) == 0

        # Down: v3 copied over v2's folder. Life 2 starts on v1, the release before, and judges v3 at the first poll.
        _rewrite(models / "v2", variant("swap9-v3", src=DEMO_BUNDLE, model_id="swap9-v3"))
        proc = start_logged_agent(cfg_path, tmp_path)
        banner = logged("scoring: tier tflite: ", 0, proc)
        assert "scoring: tier tflite: swap9-v1 (model_int8.tflite" in banner, banner    # e41be149: swap9-v3
        said = logged("was rewritten in place: another release is there", 0, proc).split("stad.hotswap: ", 1)[1]
        assert said.startswith(f"the bundle swapped in before the last stop, {models / 'v2'}, was rewritten in place: "
                               "another release is there (its manifest.json is another: sha256 "), said
        assert said.endswith(f"judged at the first poll as any delivery; starting on the newest other bundle of "
                             f"models_dir that loads: {models / 'v1'} (swap9-v1)"), said
        logged(f"loading {models / 'v2'}", 0, proc)
        logged(f"swap9-v3 from {models / 'v2'} swapped in", 0, proc)
        wait_for(lambda: record()[RAN] == manifest_digest(models / "v2"), "v3 recorded as the release that ran",
                 60.0, proc)
        verdicts = {k: v["verdict"] for k, v in record()["verdicts"].items()}
        assert verdicts[v2] == "withdrawn" and verdicts[manifest_digest(models / "v2")] == "swapped in", verdicts
        assert interrupt_agent(proc) == 0

        # Down: a half copy of v4 — its manifest in, the model file missing (the copy stopped). Said, never started
        # on; the copy completed, v4 is judged and swapped in.
        v4 = variant("swap9-v4", src=DEMO_BUNDLE, model_id="swap9-v4")
        shutil.copy2(v4 / "manifest.json", models / "v2" / "manifest.json")
        (models / "v2" / "model_int8.tflite").unlink()
        proc = start_logged_agent(cfg_path, tmp_path)
        banner = logged("scoring: tier tflite: ", 0, proc)
        assert "scoring: tier tflite: swap9-v1 (model_int8.tflite" in banner, banner
        half = logged("half copied? never started on", 0, proc)
        assert "and it does not verify (" in half and "model_int8.tflite" in half, half
        at = lines()
        shutil.copy2(v4 / "model_int8.tflite", models / "v2" / ".model_int8.tflite")
        (models / "v2" / ".model_int8.tflite").rename(models / "v2" / "model_int8.tflite")
        logged(f"swap9-v4 from {models / 'v2'} swapped in", at, proc)
        stopped_clean(proc, log)
    finally:
        kill_left(proc)


def _two_releases(tmp_path):
    """A models_dir with v1 and v2 (demo copies), the config polling it, and the record an agent wrote with v2 active
    (the layout of this round): (cfg, models, record)."""
    from agent.models_dir import bundle_dirs
    models = tmp_path / "models"
    models.mkdir()
    for name in ("v1", "v2"):
        shutil.copytree(variant(f"swap9-{name}", src=DEMO_BUNDLE, model_id=f"swap9-{name}"), models / name)
    cfg = demo_cfg(tmp_path, bundle=str(DEMO_BUNDLE), models_dir=str(models), shadow_ticks=3)
    digests = {name: manifest_digest(models / name) for name in ("v1", "v2")}
    record = {"version": 1, "path": str(models / "v2"), "model_id": "swap9-v2", "config_bundle": cfg.scoring.bundle,
              "seen": {str(p): fp.to_json() for p, fp in bundle_dirs(models).items()},
              "verdicts": {digests[n]: {"release": str(models / n), "verdict": "swapped in", "why": "x", "at": 1.0 + i}
                           for i, n in enumerate(("v1", "v2"))},
              RAN: digests["v2"]}
    return cfg, models, record


def _restart(tmp_path, record: dict):
    """active-bundle.json written as `record`, read back as a start reads it (it must load)."""
    (tmp_path / ACTIVE_FILE).write_text(json.dumps(record, indent=1))
    kept = read_record(tmp_path)
    assert isinstance(kept, dict), kept
    return kept


def test_records_before_swap9_load_and_tell_the_release_that_ran_by_its_verdict_or_its_fingerprint(tmp_path):
    cfg, models, record = _two_releases(tmp_path)
    swap8 = {k: v for k, v in record.items() if k != RAN}                 # e41be149's layout
    old = {k: v for k, v in swap8.items() if k != "verdicts"}             # 7b3e1fff's layout
    for layout in (record, swap8, old):
        tiers, path = active_tiers(cfg, _restart(tmp_path, layout))
        assert path == models / "v2" and tiers[0].describe()["model_id"] == "swap9-v2", layout.keys()

    _rewrite(models / "v2", variant("swap9-v3", src=DEMO_BUNDLE, model_id="swap9-v3"))
    for layout in (record, swap8, old):           # another release there: not what ran, whichever the layout
        kept = _restart(tmp_path, layout)
        assert rewritten(kept, models / "v2", models) is not None, layout.keys()
        tiers, path = active_tiers(cfg, kept)
        assert path == models / "v1" and tiers[0].describe()["model_id"] == "swap9-v1", layout.keys()

    # e41be149's record told by the verdict of what is there now: one swapped in ran; one refused did not.
    v3 = manifest_digest(models / "v2")
    ran = {**swap8, "verdicts": {**swap8["verdicts"], v3: {"release": str(models / "v2"), "verdict": "swapped in",
                                                           "why": None, "at": 9.0}}}
    assert rewritten(_restart(tmp_path, ran), models / "v2", models) is None
    refused = {**ran, "verdicts": {**ran["verdicts"], v3: {**ran["verdicts"][v3], "verdict": "refused by the shadow"}}}
    assert rewritten(_restart(tmp_path, refused), models / "v2", models).startswith(
        "it holds a release refused by the shadow")
    assert active_tiers(cfg, _restart(tmp_path, refused))[1] == models / "v1"


def test_a_half_copy_is_said_and_never_started_on_and_is_judged_at_the_first_poll(tmp_path, caplog):
    """v2's manifest new (another model_id, and the model file's sha256 of the file not yet copied), the model file
    old: said half copied, the restart on v1; the resumed hot swap takes v2 as a delivery at the first poll (it was
    in `seen`, its fingerprint alone could not tell: forgotten), and the release that ran there withdrawn."""
    from agent.hotswap import HotSwap
    from agent.pipeline import Pipeline

    cfg, models, record = _two_releases(tmp_path)
    manifest = json.loads((models / "v2" / "manifest.json").read_text())
    manifest["model_id"] = "swap9-v4"
    manifest["artifacts"]["tflite_int8"]["sha256"] = "0" * 64        # the new model file's, not the one there
    (models / "v2" / "manifest.json").write_text(json.dumps(manifest, indent=1))
    kept = _restart(tmp_path, record)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    tiers, path = active_tiers(cfg, kept)
    assert path == models / "v1" and tiers[0].describe()["model_id"] == "swap9-v1"
    [said] = [r.getMessage() for r in caplog.records if "rewritten in place" in r.getMessage()]
    assert "and it does not verify (" in said and "half copied? never started on" in said, said
    assert not any("starting on the bundle swapped in before the last stop" in r.getMessage() for r in caplog.records)

    pipe = Pipeline(cfg, tiers=tiers)
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    swap.resume(kept, path)
    assert models / "v2" not in swap.seen and swap._new_bundle() == models / "v2"
    saved = json.loads((tmp_path / ACTIVE_FILE).read_text())
    assert saved["path"] == str(models / "v1") and saved[RAN] == manifest_digest(models / "v1"), saved
    assert saved["verdicts"][record[RAN]]["verdict"] == "withdrawn", saved["verdicts"]


def test_the_release_that_ran_with_a_model_file_changed_is_not_started_on_by_the_tier_below(tmp_path, caplog):
    """The same manifest, the top tier's file changed (a copy of another release stopped after it): the restart
    checks the bundle as a delivery is checked (every listed file), and starts on the release before. On e41be149:
    started on it, by the onnx tier (each tier verified its own file only), under the recorded model_id."""
    cfg, models, record = _two_releases(tmp_path)
    model = models / "v2" / "model_int8.tflite"
    good = model.read_bytes()
    model.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    kept = _restart(tmp_path, record)
    assert rewritten(kept, models / "v2", models) is None          # the release that ran, by its manifest
    tiers, path = active_tiers(cfg, kept)
    assert path == models / "v1" and [t.TYPE for t in tiers] == ["tflite", "onnx"], (path, tiers)
    [said] = [r.getMessage() for r in caplog.records if "no longer loads" in r.getMessage()]
    assert "model_int8.tflite: sha256 mismatch" in said and said.endswith(f"{models / 'v1'} (swap9-v1)"), said


def test_a_release_the_running_agent_refused_over_the_active_folder_is_never_started_on_nor_judged_again(
        tmp_path, caplog):
    """v1, v2 swapped in; a release off scale copied over v2's folder while it runs: its shadow refuses it, v2 scores
    on from memory. A restart starts on v1 (on e41be149: on the refused release, from v2's folder), says why, and
    does not judge it again (the running agent would not either: unchanged since it was refused)."""
    from conftest import HOTSWAP_WARMUP, drive_hotswap, hotswap_pipeline, sim_rows
    from swap_life import release_copy

    from agent.hotswap import HotSwap
    from agent.pipeline import Pipeline

    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0,
                                          shadow_refuse_off_scale=0.5)
    done = HOTSWAP_WARMUP

    def until(pipe, swap, cond):
        nonlocal done
        done += len(drive_hotswap(pipe, swap, rows[done:], until=cond))

    for n, name in enumerate(("v1", "v2"), 1):
        release_copy(models / f".{name}", f"swap9-{name}")
        (models / f".{name}").rename(models / name)
        until(pipe, swap, lambda: swap.status()["accepted"] >= n)
    release_copy(models / "v2", "swap9-bad", off_scale=pipe.sensors[::2])
    until(pipe, swap, lambda: swap.status()["rejected"] >= 1)
    assert pipe.model_id() == "swap9-v2" and swap.current == models / "v2"

    caplog.set_level(logging.INFO, logger="stad.hotswap")
    kept = read_record(tmp_path)
    tiers, path = active_tiers(swap.cfg, kept)
    assert path == models / "v1" and tiers[0].describe()["model_id"] == "swap9-v1", path
    [said] = [r.getMessage() for r in caplog.records if "rewritten in place" in r.getMessage()]
    assert "; it holds a release refused by the shadow at " in said and "never started on" in said, said
    again = Pipeline(swap.cfg, tiers=tiers)
    resumed = HotSwap(swap.cfg, again, poll_ticks=2)
    resumed.resume(kept, path)
    assert models / "v2" in resumed.seen and resumed._new_bundle() is None
    assert json.loads((tmp_path / ACTIVE_FILE).read_text())["path"] == str(models / "v1")


def test_a_malformed_manifest_digest_makes_the_record_unreadable(tmp_path):
    cfg, models, record = _two_releases(tmp_path)
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({**record, RAN: 12}))
    unreadable = read_record(tmp_path)
    assert not isinstance(unreadable, dict) and unreadable.why == f"{RAN}: expected a string or null, got int"


def test_the_record_lost_and_the_checkpoints_bundle_rewritten_in_place_it_is_not_started_on(tmp_path, caplog):
    """active-bundle.json lost (qa22: the agent starts on the bundle the checkpoint was taken with, so that the
    checkpoint resumes), and that bundle's folder rewritten with another release meanwhile: not started on — the
    configured bundle is, and the release there is judged at the first poll (the newest bundle of models_dir). On
    e41be149: started on it, unjudged."""
    from swap_life import close, demo_swapped_in, release_copy

    from agent.service import Agent

    swapped = demo_swapped_in(tmp_path)
    (tmp_path / "state" / ACTIVE_FILE).unlink()
    release_copy(swapped, "swap9-other")
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=300, bundle=str(DEMO_BUNDLE),
                           models_dir=str(swapped.parent)))
    try:
        assert agent.pipeline.model_id() == "demo-corridor", agent.pipeline.model_id()
        [said] = [r.getMessage() for r in caplog.records if "the bundle the checkpoint was taken with" in r.getMessage()]
        assert f"{swapped}, no longer loads (rewritten in place since: its manifest is another;" in said, said
        assert agent.hotswap._new_bundle() == swapped
    finally:
        close(agent)
