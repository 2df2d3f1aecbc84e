"""`stad-agent check-config` run as an operator runs it: on the demo config with its bundle swapped for `bundle` (how
the hostile-bundle tests, test_qa37_hostile_manifest and test_qa38_model_size, show a refusal reaches the operator as
run would refuse it — exit 2, no traceback), and on a config a test writes, accepted with its notes (the first-run
tests, test_user10_first_week and test_user21_first_run)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def refused_by_check_config(tmp_path: Path, bundle: Path) -> str:
    """check-config's stdout + stderr, once it has refused the config naming `bundle` (exit 2, no traceback)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text((REPO / "configs" / "demo.yaml").read_text().replace("builtin:demo-corridor", str(bundle)))
    assert str(bundle) in cfg.read_text()
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(cfg)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    return res.stdout + res.stderr


def accepted_by_check_config(tmp_path: Path, cfg: dict) -> str:
    """check-config's stderr (its notes) on `cfg` written as tmp_path/agent.yaml, once it has accepted it (exit 0)."""
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stderr
