"""The package's shape: no import cycles, the library never imports its command line, small modules, a short
``reconstruct``, and operators/ independent of scoreinv."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_RECONSTRUCT_LINES = 60


def modules(package: str) -> dict:
    """{module name: its parsed source} for every .py file of ``package`` (a folder under the repo root)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path, ast.parse(path.read_text()))
    return found


def imports(name: str, tree: ast.AST, known: set, *, is_package: bool) -> set:
    """The modules of ``known`` that module ``name`` imports anywhere (also inside functions)."""
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {target for target in targets if target in known and target != name}


def graph(package: str) -> dict:
    found = modules(package)
    known = set(found)
    return {name: imports(name, tree, known, is_package=path.name == "__init__.py")
            for name, (path, tree) in found.items()}


def cycles(edges: dict) -> list:
    """The strongly connected components with more than one module (Tarjan 1972)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["scoreinv", "operators"])
def test_no_import_cycles(package):
    assert cycles(graph(package)) == []


def test_the_library_never_imports_the_command_line():
    edges = graph("scoreinv")
    offenders = {name: sorted(t for t in targets if t.startswith("scoreinv.cli"))
                 for name, targets in edges.items()
                 if not name.startswith("scoreinv.cli") and name != "scoreinv.__main__"}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_operators_never_import_scoreinv():
    for name, (path, tree) in modules("operators").items():
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "scoreinv" for n in names), path


@pytest.mark.parametrize("package", ["scoreinv", "operators"])
def test_no_module_is_over_the_limit(package):
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path, _ in modules(package).values()}
    assert {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_reconstruct_is_short():
    path, tree = modules("scoreinv")["scoreinv.solve.reconstruct"]
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "reconstruct")
    docstring = function.body[0]
    code_lines = function.end_lineno - docstring.end_lineno
    assert code_lines <= MAX_RECONSTRUCT_LINES
