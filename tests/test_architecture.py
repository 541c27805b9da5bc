"""The shape of the package, held as tests: module and function sizes, import cycles, import cost.

These read the source as text (``ast``); they run nothing of harmscope except the last one,
which imports it in a fresh interpreter. The limits are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "harmscope"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
KNOWN_LONG: set[str] = set()
"""Functions allowed over the limit, by ``path name``: none (any new long function fails)."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function."""
    body = fn.body
    if (
        len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    end = fn.end_lineno or body[-1].lineno
    return end - body[0].lineno + 1


def test_no_module_over_the_line_limit() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in MODULES.values()
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_body_over_the_line_limit() -> None:
    long = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if not is_function or f"{path.relative_to(SRC)} {node.name}" in KNOWN_LONG:
                continue
            if (n := _body_lines(node)) > MAX_FUNCTION_LINES:
                long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n})")
    assert not long, f"function bodies over {MAX_FUNCTION_LINES} lines: {long}"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, deferred ones inside functions included (a cycle through a
    function-level import is still a cycle of the design); ``if TYPE_CHECKING:`` blocks aside."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return found


def _resolve(name: str, importer: str, node: ast.ImportFrom | None) -> list[str]:
    """The harmscope modules an import statement loads."""
    if node is not None and node.level:
        base = importer.split(".")
        if MODULES[importer].name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - node.level + 1]
        name = ".".join([*base, node.module] if node.module else base)
    if not name.startswith("harmscope"):
        return []
    hits = [name] if name in MODULES else []
    if node is not None:
        hits += [f"{name}.{a.name}" for a in node.names if f"{name}.{a.name}" in MODULES]
    return hits


def import_graph() -> dict[str, set[str]]:
    """Module → the harmscope modules it imports (its parent packages excluded)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    deps.update(_resolve(alias.name, name, None))
            else:
                deps.update(_resolve(node.module or "", name, node))
        # a package's __init__ runs before its submodules anyway: importing a parent package
        # is not an edge of a cycle
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("heavy", ["torch", "transformers", "numpy", "sklearn", "fastapi"])
def test_import_harmscope_stays_light(heavy: str) -> None:
    code = f"import sys, json, harmscope; print(json.dumps({heavy!r} in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) is False, f"import harmscope imports {heavy}"
