"""The model tier's state across a stall, a restart and a full disk (found by bench/chaos.py --scorer tflite).

A SIGHUP while the source is silent is answered then, not when data comes back.

The reload a SIGHUP asks for used to start at the next scored tick: on a gateway whose sensors had
gone quiet (a stalled bus, a night without traffic, the moment an operator looks into it), a
`systemctl reload` got no answer — no bundle loaded, a corrupt one not refused — until data came.
Here a real agent (stdin source held open, the demo bundle on tflite) is warmed up, then the source
goes silent: a corrupt bundle and a SIGHUP are refused with their line; a valid one and a SIGHUP are
verified and wait in shadow; when data comes back, the valid one is swapped in.

A bundle dropped before a restart is a candidate after it; and a swap on a full state disk tries the
checkpoint again at `checkpoint_s`, not at every record.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, REPO, agent_env, wait_for  # noqa: E402
from small_fs import small_fs  # noqa: E402,F401 — a pytest fixture

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


def stdin_config(tmp_path, state="state", checkpoint_s=60.0, **scoring):
    """A stdin-fed agent on the demo bundle (tflite) with a models_dir: its config file."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    cfg = {"node": {"id": "gw-stall", "site": "lab"}, "tick_s": 30, "topology": "corridor",
           "sensors": json.loads((DEMO_BUNDLE / "manifest.json").read_text())["sensors"],
           "sources": [{"type": "stdin"}],
           "window": {"steps": 32, "carry_forward_s": 90, "max_clock_skew_s": 0},   # stamps of the last hour
           "warmup": {"ticks": 40},
           # the profile off (its default before skab32): a swap's shadow then starts at once, no settle
           "scoring": {"chain": ["tflite", "numpy"], "bundle": str(DEMO_BUNDLE), "models_dir": str(models),
                       "shadow_ticks": 3, "shadow_min_agreement": 0.0, "profile": {"enabled": False}, **scoring},
           "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": str(state), "checkpoint_s": checkpoint_s}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class StdinAgent:
    """`stad-agent run` reading the rows this test writes to its stdin (stamped 30 s apart from an
    hour ago, one after the other across lives); its log in tmp_path/agent-N.err."""

    def __init__(self, tmp_path, config, sent: int = 0):
        manifest = json.loads((DEMO_BUNDLE / "manifest.json").read_text())
        self.sensors, self.norm = manifest["sensors"], manifest["normalisation"]
        self.rnd = random.Random(3 + sent)
        self.t0 = time.time() - 60 * 60
        self.sent = sent
        self.err = tmp_path / f"agent-{sent}.err"
        with self.err.open("w") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(config)], cwd=tmp_path,
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=fh, text=True,
                                         env=agent_env(PYTHONPATH=str(REPO)))

    def send(self, n: int) -> None:
        mean, std = self.norm["mean"], self.norm["std"]
        for _ in range(n):
            row = {s: mean[s] + self.rnd.gauss(0, 0.1 * std[s]) for s in self.sensors}
            self.proc.stdin.write(json.dumps({"ts": self.t0 + 30 * self.sent, **row}) + "\n")
            self.sent += 1
        self.proc.stdin.flush()

    def logged(self, text: str) -> str:
        return wait_for(lambda: next((ln for ln in self.err.read_text().splitlines() if text in ln), None),
                        f"{text!r} in the agent's log", 90.0, self.proc)

    def end(self) -> str:
        """End of input: the agent stops cleanly; its log."""
        self.proc.stdin.close()
        assert self.proc.wait(timeout=90) == 0
        text = self.err.read_text()
        assert "Traceback" not in text, text[-3000:]
        return text

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_a_sighup_while_the_source_is_silent_is_answered_then(tmp_path):
    config = stdin_config(tmp_path)
    models = tmp_path / "models"
    agent = StdinAgent(tmp_path, config)
    send, logged, err = agent.send, agent.logged, agent.err
    try:
        send(48)
        logged("warm-up done")
        # Silent from here: nothing more is sent until the swap is asked for.
        bad = dropped(models, "bad", "demo-bad", truncate=True)
        agent.proc.send_signal(signal.SIGHUP)
        line = logged(f"model update (SIGHUP) rejected: {bad}: ")
        # (the start's check of a bundle, which a swap's candidate meets first since qa44, names the first file cut)
        assert "model_fp32.tflite: size 35306 bytes, the manifest says 70612" in line, line
        assert "still scoring with tflite" in line, line
        good = dropped(models, "good", "demo-good")
        agent.proc.send_signal(signal.SIGHUP)
        logged(f"model update: {good} verified in")         # in shadow now: scoring it needs ticks
        assert "scorer tier tflite -> tflite" not in err.read_text()
        send(8)             # data again: three shadow ticks, then the swap
        logged(f"scorer tier tflite -> tflite: model update (SIGHUP): demo-good from {good}")
        assert agent.end().count("model update (SIGHUP) rejected") == 1
    finally:
        agent.kill()


def test_a_bundle_dropped_before_a_restart_is_still_a_candidate(tmp_path):
    # A bundle dropped while the agent warms up (a day on the demo) is looked at once it is warm; a
    # restart before that (a crash, a reboot, an upgrade) took it for one that "was there at start-up"
    # and never looked at it: the first run had recorded nothing of what models_dir held when it began.
    # (bench/chaos.py's model-tier soak found it: 4 bundles dropped, none ever judged.)
    config = stdin_config(tmp_path, models_poll_ticks=2)
    first = StdinAgent(tmp_path, config)
    try:
        first.send(5)
        first.logged("warming up (")
        new = dropped(tmp_path / "models", "new", "demo-new")
        first.end()
    finally:
        first.kill()
    second = StdinAgent(tmp_path, config, sent=first.sent)
    try:
        second.send(50)                 # the rest of the warm-up, then ticks that poll models_dir
        second.logged("warm-up done")
        second.logged(f"model update (new bundle in models_dir): loading {new}")
        second.logged(f"model update: {new} verified in")
        second.send(8)              # three shadow ticks, then the swap
        second.logged(f"scorer tier tflite -> tflite: model update (new bundle in models_dir): demo-new from {new}")
        second.end()
    finally:
        second.kill()


def test_a_swap_on_a_full_disk_tries_the_checkpoint_again_at_its_pace(tmp_path, small_fs):
    # After a swap the checkpoint is written at once (it names the bundle). On a full state disk that
    # write failed and was tried again at every turn of the loop — every record — not every
    # checkpoint_s: the soak's agent failed 16 writes in 13 s, each turn ~0.5 s, and a clean stop left
    # 10 queued records unread.
    config = stdin_config(tmp_path, state=small_fs.path, checkpoint_s=600)
    agent = StdinAgent(tmp_path, config)
    try:
        agent.send(48)
        agent.logged("warm-up done")
        small_fs.fill()
        good = dropped(tmp_path / "models", "good", "demo-good")
        agent.proc.send_signal(signal.SIGHUP)
        agent.logged(f"model update: {good} verified in")
        agent.send(40)              # the swap after three of them, then 37 turns of the loop
        agent.logged("scorer tier tflite -> tflite: model update (SIGHUP): demo-good")
        agent.logged("cannot write the checkpoint")
        text = agent.end()
    finally:
        agent.kill()
    failed = int(re.search(r"state file writes failed: [^;]*checkpoint (\d+)", text).group(1))
    assert failed <= 3, text.splitlines()[-1]       # the swap's, maybe the stop's: not one a record
