"""Ctrl-C in `stad-convert train`: one line saying where it stopped and what to do, exit 130, no
traceback and no bundle (on the old code: a KeyboardInterrupt traceback out of PyTorch's forward)."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from conftest import TINY_CORRIDOR_CONFIG, wait_for  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_ctrl_c_while_training_says_so_in_one_line_and_exits_130(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY_CORRIDOR_CONFIG)
    out, err = tmp_path / "bundle", tmp_path / "train.err"
    # A shell starts a background job (nohup, `&` in a script: how CI may run this suite) with SIGINT
    # ignored, and Python then never turns SIGINT into KeyboardInterrupt: give the child the default
    # handler a terminal's foreground process has, since Ctrl-C at a terminal is what is tested.
    start = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "runpy.run_module('convert.cli', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", start, "train", "-c", str(cfg), "-o", str(out),
                             "--days", "2", "--epochs", "500", "--patience", "500", "--d-model", "8", "--heads", "2",
                             "--ff-hidden", "8"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=err.open("w"))
    try:
        wait_for(lambda: "epoch" in err.read_text(), "the first epoch's progress line", 180.0, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-2000:]
    assert text.rstrip().endswith(f"stad-convert train: interrupted while training; training does not resume: run it "
                                  f"again (a bundle already in {out} is left as it was, unless the stop came as it "
                                  "was being written)"), text[-600:]
    assert not out.exists()
