"""The start warm-up on the bundle's own training recordings calibrates its threshold on the rows it was not trained on
(calib1; found by user29, user30, user31).

A user trains a bundle on the plant's recordings and starts the agent with `warmup.replay` on those same recordings.
Before, the model tier's profile and threshold were fitted on every warm-up tick — mostly the model's own training
rows, where its errors are in-sample small — so its threshold came out low (user31: 4.539 against the manifest's
10.880) and it raised 3 false alerts before the labelled event. Now the warm-up takes the hot swap's rule
(agent/held_out_ticks.py, through pipeline_fit.TierFitter): the threshold is calibrated on the warm-up ticks the
manifest says were not training rows; with too few of those it is fitted on all of them as before, said — the
bundle's own threshold without a profile, measured against it, lost 3 of 8 events on SKAB's dev files
(docs/measured/first-week.md, "The calib1 round").

Real CSV recordings, the real `stad-convert train` (a small ONNX model) and the real agent as a process.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import built_once  # noqa: E402
from pump_bundle import DONE, FITTED, STEPS, TRAINED, pump_rows, run_warmed_up, train, training_part  # noqa: E402

from agent.bundle import read_manifest  # noqa: E402

ROWS = 900
DAYS = (1793599200.0, 1793685600.0)          # 2026-11-02 and -03, 00:00 UTC
HEADER = "timestamp,a,b\n"


def _recordings(folder: Path) -> Path:
    """The plant's two daily exports (what the bundle is trained on and the agent warms up on)."""
    folder.mkdir(parents=True)
    for d, t0 in enumerate(DAYS):
        rows = pump_rows(d + 1, ROWS)
        (folder / f"day{d + 1}.csv").write_text(HEADER + "".join(f"{t0 + i:.0f},{r}\n" for i, r in enumerate(rows)))
    return folder


def _train(out: Path) -> None:
    """The recordings and a bundle trained on them, shared by this module's tests."""
    train(out, {"type": "replay", "path": str(_recordings(out / "recordings"))})


def _trained() -> Path:
    return built_once("calib1-pump-bundle", _train)


def _start(tmp_path: Path, recordings: Path, bundle: Path) -> str:
    """The agent started on `bundle` with `warmup.replay` on `recordings`, a live day replayed after; its log."""
    live = tmp_path / "live.csv"
    live.write_text(HEADER + "".join(f"{DAYS[1] + 86400 + i:.0f},{r}\n" for i, r in enumerate(pump_rows(9, 200))))
    return run_warmed_up(tmp_path, live, bundle, recordings)


def test_the_warm_up_on_the_training_recordings_calibrates_on_the_rows_the_bundle_was_not_trained_on(tmp_path):
    root = _trained()
    segments = read_manifest(root / "bundle").data["segments"]
    trained = sum(s["train"] for s in segments)
    log = _start(tmp_path, root / "recordings", root / "bundle")
    [(taken, left)] = [tuple(map(int, m.groups())) for m in TRAINED.finditer(log)]
    assert (taken, left) == (trained, 2 * ROWS - trained), log          # every training row, each day's first part
    [(fitted, threshold)] = [(int(m.group(1)), m.group(2)) for m in FITTED.finditer(log)]
    assert 0 < fitted <= left, log                          # its training rows are in no calibration
    assert DONE.search(log).group(1) == threshold, log


def test_a_warm_up_of_nothing_but_training_rows_is_fitted_on_them_and_says_its_threshold_is_in_sample(tmp_path):
    root = _trained()
    manifest = read_manifest(root / "bundle")
    cut = training_part(root / "recordings", manifest, tmp_path / "training-part")
    log = _start(tmp_path, cut, root / "bundle")
    trained = sum(s["train"] for s in manifest.data["segments"])
    assert (f"onnx: {trained} of the warm-up ticks are rows its bundle was trained on and only 0 calm ones are not "
            f"({100 + STEPS} needed): fitted on all of them, its threshold in-sample and likely low") in log, log
    [(fitted, threshold)] = [(int(m.group(1)), m.group(2)) for m in FITTED.finditer(log)]
    assert fitted > trained // 2, log                      # on every scored warm-up tick, as before
    assert DONE.search(log).group(1) == threshold, log
