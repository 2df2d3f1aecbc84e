"""An install.sh run into a temporary root, offline, and the installed unit's ExecStart run as systemd would.

Shared by tests/test_install_bytecode.py and tests/test_suite12_bytecode_closure.py (moved here from the first by
suite12: a test module does not import another, tests/test_layering.py). `offline_venv` makes the venv install.sh
reuses (no pip; numpy, PyYAML and the packages named linked in through a .pth), `install` runs install.sh --no-start
with the checkout's wheel, and `start_and_stop` runs the installed unit's command line under its Environment= with
PYTHONVERBOSE=1 and says which modules were compiled from source at start.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import NotifySocket, end_processes, linked_deps, stop_agent, wait_until

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "systemd" / "install.sh"
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


def offline_venv(venv: Path, deps: Path, *also: str) -> None:
    """A venv for install.sh to reuse: no pip, and numpy and PyYAML (and the packages `also` names) on its path
    through a .pth."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    (venv / "lib" / PY / "site-packages" / "stad-test-deps.pth").write_text(f"{linked_deps(deps, *also)}\n")


def install(root: Path, wheel: Path, config: Path) -> None:
    res = subprocess.run(["sh", str(INSTALL), "--root", str(root), "--python", sys.executable, "--source", str(wheel),
                          "--pip-args", "--no-deps --no-index", "--config", str(config), "--no-start"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"writing the bytecode for python -OO into {root}/opt/stad-edge/pycache" in res.stdout, res.stdout
    assert "did not compile" not in res.stderr, res.stderr


def unit_command(root: Path) -> tuple[list[str], dict[str, str]]:
    """The installed unit's ExecStart (split as systemd does for a line without quotes) and Environment=,
    /opt/stad-edge and /etc/stad-edge moved into `root`."""
    argv: list[str] = []
    env: dict[str, str] = {}
    moved = lambda s: s.replace("/opt/stad-edge", f"{root}/opt/stad-edge").replace("/etc/stad-edge",
                                                                                   f"{root}/etc/stad-edge")
    for line in (root / "etc/systemd/system/stad-agent.service").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            argv = shlex.split(moved(value))
        elif key == "Environment":
            env.update(word.split("=", 1) for word in moved(value).split())
    assert argv and env.get("PYTHONPYCACHEPREFIX") == f"{root}/opt/stad-edge/pycache", (argv, env)
    return argv, env


def start_and_stop(root: Path, log: Path, until=None) -> tuple[list[str], list[str], str]:
    """The unit's command line from spawn to READY=1 (and then `until()`, when given, is true) and a SIGTERM's clean
    stop; (modules compiled from source, bytecode files read, stderr)."""
    argv, unit_env = unit_command(root)
    state = root / "var/lib/stad-edge"
    state.mkdir(parents=True, exist_ok=True)
    notify = NotifySocket(f"@stad-user19-{uuid.uuid4().hex[:12]}")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "NOTIFY_SOCKET": notify.address,
           **unit_env, "PYTHONVERBOSE": "1"}
    with log.open("w") as err:
        proc = subprocess.Popen(argv, cwd=state, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    try:
        notify.wait_for("READY=1", timeout=180)
        if until is not None:
            wait_until(until, timeout=120, proc=proc)
        stop_agent(proc, timeout=60)
        assert proc.returncode == 0, log.read_text()[-3000:]
    finally:
        end_processes(proc)
        notify.close()
    text = log.read_text()
    said = [line[len("# code object from "):] for line in text.splitlines() if line.startswith("# code object from ")]
    compiled = [s for s in said if not s.startswith("'")]
    read = [s.strip("'") for s in said if s.startswith("'")]
    return compiled, read, text
