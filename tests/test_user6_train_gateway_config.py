"""`stad-convert train -c` on a gateway's config (a Modbus source, warm-up from recordings) is
refused, as a live source never ends, and now says how to train on the recordings the config
already names in `warmup.replay` (user6's walk: an integrator's pump skid). The refusal is the real
CLI's, as a process; the recording a real CSV file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
SENSORS = ["PT101", "FT101"]


def _gateway(tmp_path: Path, warmup: dict) -> Path:
    cfg = {"sensors": [{"name": s, "group": "skid1"} for s in SENSORS], "tick_s": 1, "topology": "group",
           "sources": [{"type": "modbus", "host": "127.0.0.1", "port": 5020,
                        "registers": {"PT101": 100, "FT101": 101}}],
           "window": {"steps": 8}, "warmup": warmup, "sinks": []}
    path = tmp_path / "skid1.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train(config: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(config), "-o",
                           str(tmp_path / "bundle"), "--epochs", "1", "--no-export", "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_a_gateway_config_is_told_to_train_on_its_warmup_recordings(tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    (rec / "day1.csv").write_text("timestamp,PT101,FT101\n" + "".join(
        f"{1.7e9 + i:.0f},{1.5 + 0.01 * (i % 7):.3f},{40 + 0.1 * (i % 5):.2f}\n" for i in range(200)))
    proc = _train(_gateway(tmp_path, {"ticks": 50, "replay": "recordings"}), tmp_path)
    assert proc.returncode == 2, proc.stderr
    said = proc.stderr.strip()
    assert said.startswith("stad-convert train: sources[0]: a modbus source waits for live data and never ends"), said
    assert said.endswith(f"; this config's warmup.replay names recordings: train on them with a copy of it "
                         f"whose sources are [{{type: replay, path: {rec}}}]"), said
    assert not (tmp_path / "bundle").exists()


def test_without_warmup_recordings_the_refusal_is_as_before(tmp_path):
    proc = _train(_gateway(tmp_path, {"ticks": 50}), tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().endswith("a simulate source, or stdin from a file"), proc.stderr
