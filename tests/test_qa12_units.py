"""A config whose sensors are the bundle's but whose data is not in the bundle's units (a flow in
vehicles per kilohour, a pressure in Pa for a bundle trained on kPa): check-config cannot see data,
so `run` says so at the end of warm-up, naming each sensor and how far off its scale is."""
from __future__ import annotations

import csv
import re
import subprocess
import sys

import pytest
import yaml

pytest.importorskip("onnxruntime")

from conftest import DEMO_BUNDLE, NO_DEMO, REPO, demo_cfg, demo_dict, sim_rows  # noqa: E402

pytestmark = NO_DEMO
WARMUP = 120


def replay_config(tmp_path, rows, names, scale: dict[str, float]):
    data = tmp_path / "data.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", *names])
        for r in rows:
            w.writerow([repr(r.ts)] + ["" if m else repr(float(v) * scale.get(n, 1.0))
                                      for n, v, m in zip(names, r.values, r.missing)])
    d = demo_dict(tmp_path, bundle=str(DEMO_BUNDLE))
    d["scoring"]["chain"] = ["onnx", "numpy"]
    d["warmup"]["ticks"] = WARMUP
    d["sources"] = [{"type": "replay", "path": str(data)}]
    d["state_dir"] = str(tmp_path / "state")
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def run(path):
    return subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_a_sensor_in_another_unit_than_the_bundles_is_named_at_the_end_of_warm_up(tmp_path):
    # On the old code nothing was said: S01_flow ×1000 put the model tier's score far over its threshold
    # from the first scored tick, one alert stayed open for the whole replay, and the log had no word why.
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP)
    rows = sim_rows(cfg, days=0.1, anomalies="none")
    names = cfg.sensor_names()
    (tmp_path / "kilo").mkdir()
    (tmp_path / "plain").mkdir()
    kilo = run(replay_config(tmp_path / "kilo", rows, names, {"S01_flow": 1000.0, "S02_speed": 0.001}))
    plain = run(replay_config(tmp_path / "plain", rows, names, {}))
    assert kilo.returncode == 0 and plain.returncode == 0, kilo.stderr[-2000:] + plain.stderr[-2000:]
    said = re.findall(r"WARNING +stad.pipeline: (S\d\d_\w+): warm-up readings .*: not the bundle's scale", kilo.stderr)
    assert said == ["S01_flow", "S02_speed"], kilo.stderr[-3000:]
    line = next(ln for ln in kilo.stderr.splitlines() if "S01_flow: warm-up readings" in ln)
    assert re.search(r"against the bundle's mean 2861, std 1805 \(median \d+× the bundle's mean\)", line), line   # its manifest
    assert "not the bundle's scale" not in plain.stderr
