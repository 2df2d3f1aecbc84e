"""A models_dir bundle's fingerprint is one listing of it, kept in active-bundle.json: the newest mtime of the
directory and its files, and its listing (the directory's inode and the names in it) — review35 folded qa40's
in-memory `identity` (inode, ctime, names) into it. Three cases, driven tick by tick in-process on the shipped demo
bundle and copies of it:

- `chown -R` / `chmod -R` of models_dir (a deploy that copies as root, then hands the files to the agent's user) is
  no delivery: with the ctime in the identity every bundle there became a candidate, one a poll, newest first —
  the agent swapped each older release in after the other and ended on the oldest;
- a restart between a poll that caught a directory half deleted (its fingerprint taken) and the new release renamed
  in with that fingerprint (cp -a keeps the files' times): the identity, in memory only, was taken afresh after
  the restart, from the new release, and that release was never judged;
- an active-bundle.json written before the listing was kept (fingerprints as integers) is read, its bundles are
  not candidates (no re-judging after an upgrade), and the next record holds the listing."""
from __future__ import annotations

import json
import logging
import os
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline as setup, sim_rows, variant)

from agent.active_bundle import ACTIVE_FILE, read_record  # noqa: E402
from agent.hotswap import NEW_BUNDLE, HotSwap  # noqa: E402

pytestmark = NO_DEMO


def _newest_mtime(directory) -> int:
    return max([directory.stat().st_mtime_ns] + [f.stat().st_mtime_ns for f in directory.iterdir()])


def _stamp(directory, ns: int) -> None:
    """Every file of `directory` and the directory itself given the time `ns` (as cp -a gives the source's)."""
    for f in directory.iterdir():
        os.utime(f, ns=(ns, ns))
    os.utime(directory, ns=(ns, ns))


def _feed(pipe, swap, rows) -> None:
    for r in rows:
        swap.on_tick(pipe.step(r))


def test_a_chown_of_models_dir_makes_no_bundle_a_candidate(tmp_path, caplog):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    for n in (1, 2):
        shutil.copytree(variant(f"r35-old{n}", src=DEMO_BUNDLE, model_id=f"r35-old{n}"), models / f"old{n}")
    swap.seen = swap._bundle_dirs()             # there before: decided on
    drive(pipe, swap, rows, until=lambda: swap.ticks >= 4)     # polls have looked at them

    for d in (models, models / "old1", models / "old2"):       # chmod -R: every directory's ctime, no mtime
        os.chmod(d, 0o750)
        for f in d.iterdir():
            os.chmod(f, 0o750 if f.is_dir() else 0o640)
    _feed(pipe, swap, rows[WARMUP + 5:WARMUP + 25])             # ten polls
    loads = [r.getMessage() for r in caplog.records if "loading" in r.getMessage()]
    assert loads == [] and swap._loading is None and swap.status()["accepted"] == 0, loads
    assert pipe.chain.current.describe()["model_id"] != "r35-old1"


def test_a_release_replaced_in_place_across_a_restart_with_the_fingerprint_a_half_deleted_poll_took_is_judged(
        tmp_path, caplog):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    shutil.copytree(variant("qa40-old", src=DEMO_BUNDLE, model_id="qa40-old"), models / "h")
    swap.seen = swap._bundle_dirs()
    drive(pipe, swap, rows, until=lambda: True)

    (models / "h" / "model_int8.tflite").unlink()   # the rm -r of the old release, half way
    path = swap._new_bundle()                        # a poll sees the directory changed
    assert path == models / "h"
    taken = _newest_mtime(path)
    swap._load(path, NEW_BUNDLE)
    swap._loading.join(120)
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["rejected"] >= 1)    # refused, recorded

    # The agent restarts; meanwhile the rm -r finished and the new release was renamed in, its times kept.
    shutil.rmtree(models / "h")
    shutil.copytree(variant("qa40-new", src=DEMO_BUNDLE, model_id="qa40-new"), models / ".h")
    _stamp(models / ".h", taken)
    (models / ".h").rename(models / "h")
    assert _newest_mtime(models / "h") == taken      # the race's precondition: the same newest mtime
    again = HotSwap(swap.cfg, pipe, poll_ticks=2)
    again.resume(read_record(tmp_path), None)

    drive(pipe, again, rows[WARMUP + 200:], until=lambda: again.status()["accepted"] >= 1)
    assert again.status()["last"]["model_id"] == "qa40-new"
    assert pipe.chain.current.describe()["model_id"] == "qa40-new"


def test_a_record_of_fingerprints_without_the_listing_is_resumed_without_rejudging(tmp_path):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0)
    for n in (1, 2):
        shutil.copytree(variant(f"r35-old{n}", src=DEMO_BUNDLE, model_id=f"r35-old{n}"), models / f"old{n}")
    older = {str(models / f"old{n}"): _newest_mtime(models / f"old{n}") for n in (1, 2)}   # the form before
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({"version": 1, "path": None, "model_id": None,
                                                    "config_bundle": swap.cfg.scoring.bundle, "seen": older}))
    record = read_record(tmp_path)
    assert isinstance(record, dict), record
    swap.resume(record, None)
    drive(pipe, swap, rows, until=lambda: swap.ticks >= 6)     # three polls
    assert swap._loading is None and swap.shadow is None and swap.status()["accepted"] == 0

    swap._save_record()                               # the listing taken at the polls is in the next record
    seen = json.loads((tmp_path / ACTIVE_FILE).read_text())["seen"]
    assert sorted(seen) == sorted(older) and all(isinstance(fp, list) and fp[0] == older[p] for p, fp in seen.items())
    assert isinstance(read_record(tmp_path), dict)
