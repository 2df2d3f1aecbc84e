"""A SIGHUP while the source is silent is answered then, not when data comes back.

The reload a SIGHUP asks for used to start at the next scored tick: on a gateway whose sensors had
gone quiet (a stalled bus, a night without traffic, the moment an operator looks into it), a
`systemctl reload` got no answer — no bundle loaded, a corrupt one not refused — until data came.
Here a real agent (stdin source held open, the demo bundle on tflite) is warmed up, then the source
goes silent: a corrupt bundle and a SIGHUP are refused with their line; a valid one and a SIGHUP are
verified and wait in shadow; when data comes back, the valid one is swapped in.
(bench/chaos.py's model-tier soak found it: every SIGHUP during a stall went unanswered.)
"""
from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, REPO, agent_env, wait_for  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent.manifest import write as write_manifest  # noqa: E402

pytestmark = NO_DEMO


def dropped(models, name: str, model_id: str, truncate: bool = False):
    """A copy of the demo bundle made under a dot name and renamed into place (README), as `model_id`;
    with `truncate`, its tflite models cut to half after the manifest was written (a copy cut short)."""
    staged = models / f".{name}"
    shutil.copytree(DEMO_BUNDLE, staged)
    manifest = bundles.read_manifest(staged)
    manifest.model_id = model_id
    write_manifest(staged, manifest)
    if truncate:
        for f in staged.glob("*.tflite"):
            f.write_bytes(f.read_bytes()[:f.stat().st_size // 2])
    staged.rename(models / name)
    return models / name


def test_a_sighup_while_the_source_is_silent_is_answered_then(tmp_path):
    manifest = json.loads((DEMO_BUNDLE / "manifest.json").read_text())
    sensors, mean, std = manifest["sensors"], manifest["normalisation"]["mean"], manifest["normalisation"]["std"]
    models = tmp_path / "models"
    models.mkdir()
    cfg = {"node": {"id": "gw-stall", "site": "lab"}, "tick_s": 30, "topology": "corridor", "sensors": sensors,
           "sources": [{"type": "stdin"}],
           "window": {"steps": 32, "carry_forward_s": 90, "max_clock_skew_s": 0},   # stamps of the last half hour
           "warmup": {"ticks": 40},
           "scoring": {"chain": ["tflite", "numpy"], "bundle": str(DEMO_BUNDLE), "models_dir": str(models),
                       "shadow_ticks": 3, "shadow_min_agreement": 0.0},
           "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state"}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    err = tmp_path / "agent.err"
    rnd = random.Random(3)
    t0 = time.time() - 60 * 30
    sent = 0

    def send(n: int) -> None:
        nonlocal sent
        for _ in range(n):
            row = {s: mean[s] + rnd.gauss(0, 0.1 * std[s]) for s in sensors}
            proc.stdin.write(json.dumps({"ts": t0 + 30 * sent, **row}) + "\n")
            sent += 1
        proc.stdin.flush()

    def logged(text: str) -> str:
        return wait_for(lambda: next((ln for ln in err.read_text().splitlines() if text in ln), None),
                        f"{text!r} in the agent's log", 90.0, proc)

    with err.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=tmp_path,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=fh, text=True,
                                env=agent_env(PYTHONPATH=str(REPO)))
    try:
        send(48)
        logged("warm-up done")
        # Silent from here: nothing more is sent until the swap is asked for.
        bad = dropped(models, "bad", "demo-bad", truncate=True)
        proc.send_signal(signal.SIGHUP)
        line = logged(f"model update (SIGHUP) rejected: {bad}: ")
        assert "model_int8.tflite: size 25644 bytes, the manifest says 51288" in line, line
        assert "still scoring with tflite" in line, line
        good = dropped(models, "good", "demo-good")
        proc.send_signal(signal.SIGHUP)
        logged(f"model update: {good} verified in")         # in shadow now: scoring it needs ticks
        assert "scorer tier tflite -> tflite" not in err.read_text()
        send(8)             # data again: three shadow ticks, then the swap
        logged(f"scorer tier tflite -> tflite: model update (SIGHUP): demo-good from {good}")
        proc.stdin.close()          # end of input: the agent stops
        assert proc.wait(timeout=90) == 0
        text = err.read_text()
        assert "Traceback" not in text, text[-3000:]
        assert text.count("model update (SIGHUP) rejected") == 1, text[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
