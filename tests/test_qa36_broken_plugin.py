"""qa36: a plugin module that cannot be imported, dropped into its package (agent/sources/<type>.py: "adding a plugin
is adding one such file", agent/plugins.py) — a third party's source whose library is imported at its top and is not
installed here, or a file cut short by a copy.

A config naming it (`find` imports it), or naming any unknown type (`discover` imports every module of the package
to list the types), ends check-config and run alike with a ModuleNotFoundError / SyntaxError traceback, exit 1;
expected, as for any bad `type`: one line with the key path that names the module and why, exit 2, "nothing
started", check-config saying what run says. A real copy of the package with the module added, real processes.
Fails on main and on qa36's branch (agent/plugins.py and typed.py's plugin part are perf72's; reported in qa36's note).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import agent_env

ROOT = Path(__file__).resolve().parent.parent
BROKEN = {"sources/broken.py": "import not_installed_lib_qa36\n", "sinks/cut.py": "def (:\n"}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """A copy of the agent package with a source that imports a library not installed and a sink cut short."""
    where = tmp_path_factory.mktemp("pkg")
    shutil.copytree(ROOT / "agent", where / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in BROKEN.items():
        (where / "agent" / name).write_text(text)
    return where


def said(package: Path, tmp: Path, command: str, source: str, sink: str) -> tuple[int, str]:
    cfg = {"node": {"id": "g", "site": "s"}, "tick_s": 1, "sensors": ["a", "b"], "sources": [{"type": source}],
           "sinks": [{"type": sink, "path": "out.jsonl"} if sink == "jsonl" else {"type": sink}],
           "scoring": {"chain": ["numpy"]}, "state_dir": "state"}
    (tmp / "a.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", command, "-c", "a.yaml"], cwd=tmp, capture_output=True,
                         text=True, timeout=120, env=agent_env(PYTHONPATH=str(package)))   # the copy, not the tree
    return res.returncode, res.stderr


@pytest.mark.parametrize("source, sink, key, module", [
    ("broken", "jsonl", "sources[0].type", "broken"),
    ("stdinx", "jsonl", "sources[0].type", "broken"),       # a typo: the list of types imports every module
    ("stdin", "cut", "sinks[0].type", "cut"),
], ids=["named", "unknown-type", "cut-short"])
def test_a_plugin_module_that_cannot_be_imported_is_a_config_problem_with_its_key_path(package, tmp_path, source,
                                                                                       sink, key, module):
    checked = said(package, tmp_path, "check-config", source, sink)
    ran = said(package, tmp_path, "run", source, sink)
    for code, err in (checked, ran):
        assert "Traceback" not in err, err[-2000:]
        assert code == 2, err[-2000:]
        assert f"a.yaml: {key}: " in err and module in err and "nothing started" in err, err[-2000:]
    assert checked[1] == ran[1]
