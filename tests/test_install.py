"""systemd/install.sh into a temporary root: a real venv with the package, the unit, the config and the
credentials; run twice (idempotent, the operator's config kept); --uninstall keeps only the state.

The venv is made --without-pip and filled by this interpreter's pip from a wheel of the checkout with
--no-deps --no-index, so the test needs no network and takes seconds.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import checkout_wheel

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "systemd" / "install.sh"
UNIT = REPO / "systemd" / "stad-agent.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.fixture(scope="module")
def wheel() -> Path:
    return checkout_wheel()


@pytest.fixture
def shim_path(tmp_path) -> tuple[dict, Path]:
    """PATH with a `systemctl` that only records how it was called: --root must never reach it."""
    bindir = tmp_path / "shim-bin"
    bindir.mkdir()
    calls = tmp_path / "systemctl.calls"
    shim = bindir / "systemctl"
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n')
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    return env, calls


def run_install(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                          env=env, timeout=600)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Mode and content hash of every installed file outside the venv's site-packages and the bytecode."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if "/venv/lib" in f"/{rel}" or "/opt/stad-edge/pycache/" in f"/{rel}/" or p.is_symlink():
            continue
        mode = stat.S_IMODE(p.stat().st_mode)
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[rel] = (mode, digest)
    return out


def test_install_twice_then_uninstall(tmp_path, wheel, shim_path):
    env, systemctl_calls = shim_path
    root = tmp_path / "root"
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAKN3Fn9\n"
                   "-----END PRIVATE KEY-----\n")
    args = ["--python", sys.executable, "--venv-args", "--without-pip", "--source", str(wheel),
            "--pip-args", "--no-deps --no-index", "--config", str(REPO / "configs" / "industrial.yaml"),
            "--mqtt-password-file", str(secret), "--tls-key-file", str(key)]

    first = run_install(root, *args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "systemctl skipped" in first.stdout
    venv = root / "opt/stad-edge/venv"
    agent_yaml = root / "etc/stad-edge/agent.yaml"
    unit = root / "etc/systemd/system/stad-agent.service"
    creds = root / "etc/credstore"
    assert (venv / "bin/stad-agent").is_file()
    version = subprocess.run([str(venv / "bin/stad-agent"), "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("stad-edge "), version.stderr
    # The unit runs python -OO and writes no bytecode: install.sh wrote the .opt-2.pyc files it reads (pip only the
    # plain ones) into the unit's PYTHONPYCACHEPREFIX, the agent's and the standard library's among them
    # (tests/test_install_bytecode.py runs the installed unit's command line on them).
    pycache = root / "opt/stad-edge/pycache"
    assert list(pycache.glob(f"{str(venv).lstrip('/')}/lib/python*/site-packages/agent/pipeline.*.opt-2.pyc"))
    assert list(pycache.rglob("json/decoder.*.opt-2.pyc"))
    assert not list(venv.rglob("*.opt-2.pyc"))
    assert f"writing the bytecode for python -OO into {pycache}" in first.stdout
    # No torch in a gateway install.
    assert not list(venv.glob("lib/python*/site-packages/torch"))
    assert unit.read_bytes() == UNIT.read_bytes()
    assert agent_yaml.read_bytes() == (REPO / "configs/industrial.yaml").read_bytes()
    assert stat.S_IMODE(creds.stat().st_mode) == 0o700
    for name, source in (("stad-edge.mqtt-password", secret), ("stad-edge.tls-key", key)):
        path = creds / name
        assert path.read_bytes() == source.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(creds.glob("*.tmp"))

    # Second run: same result, and an operator's edit of agent.yaml survives.
    agent_yaml.write_text(agent_yaml.read_text().replace("plant3-gw-skid1", "plant3-gw-skid9"))
    before = snapshot(root)
    second = run_install(root, *args, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "keeping the existing" in second.stdout
    assert snapshot(root) == before
    assert "plant3-gw-skid9" in agent_yaml.read_text()

    # The installed unit, pointed at the installed venv, verifies cleanly.
    if SYSTEMD_ANALYZE:
        check = tmp_path / "verify" / "stad-agent.service"
        check.parent.mkdir()
        check.write_text(unit.read_text().replace("/opt/stad-edge/venv", str(venv)))
        res = subprocess.run([SYSTEMD_ANALYZE, "verify", str(check)], capture_output=True, text=True,
                             cwd=tmp_path, timeout=60)
        assert res.stderr == "" and res.returncode == 0, res.stderr

    # Uninstall keeps the state only.
    state = root / "var/lib/stad-edge"
    state.mkdir(parents=True)
    (state / "mqtt-outbox.sqlite").write_bytes(b"pending alerts")
    gone = run_install(root, "--uninstall", env=env)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"the state in {state} was kept" in gone.stdout + gone.stderr
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == ["var/lib/stad-edge/mqtt-outbox.sqlite"]
    for path in (venv, pycache, root / "opt/stad-edge", unit, root / "etc/stad-edge", creds):
        assert not path.exists(), path
    # Uninstalling again is harmless; with no state directory it does not claim to keep one.
    assert run_install(root, "--uninstall", env=env).returncode == 0
    shutil.rmtree(state)
    again = run_install(root, "--uninstall", env=env)
    assert again.returncode == 0 and f"there was no state directory ({state})" in again.stdout + again.stderr
    assert not systemctl_calls.exists(), systemctl_calls.read_text()


def test_no_venv_installs_the_files_only(tmp_path, shim_path):
    env, systemctl_calls = shim_path
    root = tmp_path / "root"
    res = run_install(root, "--no-venv", env=env)
    assert res.returncode == 0, res.stderr
    assert not (root / "opt").exists()
    assert (root / "etc/systemd/system/stad-agent.service").is_file()
    assert (root / "etc/stad-edge/agent.yaml").read_bytes() == (REPO / "configs/roadside.yaml").read_bytes()
    assert not (root / "etc/credstore").exists()      # no secrets given, none written
    assert not systemctl_calls.exists()


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown option '--bogus'"),
    (["--no-venv", "--config", "/nonexistent/agent.yaml"], "does not exist"),
    (["--no-venv", "--mqtt-password-file", "/nonexistent/pw"], "does not exist"),
    (["--pip-args"], "--pip-args needs a value"),
])
def test_bad_arguments_fail_before_installing_anything(tmp_path, args, message):
    root = tmp_path / "root"
    res = run_install(root, *args)
    assert res.returncode != 0
    assert message in res.stderr
    assert not any(p.is_file() for p in root.rglob("*"))


@pytest.mark.parametrize("planted", ["stad-edge.mqtt-password.tmp", "stad-edge.mqtt-password"])
def test_a_planted_symlink_never_redirects_the_password(tmp_path, shim_path, planted):
    env, _ = shim_path
    root = tmp_path / "root"
    credstore = root / "etc/credstore"
    credstore.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (credstore / planted).symlink_to(victim)
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    res = run_install(root, "--no-venv", "--mqtt-password-file", str(secret), env=env)
    assert victim.read_text() == "untouched\n"
    cred = credstore / "stad-edge.mqtt-password"
    if planted == "stad-edge.mqtt-password":       # the destination itself is a link: refused
        assert res.returncode != 0 and "symbolic link" in res.stderr
        assert cred.is_symlink()
    else:                                           # a link at the old fixed temporary name: ignored
        assert res.returncode == 0, res.stderr
        assert not cred.is_symlink() and cred.read_text() == "s3cret\n"
        assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    assert not [p for p in credstore.iterdir() if p.name.startswith("stad-edge.mqtt-password.") and
                not p.is_symlink()]              # no temporary file left behind
