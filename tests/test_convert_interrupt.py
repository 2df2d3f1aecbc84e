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


def start_code(log: Path) -> str:
    """`python -c` code that runs `stad-convert` with SIGINT as a terminal's foreground process has it: Python's
    own handler (a shell's background job — nohup, `&` in a script: how CI may run this suite — passes SIGINT
    ignored to its children, and Python then never raises KeyboardInterrupt). The handler first notes in `log`
    where the SIGINT was taken, and SIGUSR1 dumps every thread's stack there: a SIGINT not acted on (the
    fresh-clone run ci62: training ran on, its stderr only epoch lines, not understood) then says whether Python
    saw it and where the training was."""
    return ("import faulthandler, runpy, signal, sys, traceback\n"
            f"log = open({str(log)!r}, 'w', buffering=1)\n"
            "faulthandler.register(signal.SIGUSR1, file=log, all_threads=True)\n"
            "def on_sigint(signum, frame):\n"
            "    log.write('SIGINT taken in\\n' + ''.join(traceback.format_stack(frame, limit=6)))\n"
            "    signal.default_int_handler(signum, frame)\n"
            "signal.signal(signal.SIGINT, on_sigint)\n"
            "runpy.run_module('convert.cli', run_name='__main__')\n")


def sigint_state(pid: int) -> str:
    """Where a SIGINT stands in a process, from /proc: ignored, caught, pending, blocked by which threads — what
    a failure says, so a SIGINT not acted on names why (Linux; elsewhere 'unknown')."""
    bit = 1 << (signal.SIGINT - 1)

    def fields(path: Path) -> dict[str, int]:
        lines = (line.split(":", 1) for line in path.read_text().splitlines() if line.startswith("Sig")
                 or line.startswith("ShdPnd"))
        return {k: int(v.strip(), 16) for k, v in lines if k != "SigQ"}

    try:
        proc = fields(Path(f"/proc/{pid}/status"))
        threads = {t.name: fields(t / "status") for t in Path(f"/proc/{pid}/task").iterdir()}
    except OSError as exc:
        return f"SIGINT state unknown ({exc})"
    blocked = [t for t, f in threads.items() if f["SigBlk"] & bit]
    main = " (the main one among them)" if str(pid) in blocked else ""
    return (f"SIGINT ignored={bool(proc['SigIgn'] & bit)} caught={bool(proc['SigCgt'] & bit)} "
            f"pending={bool(proc['ShdPnd'] & bit or any(f['SigPnd'] & bit for f in threads.values()))} "
            f"blocked in {len(blocked)} of {len(threads)} threads{main}")


def test_ctrl_c_while_training_says_so_in_one_line_and_exits_130(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY_CORRIDOR_CONFIG)
    out, err, log = tmp_path / "bundle", tmp_path / "train.err", tmp_path / "signals.log"
    proc = subprocess.Popen([sys.executable, "-c", start_code(log), "train", "-c", str(cfg), "-o", str(out),
                             "--days", "2", "--epochs", "500", "--patience", "500", "--d-model", "8", "--heads", "2",
                             "--ff-hidden", "8"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=err.open("w"))
    try:
        wait_for(lambda: "epoch" in err.read_text(), "the first epoch's progress line", 180.0, proc)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            state, text = sigint_state(proc.pid), err.read_text()
            proc.send_signal(signal.SIGUSR1)
            wait_for(lambda: "File " in log.read_text(), "the child's stacks", 60.0, proc)
            raise AssertionError(f"SIGINT not acted on in 120 s: {state}; {text.count(chr(10))} stderr lines, "
                                 f"ending {text[-200:]!r}; the child's signal log:\n{log.read_text()[-4000:]}") from None
        assert code == 130, err.read_text()[-2000:]
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


def test_sigint_state_names_a_blocked_sigint(tmp_path):
    """The failure message's own check: a real child with SIGINT blocked, sent one, says it pending and blocked."""
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT]); "
            "print('ready', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        wait_for(lambda: "pending=True" in sigint_state(proc.pid), "the SIGINT pending", 60.0, proc)
        assert sigint_state(proc.pid) == "SIGINT ignored=False caught=True pending=True blocked in 1 of 1 threads (the main one among them)"
    finally:
        proc.kill()
        proc.wait()
