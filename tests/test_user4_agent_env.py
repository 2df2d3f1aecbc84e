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
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
AT_ROOT = {"ROOT", "REPO", "str(ROOT)", "str(REPO)"}


def agent_processes(path: Path):
    """(line, cwd, env, enclosing function's source) of each subprocess call that runs the agent."""
    src = path.read_text()
    tree = ast.parse(src)
    lines = re.findall(r".*?(?:\r\n|\r|\n)|.+\Z", src, re.S)    # split once: ast.get_source_segment splits per call

    def segment(node: ast.AST) -> str:
        """ast.get_source_segment(src, node), from the lines split once (its offsets count UTF-8 bytes)."""
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        return "".join([lines[first].encode()[node.col_offset:].decode(), *lines[first + 1:last],
                        lines[last].encode()[:node.end_col_offset].decode()])

    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            # only a list literal opening with sys.executable can read "[sys.executable…": the source
            # segment (a split of the whole file per call) is taken of those alone, not of every call
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.List)
                    and node.args[0].elts and _is_sys_executable(node.args[0].elts[0])):
                continue
            head = segment(node.args[0])
            if not head.startswith("[sys.executable"):
                continue
            if '"-m", "agent"' not in head and "RUN_AND_LIST" not in head:
                continue
            kw = {k.arg: segment(k.value) for k in node.keywords}
            yield node.lineno, kw.get("cwd"), kw.get("env"), segment(func)


def _is_sys_executable(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "executable" and \
        isinstance(node.value, ast.Name) and node.value.id == "sys"


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
