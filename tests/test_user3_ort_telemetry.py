"""onnxruntime 1.29 and later send usage telemetry from Linux to Microsoft (1DS, mobile.events.data.
microsoft.com) and keep a device id and an event cache under ~/.cache/Microsoft/DeveloperTools/
.onnxruntime, unless ORT_DISABLE_TELEMETRY=1 is set before the runtime starts. A gateway's agent must
not phone home from a road authority's or a plant's network, nor write outside its state directory
(under the unit, HOME=/ is read-only: the runtime then logs a coloured warning at every bundle load).
So `stad-agent` sets it (an operator's own ORT_DISABLE_TELEMETRY is kept).

A real `stad-agent run` with the onnx tier on the bundled model, HOME in a temporary directory:
nothing of onnxruntime's telemetry may appear there."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")
def test_the_onnx_tier_leaves_no_telemetry_device_id_in_home(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    cfg["scoring"]["chain"] = ["onnx", "numpy"]
    cfg["sources"][0].pop("anomalies", None)
    cfg["sinks"] = [{"type": "jsonl", "path": "alerts.jsonl"}]
    cfg["state_dir"] = "state"
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml", "--max-ticks", "3"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "tier onnx" in res.stderr, res.stderr[-3000:]         # the runtime was really started
    left = sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))
    assert left == [], left
    assert "telemetry" not in res.stderr, res.stderr[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")
def test_the_converter_leaves_no_telemetry_device_id_in_home(tmp_path):
    """Fails on the code before this test: `stad-convert verify` runs the bundle's ONNX artifacts
    through onnxruntime without the setting (the agent had it, the converter not)."""
    pytest.importorskip("torch")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "convert.cli", "verify", str(REPO / "agent" / "models" / "demo-corridor")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "onnx_int8" in res.stdout + res.stderr, res.stdout[-3000:]       # the runtime really ran
    left = sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))
    assert left == [], left
