"""A model file changed in place under the running agent (truncated, or a new version copied over
it) must not stop scoring: the runtimes run the verified bytes held in memory, not the file.

Before, ai-edge-litert memory-mapped the .tflite and the agent died with SIGBUS on the next
tick after the file shrank. The agent runs here as a subprocess under a fake NOTIFY_SOCKET, whose
periodic STATUS= lines (tier, ticks) show that it keeps scoring, and with which tier.
"""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, HAVE_DEMO, demo_dict, tiny_bundle  # noqa: E402
from conftest import NotifySocket, running_agent, stop_agent  # noqa: E402

WARMUP = 120


def agent_config(tmp_path: Path, bundle: Path, chain: list[str]) -> Path:
    d = demo_dict(tmp_path, bundle=str(bundle), chain=chain)
    d["warmup"]["ticks"] = WARMUP
    d["sources"][0]["speed"] = 600          # 20 ticks a second once the fast-forward is over
    d["sources"][0]["fast_forward_s"] = 30 * (WARMUP + 200)
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def status_ticks(notify: NotifySocket, tier: str) -> list[int]:
    """Tick counts of the periodic STATUS= lines that name `tier`."""
    out = []
    for line in notify.lines("STATUS="):
        m = re.search(r"tier=(\S+) ticks=(\d+)", line)
        if m and m.group(1) == tier:
            out.append(int(m.group(2)))
    return out


def wait_for_ticks(notify: NotifySocket, proc, tier: str, beyond: int, timeout: float = 90.0) -> int:
    """Wait until a STATUS= line reports more than `beyond` ticks scored with `tier`."""
    deadline = time.monotonic() + timeout
    while True:
        ticks = [t for t in status_ticks(notify, tier) if t > beyond]
        if ticks:
            return ticks[0]
        if proc.poll() is not None:
            raise AssertionError(f"the agent exited with {proc.returncode}:\n{proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no STATUS= with tier={tier} beyond {beyond} ticks: {notify.lines('STATUS=')[-5:]}")
        time.sleep(0.1)


@pytest.mark.parametrize("tier", ["tflite", "onnx"])
def test_the_active_model_file_truncated_then_copied_over_keeps_the_agent_scoring(tmp_path, tier):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE if HAVE_DEMO else tiny_bundle(), bundle)
    models = sorted(bundle.glob(f"*.{tier}"))
    assert models
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    with running_agent(agent_config(tmp_path, bundle, [tier, "numpy"]), notify) as proc:
        seen = wait_for_ticks(notify, proc, tier, beyond=WARMUP + 1)
        for path in models:                 # what `truncate -s 0` does
            with open(path, "r+b") as f:
                f.truncate(0)
        seen = wait_for_ticks(notify, proc, tier, beyond=seen)
        for path in models:                 # what `cp other.tflite model.tflite` does: same inode, new bytes
            shutil.copyfile(bundle / "holdout.npy", path)
        wait_for_ticks(notify, proc, tier, beyond=seen)
        err = stop_agent(proc)
    assert proc.returncode == 0, err[-3000:]
    assert f"tier {tier};" in err and "stopped: signal SIGTERM" in err
    assert "scorer tier" not in err, err[-3000:]       # no step-down: the model kept scoring
