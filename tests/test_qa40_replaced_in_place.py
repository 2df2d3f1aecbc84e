"""A bundle directory replaced in place while a poll caught the old one half deleted, the new copy keeping its
files' times so that its fingerprint is the one that poll took (qa40: seen in tests/test_hotswap_live.py at load ~25,
the old directory's unlink and the new release's signature stamped the same ns by the kernel's multigrain
timestamps). On the old code the load that read the half-deleted files was judged — refused, counted — and the new
release, its fingerprint already seen, was never judged. Driven tick by tick, in-process, on the shipped demo
bundle and copies of it (the steps a poll and its load take, in the order the race took them)."""
from __future__ import annotations

import logging
import os
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline as setup, sim_rows, variant)

from agent.hotswap import NEW_BUNDLE  # noqa: E402
from agent.models_dir import fingerprint  # noqa: E402

pytestmark = NO_DEMO


def _stamp(directory, ns: int) -> None:
    """Every file of `directory` and the directory itself given the time `ns` (as cp -a gives the source's)."""
    for f in directory.iterdir():
        os.utime(f, ns=(ns, ns))
    os.utime(directory, ns=(ns, ns))


def test_a_directory_replaced_in_place_with_the_fingerprint_a_half_deleted_poll_took_is_judged(tmp_path, caplog):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3, shadow_min_agreement=0.0)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    shutil.copytree(variant("qa40-old", src=DEMO_BUNDLE, model_id="qa40-old"), models / "h")
    swap.seen = swap._bundle_dirs()             # there before: decided on
    drive(pipe, swap, rows, until=lambda: True)

    (models / "h" / "model_int8.tflite").unlink()   # the rm -r of the old release, half way
    path = swap._new_bundle()                        # a poll sees the directory changed
    assert path == models / "h"
    seen = swap.seen[path]
    swap._load(path, NEW_BUNDLE)
    swap._loading.join(120)                          # it read the half-deleted files

    shutil.rmtree(models / "h")                      # the rm -r finishes; the new release is renamed in
    shutil.copytree(variant("qa40-new", src=DEMO_BUNDLE, model_id="qa40-new"), models / ".h")
    _stamp(models / ".h", seen.mtime_ns)
    (models / ".h").rename(models / "h")
    assert fingerprint(models / "h").mtime_ns == seen.mtime_ns     # the race's precondition: the same newest mtime

    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["accepted"] >= 1)
    status = swap.status()
    # The half-deleted directory, read whole before the rm -r went on, is judged on what it held: refused. Then the
    # new release, whose fingerprint that poll had taken, is judged too.
    assert (status["accepted"], status["rejected"]) == (1, 1), status
    assert status["last"]["model_id"] == "qa40-new" and pipe.chain.current.describe()["model_id"] == "qa40-new"
    judged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("model update (new bundle")]
    assert len(judged) == 3 and "rejected" in judged[1] and "model_int8.tflite" in judged[1], judged
