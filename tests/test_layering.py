"""The package layering: convert → agent one way, and no import circles inside a package
(counting imports inside functions too: a circle there is a design knot even if it loads)."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def imports(package: str) -> dict[str, set[str]]:
    """module → the modules of the same package it imports (absolute dotted names)."""
    out: dict[str, set[str]] = {}
    for path in (REPO / package).rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        pkg = parts[:-1]
        found = out.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[:len(pkg) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                    names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                else:
                    names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found.update(n for n in names if n.split(".")[0] in ("agent", "convert"))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph or nxt == node:
                continue
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"
    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def test_the_agent_never_imports_the_converter():
    bad = {m: sorted(t for t in ts if t.startswith("convert")) for m, ts in imports("agent").items()}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_no_import_circles_in_the_converter():
    graph = {m: {t for t in ts if t.startswith("convert.")} for m, ts in imports("convert").items()}
    assert cycles(graph) == []


def test_hot_swap_sees_the_pipeline_only_through_its_interface():
    """agent/hotswap.py uses the pipeline only through SwapTarget (no reaching into its chain,
    window or normaliser), and the Pipeline provides every member of it."""
    from agent.hotswap import SwapTarget
    from agent.pipeline import Pipeline

    members = {n for n in vars(SwapTarget) if not n.startswith("_")}
    tree = ast.parse((REPO / "agent" / "hotswap.py").read_text(encoding="utf-8"))
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "pipeline" and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "self"}
    used |= {node.attr for node in ast.walk(tree)          # the constructor's `pipeline` argument
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pipeline"}
    assert used and used <= members, sorted(used - members)
    assert all(callable(getattr(Pipeline, m, None)) for m in members), sorted(members)


def test_no_test_module_imports_another():
    """Shared test helpers live in tests/conftest.py or a helper module (mqtt_broker, payloads,
    restart_helpers, …), never in a test_*.py that another test module imports."""
    found = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name} imports {n}" for n in names if n.split(".")[0].startswith("test_")]
    assert found == []


def test_every_cfg_and_window_parameter_is_annotated():
    """A part says which config it takes (not 'the whole config, whatever it is')."""
    bare = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bare += [f"{path.relative_to(REPO)}:{node.lineno} {node.name}({a.arg})"
                         for a in node.args.args + node.args.kwonlyargs
                         if a.arg in ("cfg", "window") and a.annotation is None]
    assert bare == []
