"""A traffic engineer's first week (user35): what the start and the faults said, checked on the real agent.

A bundle installed into `scoring.models_dir` before the agent's first start — the way a delivery is made — is
taken as decided and never loaded (agent/hotswap.py: it was there before the start); the banner promised `a bundle
delivered into … is shadow-scored, then swapped in` and the agent scored numpy with nothing said. The banner now
names it and the way to take it. Real agent processes (a stdin source that ends at once)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from conftest import DEMO_BUNDLE, NO_DEMO, REPO


def _start(tmp_path) -> str:
    cfg = {"node": {"id": "gw1", "site": "a10"}, "tick_s": 30,
           "sensors": [f"S0{i}_{m}" for i in range(1, 7) for m in ("flow", "occ", "speed")],
           "sources": [{"type": "stdin"}], "warmup": {"ticks": 40},
           "scoring": {"chain": ["numpy"], "models_dir": "models"}, "sinks": [{"type": "terminal"}],
           "state_dir": "state"}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=REPO,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stderr


@NO_DEMO
def test_a_bundle_in_models_dir_at_the_first_start_is_said_not_taken_and_how_to_take_it(tmp_path):
    shutil.copytree(DEMO_BUNDLE, tmp_path / "models" / "a10-v1")
    first = _start(tmp_path)
    assert (f"  model updates: a bundle delivered into {tmp_path / 'models'} is shadow-scored, then swapped in; "
            "a10-v1 already there at this first start is not taken (only a bundle delivered from now on is): "
            "SIGHUP (systemctl reload stad-agent) asks for the newest, or name it in scoring.bundle\n") in first, first
    again = _start(tmp_path)      # a restart: what was there is the last run's decision, not news
    assert f"  model updates: a bundle delivered into {tmp_path / 'models'} is shadow-scored, then swapped in\n" in again, again
