"""`check-config --root DIR` with a DIR that is not there (qa49, reading user32's --root).

Every absolute path of the config is read under DIR. A mistyped DIR made every directory the config names one that
"can be created" (the probe walks up to /) and a config with no file to find passed: `ok`, for a staged tree nobody
looked at. Now such a DIR is refused first, exit 2, saying so. The real `stad-agent` on a real config.
"""
from __future__ import annotations

import subprocess
import sys

from agent.cli import EXIT_CONFIG
from conftest import REPO, agent_env


def test_a_root_that_is_no_directory_is_refused_not_ok(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""
sensors: [a, b]
sources: [{{type: stdin}}]
state_dir: /var/lib/stad-edge
sinks: [{{type: jsonl, path: {tmp_path / 'alerts.jsonl'}}}]
""")
    (tmp_path / "a-file").write_text("")
    for root in (tmp_path / "stagin", tmp_path / "a-file"):
        done = subprocess.run([sys.executable, "-m", "agent", "check-config", "--root", str(root), "-c", str(cfg)],
                              cwd=REPO, env=agent_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == EXIT_CONFIG, done.stdout + done.stderr      # on ad79f86d: `ok`, exit 0
        assert f"--root {root}: not a directory here" in done.stderr and "ok" not in done.stdout, done.stderr
    (tmp_path / "staging").mkdir()
    done = subprocess.run([sys.executable, "-m", "agent", "check-config", "--root", str(tmp_path / "staging"), "-c",
                           str(cfg)], cwd=REPO, env=agent_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and ": ok —" in done.stdout, done.stderr
