"""The package's structure, checked from the source: the compiler's modules import each other
without cycles (function-local imports included, since they only hide a cycle), and the pipeline's
layers point one way: stages, backends and the artifact format never import a tool."""

from __future__ import annotations

import ast
from pathlib import Path

import ronn_aot

PACKAGE = Path(ronn_aot.__file__).resolve().parent
# Layers that the compile runs; tools (tune, bench, demo...) are built on them, never the reverse.
PIPELINE_LAYERS = ("ronn_aot.stages", "ronn_aot.backends", "ronn_aot.artifact")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the ronn_aot modules it imports anywhere in its body (a package's attribute
    `from . import compile` counts as importing the package itself)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("ronn_aot"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if not source.startswith("ronn_aot"):
                    continue
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    deps.add(sub if sub in modules else source)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
        for w in graph[v]:
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


def _is_package_root(name: str) -> bool:
    # `from . import compile` (the public entry point) and `from . import __version__` reach the
    # package itself, whose __init__ imports lazily; the graph below counts submodules.
    return name == "ronn_aot" or name.endswith(".__init__")


def test_no_import_cycles_between_compiler_modules() -> None:
    graph = {k: {d for d in v if not _is_package_root(d)} for k, v in import_graph().items() if not _is_package_root(k)}
    assert cycles(graph) == []


def test_pipeline_layers_never_import_tools() -> None:
    wrong = sorted((m, d) for m, deps in import_graph().items() if m.startswith(PIPELINE_LAYERS)
                   for d in deps if d.startswith("ronn_aot.tools"))
    assert wrong == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
