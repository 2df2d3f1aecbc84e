"""A bundle dropped into models_dir while the agent runs is checked by the code that checks `scoring.bundle` at
start (check-config and `run`: agent/preflight.py), refused in the same words (file, key path, sensor), counted,
logged once, the running model kept, health's `model_update.last` naming it and why — and the same directory,
fixed later, is taken. Before (chaos3's finding) such a bundle reached the runtimes, which refused it in their own
words, once per tier. Real bundles: copies of the shipped demo bundle with their manifest edited; the in-process
Pipeline and HotSwap the daemon runs."""
from __future__ import annotations

import json
import logging
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, NO_DEMO, demo_cfg, drive_hotswap as drive,  # noqa: E402
                      hotswap_pipeline as setup, sim_rows)

from agent import preflight  # noqa: E402
from agent.records import shorten  # noqa: E402

pytestmark = NO_DEMO
START_SAYS = "{} (the agent would only have the numpy fallback)"     # agent/preflight.py, after `scoring.bundle: `


def no_values(m: dict) -> None:
    m["inputs"] = [t for t in m["inputs"] if t["name"] != "values"]


def no_forecast(m: dict) -> None:
    m["outputs"] = [t for t in m["outputs"] if t["name"] != "forecast"]


def another_plant(m: dict) -> None:
    """S01_speed is S01_speedX everywhere in the manifest: a bundle trained on a plant with another sensor."""
    def renamed(x):
        if isinstance(x, dict):
            return {("S01_speedX" if k == "S01_speed" else k): renamed(v) for k, v in x.items()}
        if isinstance(x, list):
            return [renamed(v) for v in x]
        return "S01_speedX" if x == "S01_speed" else x
    m.update(renamed(m))


def edited_copy(dest, edit) -> None:
    """The demo bundle copied to `dest` (hidden first, renamed into place, as a delivery does), its manifest edited."""
    hidden = dest.parent / f".{dest.name}"
    shutil.copytree(DEMO_BUNDLE, hidden)
    manifest = json.loads((hidden / "manifest.json").read_text())
    edit(manifest)
    (hidden / "manifest.json").write_text(json.dumps(manifest, indent=2))
    hidden.rename(dest)


def test_a_bundle_delivered_later_is_refused_in_the_start_words_and_taken_once_fixed(tmp_path, caplog):
    (tmp_path / "agent").mkdir()
    pipe, swap, models = setup(tmp_path / "agent", bundle=DEMO_BUNDLE)
    rows = iter(sim_rows(demo_cfg(tmp_path / "rows"), days=0.3))
    drive(pipe, swap, rows, until=lambda: True)
    caplog.set_level(logging.INFO, logger="stad.hotswap")
    for edit, said in ((no_values, "manifest inputs: the model does not fit the agent: no values"),
                       (no_forecast, "manifest outputs: the model does not fit the agent: no forecast"),
                       (another_plant,
                        "sensors only in the bundle: S01_speedX; sensors only in the config: S01_speed")):
        bundle = models / edit.__name__
        rejected = swap.rejected
        caplog.clear()
        edited_copy(bundle, edit)
        drive(pipe, swap, rows, until=lambda: swap.rejected > rejected)
        polls = iter(range(3 * swap.poll_ticks))
        drive(pipe, swap, rows, until=lambda: next(polls, None) is None)       # three polls more: not judged again
        last = swap.status()["last"]
        assert swap.rejected == rejected + 1 and last["path"] == str(bundle) and not last["accepted"]
        # The words check-config and `run` say of this bundle given as scoring.bundle, the same code's.
        (tmp_path / edit.__name__).mkdir()
        start_cfg = demo_cfg(tmp_path / edit.__name__, bundle=str(bundle))
        assert f"scoring.bundle: {shorten(START_SAYS.format(last['reason']), 300)}" in preflight.problems(start_cfg)
        assert said in last["reason"] and last["reason"].count(said) == 1, last["reason"]
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert lines[0].getMessage() == (f"model update (new bundle in models_dir) rejected: {last['reason']}; "
                                         f"still scoring with tflite ({DEMO_BUNDLE})")
        assert pipe.chain.switch_count == 0 and pipe.chain.current.describe()["model_id"] == "demo-corridor"
    # The first one fixed in place (its manifest as shipped, under a model_id of its own): judged again, taken.
    fixed = models / "no_values"
    manifest = json.loads((DEMO_BUNDLE / "manifest.json").read_text())
    manifest["model_id"] = "demo-fixed"
    (fixed / "manifest.json").write_text(json.dumps(manifest, indent=2))
    drive(pipe, swap, rows, until=lambda: pipe.chain.switch_count == 1)
    assert pipe.chain.current.describe()["model_id"] == "demo-fixed" and swap.status()["last"]["accepted"]
    assert swap.rejected == 3 and swap.accepted == 1
