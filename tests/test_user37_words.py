"""user37: two lines user36's first week found untrue (docs/measured/first-week.md, "The user37 round").

- The `source` fault of a PLC of five, one of them under a fault of its own already, said "its 4 sensors" — as if
  the PLC carried four (agent/faults/source.py `_said`).
- A failed int8 parity on an ONNX-only gateway (ai-edge-litert not installed) said "the tiers run onnx_fp32,
  tflite_fp32, tflite_int8 instead": no tier there runs a tflite artifact (agent/bundle.py `parity_note`, given
  what this gateway's installed runtimes run by check-config / `run` and by a hot swap)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row


def test_a_source_fault_counts_every_sensor_of_its_source_and_says_those_already_faulty_apart(tmp_path):
    # Before: "every sensor udp 127.0.0.1:0 carries fell silent together: its 3 sensors a, b, d without a reading"
    # of a feed of four (c under its own out_of_range fault: read at 80 over its max 50).
    tracker = Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group", "sensors": ["a", "b", {"name": "c", "max": 50}, "d"],
        "sources": [{"type": "udp", "port": 0}], "window": {"steps": 8, "carry_forward_s": 2},
        "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]}, "sinks": [],
        "faults": {"missing_s": 3, "clear_s": 2, "stuck_s": 3600, "flatline_s": 3600}}, base_dir=str(tmp_path))).health
    events = []
    for k in range(40):
        silent = np.full(4, k >= 30)
        values = np.array([10 + k % 3, 20 + k % 5, 80.0, 30 + k % 4])
        events += tracker.observe(Row(ts=1_790_000_000.0 + k, values=np.where(silent, np.nan, values), missing=silent,
                                      carried=np.zeros(4, bool)))
    [down] = [ev for ev in events if ev.kind == "source"]
    summary = down.to_dict()["evidence"]["summary"]
    assert "its 4 sensors (1 already faulty: c out_of_range): 3 — a, b, d without a reading" in summary, summary
    assert "its 3 sensors" not in summary


def test_a_failed_int8_parity_on_an_onnx_only_gateway_names_only_what_onnxruntime_runs(tmp_path):
    pytest.importorskip("onnxruntime")
    from conftest import DEMO_BUNDLE, demo_dict, failed_parity_variant
    if not DEMO_BUNDLE.exists():
        pytest.skip("no demo bundle")
    failed = failed_parity_variant("user37-onnx-int8-failed", {"onnx_int8": 0.9888})
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(demo_dict(tmp_path, bundle=str(failed))))
    code = "import sys; sys.modules['ai_edge_litert'] = None; sys.modules['tflite_runtime'] = None; " \
           "from agent.cli import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run([sys.executable, "-c", code, "check-config", "-c", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    note = next(line for line in res.stderr.splitlines() if "parity failed when it was made" in line)
    # before: "onnx_int8 not run, the tiers run onnx_fp32, tflite_fp32, tflite_int8 instead"
    assert "onnx_int8 not run, the tiers run onnx_fp32 instead" in note, note
