"""`stad-convert` on a gateway (no `convert` extra): --help and inspect work, the rest names the extra.

Each run is a subprocess in which `import torch` fails (sys.modules['torch'] = None), as on a
machine where torch was never installed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; from convert.cli import main; sys.exit(main(sys.argv[1:]))"


def convert_without_torch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["inspect", "--help"]])
def test_help_works_without_torch(args):
    res = convert_without_torch(*args)
    assert res.returncode == 0, res.stderr
    assert "usage: stad-convert" in res.stdout and "Traceback" not in res.stderr


def test_train_help_lists_its_options_without_torch():
    res = convert_without_torch("train", "--help")
    assert res.returncode == 0, res.stderr
    assert "--epochs" in res.stdout and "--ema-decay" in res.stdout and "--members" in res.stdout


def test_a_bad_train_option_is_refused_without_torch():
    """Refused at its options before torch is imported: the same words with or without the extra."""
    res = convert_without_torch("train", "-c", "configs/demo.yaml", "-o", "/nonexistent/b", "--epochs", "0")
    assert res.returncode == 2, res.stderr
    assert "stad-convert train: --epochs: must be at least 1, got 0" in res.stderr
    assert "Traceback" not in res.stderr and "convert` extra" not in res.stderr


def test_inspect_works_without_torch():
    if not (DEMO_BUNDLE / "manifest.json").exists():
        pytest.skip("the demo bundle (agent/models/demo-corridor) is not built")
    res = convert_without_torch("inspect", str(DEMO_BUNDLE))
    assert res.returncode == 0, res.stderr
    assert "model_id    demo-corridor" in res.stdout and "tflite_int8" in res.stdout


@pytest.mark.parametrize("args", [["train", "-c", "configs/demo.yaml", "-o", "/nonexistent/b"],
                                  ["export", str(DEMO_BUNDLE)], ["verify", str(DEMO_BUNDLE)], ["build-demo"]])
def test_commands_that_need_torch_name_the_extra_and_exit_2(args):
    res = convert_without_torch(*args)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert f"stad-convert {args[0]} needs the `convert` extra (torch is not installed)" in res.stderr
    assert 'pip install "stad-edge[convert]"' in res.stderr
