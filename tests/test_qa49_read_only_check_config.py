"""check-config refuses exactly what `run` refuses: a path on a read-only file system (qa49).

Since review42 `run` starts degraded when the state directory or a sink's file is on a read-only file system (an SD
card's ext4 remounted read-only on errors) — a gateway that publishes from memory is better than one that is down
until someone comes. check-config still refused the same config (exit 2, `1 problem(s); nothing started`), and a
SIGHUP after an edit said `a restart would refuse it`: three answers to one question. Now check-config says each
read-only path as `degraded:` and `ok — …; run starts degraded on …` (exit 0), a SIGHUP says a restart would take
the file, and a real config mistake beside it is refused by all three, as before.

All real: the agent's commands in a user and mount namespace of our own (`unshare -rm`) with a read-only bind
mount, the kernel's EROFS (skipped where this host allows none).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.cli import EXIT_CONFIG
from read_only_mount import ro_capable, stdin_config  # noqa: F401 — ro_capable: a pytest fixture

REPO = Path(__file__).resolve().parents[1]



def in_namespace(tmp: Path, ro_dir: Path, *commands: str) -> list[subprocess.CompletedProcess]:
    """Each shell command run with `ro_dir` bound read-only over itself, in one namespace of our own; each one's
    result (its stdout and stderr apart, its exit status)."""
    script = f'mount --bind "{ro_dir}" "{ro_dir}" && mount -o remount,bind,ro "{ro_dir}" || exit 90\n'
    for i, command in enumerate(commands):
        script += f'{command} >"out{i}" 2>"err{i}" </dev/null; echo $? >"rc{i}"\n'
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=tmp, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return [subprocess.CompletedProcess(command, int((tmp / f"rc{i}").read_text()), (tmp / f"out{i}").read_text(),
                                        (tmp / f"err{i}").read_text()) for i, command in enumerate(commands)]


def agent(*args: str) -> str:
    return " ".join([f'"{sys.executable}"', "-m", "agent", *args])


def restart_problems(cfg: Path) -> str:
    code = f"from agent.config_watch import restart_problems; print(restart_problems('{cfg}'))"
    return f'"{sys.executable}" -c "{code}"'


def test_a_sink_file_on_a_read_only_mount_is_degraded_for_run_check_config_and_a_sighup(tmp_path, ro_capable):
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = stdin_config(tmp_path, tmp_path / "state", logs / "alerts.jsonl")
    check, run, sighup = in_namespace(tmp_path, logs, agent("check-config", "-c", str(cfg)),
                                      agent("run", "-c", str(cfg), "--max-ticks", "1"), restart_problems(cfg))
    assert run.returncode == 0 and "summary:" in run.stderr, run.stderr
    assert "sinks[0].path:" in run.stderr and "read-only file system" in run.stderr
    # On the base: exit 2, `sinks[0].path: … is on a read-only file system …`, `1 problem(s); nothing started`.
    assert check.returncode == 0, check.stderr
    assert f"{cfg}: degraded: sinks[0].path: {logs} is on a read-only file system" in check.stderr
    assert "nothing started" not in check.stderr
    assert "run starts degraded on the 1 read-only path(s) above" in check.stdout
    assert sighup.returncode == 0 and sighup.stdout.strip() == "[]", sighup      # a restart would take it


def test_a_read_only_state_dir_too_and_a_config_mistake_beside_it_refused_by_both(tmp_path, ro_capable):
    state = tmp_path / "state"
    state.mkdir()
    cfg = stdin_config(tmp_path, state, state / "alerts.jsonl")
    check, = in_namespace(tmp_path, state, agent("check-config", "-c", str(cfg)))
    assert check.returncode == 0, check.stderr
    assert f"{cfg}: degraded: state_dir: {state} is on a read-only file system" in check.stderr
    assert f"{cfg}: degraded: sinks[0].path:" in check.stderr
    assert "run starts degraded on the 2 read-only path(s) above" in check.stdout

    (tmp_path / "a-file").write_text("")
    wrong = stdin_config(tmp_path, state, tmp_path / "a-file" / "alerts.jsonl")    # under a file: a config mistake
    check, run, sighup = in_namespace(tmp_path, state, agent("check-config", "-c", str(wrong)),
                                      agent("run", "-c", str(wrong), "--max-ticks", "1"), restart_problems(wrong))
    for refused in (check, run):
        assert refused.returncode == EXIT_CONFIG, refused.stderr
        assert "2 problem(s); nothing started" in refused.stderr
        assert "state_dir:" in refused.stderr and "read-only file system" in refused.stderr   # said all the same
    assert "a-file" in sighup.stdout and "read-only file system" in sighup.stdout
