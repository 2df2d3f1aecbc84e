"""systemd/install.sh and the interpreter the venv is built on: the unit runs with ProtectHome=yes,
so a venv on a python under /root or /home (pyenv, conda or a self-built one first on root's PATH)
installs without a word and then fails at every start of the service (203/EXEC). The script says so.

A copy of this interpreter is put under /home (root only: skipped elsewhere); the venv is made
--without-pip and filled from a tiny hand-made wheel, so the test needs no network and takes seconds.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hand_wheel import hand_wheel

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "systemd" / "install.sh"


def tiny_wheel(out: Path) -> Path:
    """A pure-python wheel of one empty module: something pip installs offline in a second."""
    return hand_wheel(out, "u3probe", {"u3probe/__init__.py": b""})


def install(root: Path, python: str, whl: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(INSTALL), "--root", str(root), "--python", python, "--venv-args",
                           "--without-pip", "--source", str(whl), "--pip-args", "--no-deps --no-index"],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def python_under_home():
    if not os.access("/home", os.W_OK):
        pytest.skip("needs to write under /home (root): a python there is what is tested")
    home = Path("/home") / f"stad-user3-test-{os.getpid()}"
    (home / "bin").mkdir(parents=True)
    try:
        python = home / "bin" / "python3"
        shutil.copy2(os.path.realpath(sys._base_executable), python)
        yield python
    finally:
        shutil.rmtree(home)


def test_a_venv_on_a_python_under_home_is_warned_of(tmp_path, python_under_home):
    res = install(tmp_path / "root", str(python_under_home), tiny_wheel(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ProtectHome=yes" in res.stderr and "--python /usr/bin/python3" in res.stderr, res.stderr
    assert str(python_under_home) in res.stderr


def test_a_venv_on_the_system_python_is_not(tmp_path):
    system = Path("/usr/bin/python3")
    if not system.exists() or subprocess.run([str(system), "-m", "pip", "--version"],
                                             capture_output=True).returncode != 0:
        pytest.skip("no /usr/bin/python3 with pip here")
    res = install(tmp_path / "root", str(system), tiny_wheel(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ProtectHome" not in res.stdout + res.stderr


def test_no_extras_installs_the_package_alone(tmp_path):
    """`--extras ""` (a gateway on the numpy scorer alone): pip was handed `SOURCE[]` and refused it."""
    res = subprocess.run(["sh", str(INSTALL), "--root", str(tmp_path / "root"), "--python", sys.executable,
                          "--venv-args", "--without-pip", "--source", str(tiny_wheel(tmp_path)), "--extras", "",
                          "--pip-args", "--no-deps --no-index"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert list((tmp_path / "root/opt/stad-edge/venv/lib").glob("python3*/site-packages/u3probe/__init__.py"))
