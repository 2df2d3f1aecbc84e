"""The start banner says where model updates are taken from (review20). A bundle delivered anywhere but
`scoring.models_dir` is never seen, and nothing said so: the banner named the tier, the sources and the
sinks but not the directory watched, and check-config passes a models_dir that does not exist (it may be
made when the first bundle comes). On a fresh gateway `/var/lib/stad-edge/models` does not exist (install.sh
does not make it), and a models_dir with a typo stayed numpy for good without a word. Real agent processes
(a stdin source that ends at once)."""
from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import REPO


def _banner(tmp_path, models_dir: str | None) -> str:
    scoring = {"chain": ["numpy"], **({"models_dir": models_dir} if models_dir else {})}
    cfg = {"node": {"id": "gw1", "site": "plant"}, "sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
           "warmup": {"ticks": 40}, "scoring": scoring, "sinks": [{"type": "terminal"}], "state_dir": "state"}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=REPO,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stderr


def test_the_banner_names_the_models_dir_and_says_when_it_does_not_exist(tmp_path):
    err = _banner(tmp_path, "modles")        # a typo: nothing will ever be delivered there
    assert (f"  model updates: a bundle delivered into {tmp_path / 'modles'} is shadow-scored, then swapped in; "
            "that directory does not exist (yet)") in err, err


def test_an_existing_models_dir_is_named_without_a_warning(tmp_path):
    (tmp_path / "models").mkdir()
    err = _banner(tmp_path, "models")
    assert f"  model updates: a bundle delivered into {tmp_path / 'models'} is shadow-scored, then swapped in\n" in err, err


def test_without_models_dir_the_banner_has_no_such_line(tmp_path):
    err = _banner(tmp_path, None)       # the demo's first screen stays as README shows it
    assert "  source: stdin (JSON lines): each reading's own `ts`, else this host's clock" in err, err
    assert "model updates" not in err, err
