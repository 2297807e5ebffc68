"""The package's shape, checked from its source: no import cycle, X's kind asked only at the door, modules of a readable size.

The import graph is built with ``ast`` from every module of ``skwvq``,
imports inside functions included (a cycle there fails at run time instead
of import time). Importing ``a.b.c`` also imports the packages ``a.b``; the
top-level package ``skwvq`` is left out, as Python has it loaded before any
of its modules runs, and so are a module's own packages when it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "skwvq"
# The one place that asks what X is (DESIGN.md section 4), and the backends,
# which dispatch on the array types the kernels take.
ALLOWED_TO_ASK = ("skwvq._inputs", "skwvq.backends")
KIND_CHECKS = ("is_tensor", "issparse", "is_dask_collection")
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    """Dotted name of every module of the package, and its file."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """The modules of ``skwvq`` that module ``name`` imports, anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from package import submodule" imports the submodule too.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target.count(".") >= 1:  # the module and its packages, not skwvq
                if target in MODULES:
                    found.add(target)
                target = target.rpartition(".")[0]
    # A module's own packages are being imported when it runs: no edge to them.
    ancestors = {name.rsplit(".", depth)[0] for depth in range(name.count(".") + 1)}
    return found - ancestors


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_has_no_cycle():
    graph = {name: _imported(name, path) for name, path in MODULES.items()}
    assert graph["skwvq.estimator"] >= {
        "skwvq._fit",
        "skwvq._inputs",
    }  # the parser sees
    assert _cycles(graph) == []


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _kind_checks(tree: ast.AST) -> list[int]:
    """Lines that ask what an input is: a kind check called, ``hasattr(X, ...)``, or a backend's name compared."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else getattr(func, "id", "")
            )
            if called in KIND_CHECKS:
                lines.append(node.lineno)
            elif (
                called == "hasattr"
                and node.args
                and getattr(node.args[0], "id", "") == "X"
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and side.attr == "__name__":
                    if getattr(side.value, "id", "") == "nx":
                        lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "name", [name for name in MODULES if not name.startswith(ALLOWED_TO_ASK)]
)
def test_only_the_input_adapter_asks_what_x_is(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    assert _kind_checks(tree) == [], f"{name} asks what its input is"


@pytest.mark.parametrize(
    "source",
    [
        "if sp.issparse(X):\n    pass",
        "flag = is_tensor(a)",
        "if hasattr(X, 'scan'):\n    pass",
        "same = nx.__name__ == 'torch'",
    ],
)
def test_a_kind_check_is_found(source):
    assert _kind_checks(ast.parse(source)) == [1]


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_is_over_450_lines(name):
    n_lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_LINES, f"{name}: {n_lines} lines"
