"""A bundle trained on one recording is calibrated on its held-out rows when the agent warms up on that recording
(review43, of calib1).

calib1 made the start warm-up calibrate a model tier's threshold on the ticks its bundle's manifest says it was not
trained on (`data.segments[].first_ts` and `train`: agent/held_out_ticks.py). But the converter wrote `data.segments`
only for two recordings or more: a bundle trained on one CSV export — and `stad-convert train` itself prints
`warmup.replay` as that same file — had no segment, so the warm-up was fitted on its own training rows, in-sample,
with no word of it (the case calib1 measured: user31's threshold 4.539 against the manifest's 10.880, 3 false alerts).

Real CSV recording, the real `stad-convert train` (a small ONNX model) and the real agent as a process.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import built_once  # noqa: E402
from pump_bundle import FITTED, TRAINED, pump_rows, run_warmed_up, train  # noqa: E402

ROWS = 1800
DAY = 1793599200.0          # 2026-11-02 00:00 UTC
HEADER = "timestamp,a,b\n"


def _train(out: Path) -> None:
    """One recording (a single export, no gap) and a bundle trained on it."""
    out.mkdir(parents=True)
    recording = out / "history.csv"
    recording.write_text(HEADER + "".join(f"{DAY + i:.0f},{r}\n" for i, r in enumerate(pump_rows(1, ROWS))))
    train(out, {"type": "replay", "path": str(recording)})


def test_a_warm_up_on_the_one_recording_trained_on_calibrates_on_its_held_out_rows(tmp_path):
    root = built_once("review43-one-recording-bundle", _train)
    split = json.loads((root / "bundle" / "manifest.json").read_text())["data"]["split"]
    trained = split["train"][1] - split["train"][0]
    live = tmp_path / "live.csv"
    live.write_text(HEADER + "".join(f"{DAY + 86400 + i:.0f},{r}\n" for i, r in enumerate(pump_rows(9, 200))))
    log = run_warmed_up(tmp_path, live, root / "bundle", root / "history.csv")
    [(taken, left)] = [tuple(map(int, m.groups())) for m in TRAINED.finditer(log)]
    assert (taken, left) == (trained, ROWS - trained), log      # the first 70 %: trained on; the rest held out
    [(fitted, _)] = [(int(m.group(1)), m.group(2)) for m in FITTED.finditer(log)]
    assert 0 < fitted <= left, log                              # no training row in the calibration
