"""Every test that starts `python -m agent` (or imports it in `python -c`) outside the repository
directory runs this tree's agent.

The virtualenv's editable install points at one checkout; worktrees share that venv. A process
started with another working directory and no PYTHONPATH imported that checkout's agent, not the
tree under test: the restart tests (tests/restart_helpers.py and the ~14 modules using it), the step
back, the memory and two SIGHUP tests ran /work/main's code on a branch — a fix under test was not
tested, and a test of it failed at landing (user4: a new restart test passed on the branch only once
the helper named the tree). `conftest.agent_env()` gives the environment that does.
"""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
AT_ROOT = {"ROOT", "REPO", "str(ROOT)", "str(REPO)"}


def agent_processes(path: Path):
    """(line, cwd, env, enclosing function's source) of each subprocess call that runs the agent."""
    src = path.read_text()
    tree = ast.parse(src)
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = ast.get_source_segment(src, func) or ""
        for node in ast.walk(func):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            head = ast.get_source_segment(src, node.args[0]) or ""
            if not head.startswith("[sys.executable"):
                continue
            if '"-m", "agent"' not in head and "RUN_AND_LIST" not in head:
                continue
            kw = {k.arg: ast.get_source_segment(src, k.value) for k in node.keywords}
            yield node.lineno, kw.get("cwd"), kw.get("env"), body


def test_agent_processes_started_elsewhere_import_this_tree():
    wrong = []
    for path in sorted(TESTS.glob("*.py")):
        for line, cwd, env, body in agent_processes(path):
            if cwd is None or cwd in AT_ROOT:
                continue            # the repository is the working directory: `import agent` finds this tree
            if env is not None and ("agent_env(" in env + body or ("PYTHONPATH" in body and "REPO" in body)):
                continue
            wrong.append(f"{path.name}:{line} (cwd={cwd}, env={env})")
    assert not wrong, "these run whichever agent the venv's editable install points to: " + "; ".join(wrong)
