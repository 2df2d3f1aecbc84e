"""What the agent and the converter say is what happened (user32; user31's and calib1's left items).

- A recording without one of the mapped columns is read, its rows without that sensor; every surface said
  `rejected`: the warm-up's and train's `rejected day1.csv:1: missing column` line, the stop summary's `warm-up
  recording rejected 1 (missing column: 1)`, train's and `inspect`'s `rejected while reading: 1 missing column`. They
  now say it was read without the column; the reason keeps its counted name (health, /metrics, the manifest).
- The start banner's `profile:` line was the config's alone: after a recorded warm-up that fitted no profile (a
  sensor read on too few ticks) it still said the tier scores the distance from the warm-up's normal, and after one of
  the bundle's own training rows alone (calib1's in-sample fit) nothing of it. It now says each.

Real CSV recordings, the real `stad-convert train` (a small ONNX model) and `inspect`, the agent as a process.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import agent_env, built_once  # noqa: E402
from pump_bundle import DONE, pump_rows, run_warmed_up, train, training_part  # noqa: E402

from agent.bundle import read_manifest  # noqa: E402

ROWS = 900
DAYS = (1793599200.0, 1793685600.0)          # 2026-11-02 and -03, 00:00 UTC
COLUMNS = {"Flow": "a", "BearingTemp": "b"}  # b: a sensor added on the second day
FORMAT = {"columns": COLUMNS}
READ_WITHOUT = "read day1.csv:1 without column 'BearingTemp' (sensor b missing in its rows: not in the header)"


def _recordings(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for d, t0 in enumerate(DAYS):
        header = "timestamp,Flow" + (",BearingTemp" if d else "") + "\n"
        rows = pump_rows(d + 1, ROWS, with_b=bool(d))
        (folder / f"day{d + 1}.csv").write_text(header + "".join(f"{t0 + i:.0f},{r}\n" for i, r in enumerate(rows)))
    return folder


def _train(out: Path) -> None:
    said = train(out, {"type": "replay", "path": str(_recordings(out / "recordings")), **FORMAT})
    (out / "train.log").write_text(said)


def _trained() -> Path:
    return built_once("user32-added-sensor-bundle", _train)


def _start(tmp_path: Path, recordings: Path, bundle: Path, profile: dict | None = None) -> str:
    """The agent started on `bundle` with `warmup.replay` on `recordings`, a live day replayed after; its log."""
    live = tmp_path / "live.csv"
    live.write_text("timestamp,Flow,BearingTemp\n" + "".join(
        f"{DAYS[1] + 86400 + i:.0f},{r}\n" for i, r in enumerate(pump_rows(9, 200, with_b=True))))
    return run_warmed_up(tmp_path, live, bundle, recordings, FORMAT, profile)


def _banner_profile(log: str) -> str:
    [line] = [ln for ln in log.splitlines() if "  profile: " in ln]
    return line


def test_a_recording_without_a_mapped_column_is_said_read_without_it_not_rejected():
    root = _trained()
    train = (root / "train.log").read_text()
    assert READ_WITHOUT in train, train
    assert "rejected day1.csv" not in train, train
    # train's data lines, then inspect's: the count under its reason's name, in words of what happened
    said = ("1 file header(s) read without a mapped column (missing column: 1; their rows read, that sensor missing "
            "in them)")
    assert said in train and "rejected while reading" not in train, train
    assert read_manifest(root / "bundle").data["rejected"] == {"missing column": 1}      # the counted name kept
    shown = subprocess.run([sys.executable, "-m", "convert.cli", "inspect", str(root / "bundle")],
                           capture_output=True, text=True, timeout=300, env=agent_env())
    assert shown.returncode == 0, shown.stderr
    assert said in shown.stdout and "rejected while reading" not in shown.stdout, shown.stdout


def test_the_warm_up_and_the_summary_say_a_file_was_read_without_a_column(tmp_path):
    root = _trained()
    log = _start(tmp_path, root / "recordings", root / "bundle")
    assert READ_WITHOUT in log and "rejected day1.csv" not in log, log
    summary = log.strip().splitlines()[-1]
    assert re.match(r"summary: 50 ticks, \d+ records in, rejected 0 \(none\); warm-up recording: 1 file header\(s\) "
                    r"read without a mapped column \(missing column: 1; their rows read, that sensor missing in them\); "
                    "alerts raised", summary), summary
    banner = _banner_profile(log)            # a profile fitted on held-out ticks: said as before
    assert "distance from the warm-up's normal too, the fallback blended" in banner, banner


def test_the_banner_says_no_profile_was_fitted_and_the_threshold_scored_with(tmp_path):
    root = _trained()
    log = _start(tmp_path, root / "recordings", root / "bundle", profile={"min_ticks": 5000})
    banner = _banner_profile(log)
    threshold = DONE.search(log).group(1)
    # (user40: "a sensor read on fewer than 5000 warm-up ticks" before; every sensor was read, the warm-up too short)
    assert (f"profile: none fitted at the warm-up (1800 warm-up ticks, fewer than the 5022 a profile is fitted on): "
                           f"the model tier scores its forecast error alone against its bundle's own threshold "
                           f"{threshold}, no distance from a normal; the fallback blended at ") in banner, banner
    assert f"{read_manifest(root / 'bundle').threshold['value']:.3f}" == threshold, log


def test_the_banner_says_a_profile_fitted_on_the_bundles_training_rows_alone_is_in_sample(tmp_path):
    root = _trained()
    manifest = read_manifest(root / "bundle")
    cut = training_part(root / "recordings", manifest, tmp_path / "training-part")
    log = _start(tmp_path, cut, root / "bundle")
    banner = _banner_profile(log)
    threshold = DONE.search(log).group(1)
    assert (f"distance from the warm-up's normal too — fitted in-sample, on its bundle's own training rows alone: "
            f"threshold {threshold} likely low (false alerts); a SIGHUP once live ticks have come fits it again on "
            "them, the fallback blended") in banner, banner
