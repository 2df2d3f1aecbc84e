"""`stad-agent check-config` on the demo config with its bundle swapped for `bundle`: how the hostile-bundle tests
(test_qa37_hostile_manifest, test_qa38_model_size) show a refusal reaches the operator as run would refuse it —
exit 2, no traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
