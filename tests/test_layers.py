"""The package's layers, read from the source with ``ast`` (DESIGN.md, "Layers").

Fails when a capability package (churn, drivers, attribution, forecast, simulate) imports
another capability package, when a module outside ``tracking/`` imports mlflow, when a lower
layer imports a higher one, or when modules import each other in a cycle. Every ``import``
statement counts, including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "snr_models"
CAPABILITIES = {"churn", "drivers", "attribution", "forecast", "simulate"}
# DESIGN.md's layers, bottom up; a package may import only from its own layer or below.
LAYERS = [
    {"errors", "configfile", "_version", "figures", "progress", "threads"},
    {"data"},
    {"metrics"},
    {"features"},
    CAPABILITIES,
    {"plan"},
    {"tracking"},
    {"report"},
    {"jobs"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from snr_models.x import y`` may import the submodule ``y``
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {
    name: {m for m in _imports(path) if m in MODULES and m != name}
    for name, path in MODULES.items()
}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read() -> None:
    # a sanity check of the reader itself: known edges are found
    assert "snr_models.metrics.netrate" in GRAPH["snr_models.metrics.panel"]
    assert "snr_models.tracking" in GRAPH["snr_models.jobs.main"]
    assert all(_area(m) in RANK for m in MODULES if _area(m)), sorted(
        {_area(m) for m in MODULES if _area(m) not in RANK}
    )


def test_no_capability_imports_another() -> None:
    bad = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _area(module) in CAPABILITIES
        and _area(target) in CAPABILITIES
        and _area(target) != _area(module)
    ]
    assert bad == []


def test_only_tracking_imports_mlflow() -> None:
    bad = [
        name
        for name, path in MODULES.items()
        if _area(name) != "tracking"
        and any(m == "mlflow" or m.startswith("mlflow.") for m in _imports(path))
    ]
    assert bad == []


def test_no_import_runs_upward() -> None:
    bad = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _area(module) and _area(target) and RANK[_area(target)] > RANK[_area(module)]
    ]
    assert bad == []


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges into a package's ``__init__`` from its own submodules.

    ``snr_models.metrics.plot`` importing ``snr_models.metrics.spec`` through
    ``from snr_models.metrics.spec import ...`` loads ``snr_models.metrics`` first; that is the
    import system, not a design cycle. What counts is modules importing each other.
    """
    return {
        m: {t for t in targets if not (MODULES[t].name == "__init__.py" and m.startswith(t + "."))}
        for m, targets in graph.items()
    }


def test_no_import_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.GRAPH", _without_packages(GRAPH))
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    # what the test above would report if decompose.py and result.py imported each other
    graph = _without_packages(GRAPH)
    graph["snr_models.metrics.result"] = graph["snr_models.metrics.result"] | {
        "snr_models.metrics.decompose"
    }
    graph["snr_models.metrics.decompose"] = graph["snr_models.metrics.decompose"] | {
        "snr_models.metrics.result"
    }
    monkeypatch.setattr(f"{__name__}.GRAPH", graph)
    assert ["snr_models.metrics.decompose", "snr_models.metrics.result"] in _cycles()
