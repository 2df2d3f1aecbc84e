"""`systemd/install.sh --root DIR` checks the staged config as the staged tree will run it (user32; user31's left item).

Its check-config read the config's absolute paths on this machine: industrial.yaml's MQTT password, stored by the
installer as DIR/etc/credstore/stad-edge.mqtt-password, was looked for in /etc/credstore, so a correct staged install
said `does not pass check-config; the service would not start`. check-config now takes `--root DIR`, which reads every
absolute path the config names, and the credential stores, under DIR; install.sh passes it.

A real staged install into a temporary root, as tests/test_install.py makes one (a wheel of this checkout, a venv
without pip, systemctl a shim that only records calls). The staged venv gets its dependencies (numpy, PyYAML, and
pymodbus for the config's Modbus source) from this interpreter's site-packages, linked into a folder of their own that
a .pth line names (conftest.linked_deps: the whole site-packages on its path had install.sh compile torch and every
extra for python -OO; suite7), the install being offline: then its own check-config runs.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import checkout_wheel, linked_deps

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "systemd" / "install.sh"


def _install(root: Path, args: list[str], env: dict) -> str:
    done = subprocess.run(["sh", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_staged_install_checks_its_config_with_the_paths_read_under_its_root(tmp_path):
    bindir = tmp_path / "shim-bin"
    bindir.mkdir()
    calls = tmp_path / "systemctl.calls"
    (bindir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n')
    (bindir / "systemctl").chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    env.pop("CREDENTIALS_DIRECTORY", None)
    root, secret = tmp_path / "root", tmp_path / "pw"
    secret.write_text("s3cret\n")
    args = ["--python", sys.executable, "--venv-args", "--without-pip", "--source", str(checkout_wheel()),
            "--pip-args", "--no-deps --no-index", "--config", str(REPO / "configs" / "industrial.yaml"),
            "--mqtt-password-file", str(secret)]
    _install(root, args, env)               # the venv made (its check cannot import numpy yet: said, not judged here)
    [site] = (root / "opt/stad-edge/venv/lib").glob("python*/site-packages")
    (site / "zz_test_deps.pth").write_text(f"{linked_deps(tmp_path / 'deps', 'pymodbus')}\n")

    said = _install(root, args, env)        # again, idempotent: now its check-config runs
    assert f"{root}/etc/stad-edge/agent.yaml passes check-config with its paths read under {root}" in said, said
    assert "does not pass" not in said, said
    assert not Path("/etc/credstore/stad-edge.mqtt-password").exists()      # this machine's store has no such file

    # A path the staged tree lacks is named under the root (a warm-up recording not copied there yet)
    agent_yaml = root / "etc/stad-edge/agent.yaml"
    cfg = yaml.safe_load(agent_yaml.read_text())
    cfg["warmup"]["replay"] = "/var/lib/stad-edge/warmup"
    agent_yaml.write_text(yaml.safe_dump(cfg))
    done = subprocess.run(["sh", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True, env=env,
                          timeout=600)
    out = done.stdout + done.stderr
    assert f"does not pass check-config (its paths read under {root}); the service would not start" in out, out
    assert f"{root}/var/lib/stad-edge/warmup" in out, out
    assert not calls.exists(), calls.read_text()
